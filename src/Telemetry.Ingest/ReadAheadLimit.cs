using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;

namespace Telemetry.Ingest;

/// <summary>
/// Bounds how far the subscriber reads ahead of processing. MQTTnet's client reads every packet the
/// broker sends into a queue without limit and hands them to the message handler one at a time; a
/// broker that keeps to the MQTT 5 receive maximum never sends more than <c>MaxInFlight</c>
/// unacknowledged messages, but mosquitto 2.0.11 (Debian 12) does not (measured: a subscriber with a
/// receive maximum of 10 that acknowledged after 20 ms held 2,400 messages read and not yet handled;
/// at 100,000 trucks the silo held 1.4 million, 1.9 GB). Counting the PUBLISH packets read from the
/// socket against those taken by the handler, the connection stops reading when <c>limit</c> are
/// waiting; TCP flow control then holds the rest in the broker, which is where a backlog belongs.
/// </summary>
internal sealed class ReadAheadLimit(int limit, Action onPaused)
{
    private static readonly TimeSpan Recheck = TimeSpan.FromSeconds(1);

    private readonly Lock _gate = new();
    private long _read;
    private long _taken;
    private TaskCompletionSource? _resume;

    /// <summary>Messages read from the broker and not yet taken by the handler.</summary>
    public long Waiting => Math.Max(0, Interlocked.Read(ref _read) - Interlocked.Read(ref _taken));

    /// <summary>A new connection: MQTTnet starts it with an empty queue.</summary>
    public void Reset()
    {
        Interlocked.Exchange(ref _read, 0);
        Interlocked.Exchange(ref _taken, 0);
        Resume();
    }

    /// <summary><paramref name="count"/> PUBLISH packets were read from the socket.</summary>
    public void Read(long count) => Interlocked.Add(ref _read, count);

    /// <summary>The handler took one message.</summary>
    public void Taken()
    {
        Interlocked.Increment(ref _taken);
        if (Volatile.Read(ref _resume) is not null && MayRead)
        {
            Resume();
        }
    }

    /// <summary>Reading may go on: fewer than <c>limit</c> messages are waiting.</summary>
    public bool MayRead => Waiting < limit;

    /// <summary>Completes when reading may go on (<see cref="MayRead"/>).</summary>
    public ValueTask WaitAsync(CancellationToken cancellationToken) =>
        MayRead ? default : PauseAsync(cancellationToken);

    private async ValueTask PauseAsync(CancellationToken cancellationToken)
    {
        onPaused();
        while (true)
        {
            Task resumed;
            lock (_gate)
            {
                _resume ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                resumed = _resume.Task;
            }
            // Taken() counts first and then looks for a waiter; this sets the waiter first and then counts.
            Interlocked.MemoryBarrier();
            if (MayRead)
            {
                Resume();
                return;
            }
            try
            {
                await resumed.WaitAsync(Recheck, cancellationToken);
            }
            catch (TimeoutException)
            {
                // Look again; a resume is never missed, this only bounds the cost of a mistake.
            }
        }
    }

    private void Resume()
    {
        TaskCompletionSource? resume;
        lock (_gate)
        {
            resume = _resume;
            _resume = null;
        }
        resume?.TrySetResult();
    }

    /// <summary>MQTTnet's own client adapter over a channel that keeps to this limit.</summary>
    public IMqttClientAdapterFactory AdapterFactory() => new AdapterFactoryImpl(this);

    private sealed class AdapterFactoryImpl(ReadAheadLimit limit) : IMqttClientAdapterFactory
    {
        private readonly MqttClientAdapterFactory _inner = new();

        public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
        {
            ArgumentNullException.ThrowIfNull(options);
            if (options.ChannelOptions is not MqttClientTcpOptions)
            {
                return _inner.CreateClientAdapter(options, packetInspector, logger);
            }
            limit.Reset();
            // What the library's factory builds for TCP (TLS included), over a channel that follows the packets read.
            var channel = new LimitedChannel(new MqttTcpChannel(options), limit);
            var formatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
            return new MqttChannelAdapter(channel, formatter, logger)
            {
                AllowPacketFragmentation = options.AllowPacketFragmentation,
                PacketInspector = packetInspector,
            };
        }
    }

    /// <summary>
    /// The connection's reads, buffered: MQTTnet reads each packet in two to three small reads (the fixed header,
    /// a byte of its length, the body), each of them a system call on the socket; one read of up to
    /// <see cref="BufferBytes"/> here serves many packets of a busy subscription. The PUBLISH packets are counted
    /// as their bytes are handed to MQTTnet, and none is handed while <c>limit</c> are waiting: MQTTnet's queue
    /// stays within the limit, and this buffer holds at most <see cref="BufferBytes"/> more. Writes are gathered
    /// the same way (<see cref="WriteAsync"/>).
    /// </summary>
    private sealed class LimitedChannel(IMqttChannel inner, ReadAheadLimit limit) : IMqttChannel
    {
        private const int BufferBytes = 64 * 1024;
        private const int MaxPendingBytes = 256 * 1024;
        private readonly byte[] _buffer = new byte[BufferBytes];
        private readonly Lock _writeGate = new();
        private ArrayBufferWriter<byte> _pending = new(4096);
        private ArrayBufferWriter<byte> _spare = new(4096);
        private Task _flush = Task.CompletedTask;
        private bool _flushing;
        private Exception? _writeFailure;
        private int _start;
        private int _end;
        private MqttFraming _framing;

        public X509Certificate2 ClientCertificate => inner.ClientCertificate;
        public EndPoint RemoteEndPoint => inner.RemoteEndPoint;
        public EndPoint LocalEndPoint => inner.LocalEndPoint;
        public bool IsSecureConnection => inner.IsSecureConnection;

        public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

        public async Task DisconnectAsync(CancellationToken cancellationToken)
        {
            // The acknowledgements (and the DISCONNECT) written so far go out before the socket closes, unless
            // the caller stops waiting first (a broker that no longer reads).
            try
            {
                await WrittenAsync().WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            await inner.DisconnectAsync(cancellationToken);
        }

        public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            _start < _end && limit.MayRead
                ? Task.FromResult(Take(buffer, offset, count))
                : WaitAndReadAsync(buffer, offset, count, cancellationToken);

        private async Task<int> WaitAndReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            await limit.WaitAsync(cancellationToken);
            if (_start == _end)
            {
                var read = await inner.ReadAsync(_buffer, 0, _buffer.Length, cancellationToken);
                if (read <= 0)
                {
                    return read;
                }
                (_start, _end) = (0, read);
            }
            return Take(buffer, offset, count);
        }

        private int Take(byte[] buffer, int offset, int count)
        {
            var take = Math.Min(count, _end - _start);
            Buffer.BlockCopy(_buffer, _start, buffer, offset, take);
            long publishes = 0;
            _framing.Follow(_buffer.AsSpan(_start, take), long.MaxValue, ref publishes);
            if (publishes > 0)
            {
                limit.Read(publishes);
            }
            _start += take;
            return take;
        }

        /// <summary>
        /// Takes the packet's bytes and returns: a running flush sends them, together with whatever other packets
        /// (mostly PUBACKs, one per message) were written meanwhile, in one write to the socket instead of one each.
        /// Waits only while more than <see cref="MaxPendingBytes"/> are unsent. A failed send fails every later write.
        /// </summary>
        public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (_writeGate)
            {
                if (_writeFailure is { } failure)
                {
                    return Task.FromException(failure);
                }
                foreach (var segment in buffer)
                {
                    _pending.Write(segment.Span);
                }
                if (!_flushing)
                {
                    _flushing = true;
                    _flush = FlushAsync();
                }
                return _pending.WrittenCount > MaxPendingBytes ? _flush : Task.CompletedTask;
            }
        }

        private async Task FlushAsync()
        {
            // Off the writer's thread, so that the packets written meanwhile go in the same send.
            await Task.Yield();
            while (true)
            {
                ArrayBufferWriter<byte> sending;
                lock (_writeGate)
                {
                    if (_pending.WrittenCount == 0)
                    {
                        _flushing = false;
                        return;
                    }
                    (sending, _pending, _spare) = (_pending, _spare, _pending);
                }
                try
                {
                    await inner.WriteAsync(new ReadOnlySequence<byte>(sending.WrittenMemory), true, CancellationToken.None);
                }
                catch (Exception ex)
                {
                    // Seen by the next write; the reads of a broken connection fail too, and MQTTnet reconnects.
                    lock (_writeGate)
                    {
                        _writeFailure = ex;
                        _flushing = false;
                    }
                    return;
                }
                sending.ResetWrittenCount();
            }
        }

        /// <summary>Completes once every byte written so far was sent, or sending failed (the flush never throws).</summary>
        private async Task WrittenAsync()
        {
            while (true)
            {
                Task flush;
                lock (_writeGate)
                {
                    if (!_flushing)
                    {
                        return;
                    }
                    flush = _flush;
                }
                await flush;
            }
        }

        public void Dispose() => inner.Dispose();
    }
}

/// <summary>
/// Follows MQTT framing over a byte stream as it passes: fixed header byte, remaining length (a variable
/// byte integer of at most 4 bytes), body.
/// </summary>
internal struct MqttFraming
{
    private const int PublishType = 3;

    private enum Part : byte { Header, Length, Body }

    private Part _part;
    private int _type;
    private long _length;
    private int _lengthBytes;
    private long _remaining;

    /// <summary>
    /// Follows <paramref name="bytes"/>, adding to <paramref name="publishes"/> each PUBLISH packet whose
    /// header completes in them; false when a packet announces more than <paramref name="maxPacketBytes"/>
    /// (or a malformed length): the stream cannot be followed past it.
    /// </summary>
    public bool Follow(ReadOnlySpan<byte> bytes, long maxPacketBytes, ref long publishes)
    {
        var i = 0;
        while (i < bytes.Length)
        {
            switch (_part)
            {
                case Part.Header:
                    _type = bytes[i++] >> 4;
                    _part = Part.Length;
                    _length = 0;
                    _lengthBytes = 0;
                    break;
                case Part.Length:
                    var b = bytes[i++];
                    _length |= (long)(b & 0x7F) << (7 * _lengthBytes);
                    _lengthBytes++;
                    if ((b & 0x80) != 0 && _lengthBytes < 4)
                    {
                        break;
                    }
                    if ((b & 0x80) != 0 || 1 + _lengthBytes + _length > maxPacketBytes)
                    {
                        return false;
                    }
                    if (_type == PublishType)
                    {
                        publishes++;
                    }
                    _remaining = _length;
                    _part = _remaining == 0 ? Part.Header : Part.Body;
                    break;
                default:
                    var take = (int)Math.Min(_remaining, bytes.Length - i);
                    i += take;
                    _remaining -= take;
                    if (_remaining == 0)
                    {
                        _part = Part.Header;
                    }
                    break;
            }
        }
        return true;
    }
}
