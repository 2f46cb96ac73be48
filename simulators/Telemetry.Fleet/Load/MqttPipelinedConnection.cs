using System.Net.Sockets;
using System.Text;

namespace Telemetry.Fleet.Load;

/// <summary>
/// A minimal MQTT 3.1.1 publisher over one TCP connection that pipelines QoS 1 publishes: the caller
/// writes many PUBLISH packets into one buffer and sends them in one write, and PUBACKs are counted
/// as they come back, so throughput is bounded by the broker, not by one round trip per frame.
/// Only what a load driver needs: CONNECT (clean session, no keep-alive), PUBLISH at QoS 0 or 1,
/// PUBACK, DISCONNECT.
/// </summary>
public sealed class MqttPipelinedConnection : IAsyncDisposable
{
    private const int IdSpace = 65536;

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly int _qos;
    private readonly int[] _inFlight = new int[IdSpace];
    private readonly int[] _samplesOf = new int[IdSpace];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private int _nextId = 1;
    private int _inFlightCount;
    private long _ackedFrames;
    private long _ackedSamples;
    private long _unexpectedAcks;

    private MqttPipelinedConnection(TcpClient tcp, int qos)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _qos = qos;
        _reader = qos == 1 ? Task.Run(ReadAcksAsync) : Task.CompletedTask;
    }

    /// <summary>QoS 1 publishes written and not yet acknowledged.</summary>
    public int InFlight => Volatile.Read(ref _inFlightCount);

    /// <summary>Publishes the broker acknowledged (QoS 1).</summary>
    public long AckedFrames => Interlocked.Read(ref _ackedFrames);

    /// <summary>Samples in the publishes the broker acknowledged (QoS 1).</summary>
    public long AckedSamples => Interlocked.Read(ref _ackedSamples);

    /// <summary>PUBACKs for a packet id not in flight (should stay 0).</summary>
    public long UnexpectedAcks => Interlocked.Read(ref _unexpectedAcks);

    /// <summary>Why the connection failed, if it did.</summary>
    public Exception? Error { get; private set; }

    /// <summary>
    /// Connects and completes the MQTT handshake, with a user name and password when given (a silo's embedded broker:
    /// <c>@operator</c> and an admin API key); throws when the broker refuses.
    /// </summary>
    public static async Task<MqttPipelinedConnection> ConnectAsync(string host, int port, string clientId, int qos, CancellationToken cancellationToken,
        string? username = null, string? password = null)
    {
        var tcp = new TcpClient { NoDelay = true, SendBufferSize = 1 << 20, ReceiveBufferSize = 1 << 18 };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken);
            var stream = tcp.GetStream();
            await stream.WriteAsync(ConnectPacket(clientId, username, password), cancellationToken);
            var connack = new byte[4];
            await stream.ReadExactlyAsync(connack, cancellationToken);
            if (connack[0] != 0x20 || connack[3] != 0)
                throw new InvalidOperationException($"The broker at {host}:{port} refused the connection (CONNACK {Convert.ToHexString(connack)}"
                    + (connack[3] is 4 or 5 ? ": bad user name or password, or not authorized" : "") + ").");
            return new MqttPipelinedConnection(tcp, qos);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>An MQTT 3.1.1 CONNECT: clean session, no keep-alive, the client id and the optional credentials.</summary>
    internal static byte[] ConnectPacket(string clientId, string? username, string? password)
    {
        var body = new List<byte>();
        void String(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            body.Add((byte)(bytes.Length >> 8));
            body.Add((byte)bytes.Length);
            body.AddRange(bytes);
        }
        var flags = (byte)(0x02 | (username is null ? 0 : 0x80) | (username is null || password is null ? 0 : 0x40));
        body.AddRange("\0\u0004MQTT\u0004"u8.ToArray());
        body.Add(flags);
        body.Add(0);
        body.Add(0);
        String(clientId);
        if (username is not null)
        {
            String(username);
            if (password is not null)
                String(password);
        }
        var packet = new List<byte> { 0x10 };
        var remaining = body.Count;
        do
        {
            var b = (byte)(remaining & 0x7F);
            remaining >>= 7;
            packet.Add(remaining > 0 ? (byte)(b | 0x80) : b);
        }
        while (remaining > 0);
        packet.AddRange(body);
        return [.. packet];
    }

    /// <summary>Bytes a PUBLISH of this topic and payload takes at most.</summary>
    public static int MaxPacketLength(int topicLength, int payloadLength) => 1 + 4 + 2 + topicLength + 2 + payloadLength;

    /// <summary>
    /// Writes one PUBLISH packet into <paramref name="buffer"/> and returns its length; at QoS 1 it
    /// takes a free packet id and counts the publish in flight. Call <see cref="SendAsync"/> to send.
    /// </summary>
    public int WritePublish(Span<byte> buffer, ReadOnlySpan<byte> topic, ReadOnlySpan<byte> payload, int samples)
    {
        var remaining = 2 + topic.Length + (_qos == 1 ? 2 : 0) + payload.Length;
        var n = 0;
        buffer[n++] = (byte)(_qos == 1 ? 0x32 : 0x30);
        var r = remaining;
        do
        {
            var b = (byte)(r & 0x7F);
            r >>= 7;
            buffer[n++] = r > 0 ? (byte)(b | 0x80) : b;
        }
        while (r > 0);
        buffer[n++] = (byte)(topic.Length >> 8);
        buffer[n++] = (byte)topic.Length;
        topic.CopyTo(buffer[n..]);
        n += topic.Length;
        if (_qos == 1)
        {
            var id = TakeId();
            _samplesOf[id] = samples;
            Volatile.Write(ref _inFlight[id], 1);
            Interlocked.Increment(ref _inFlightCount);
            buffer[n++] = (byte)(id >> 8);
            buffer[n++] = (byte)id;
        }
        payload.CopyTo(buffer[n..]);
        return n + payload.Length;
    }

    /// <summary>Sends what <see cref="WritePublish"/> wrote.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> packets, CancellationToken cancellationToken) => _stream.WriteAsync(packets, cancellationToken);

    private int TakeId()
    {
        while (true)
        {
            var id = _nextId;
            _nextId = id == IdSpace - 1 ? 1 : id + 1;
            if (Volatile.Read(ref _inFlight[id]) == 0)
                return id;
        }
    }

    private async Task ReadAcksAsync()
    {
        var buffer = new byte[64 * 1024];
        var start = 0;
        var end = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var read = await _stream.ReadAsync(buffer.AsMemory(end), _stop.Token);
                if (read == 0)
                    throw new IOException("The broker closed the connection.");
                end += read;
                while (TryTakePacket(buffer, ref start, end, out var type, out var body, out var length))
                {
                    if (type == 4 && length >= 2)
                        Acknowledge((buffer[body] << 8) | buffer[body + 1]);
                }
                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            if (!_stop.IsCancellationRequested)
                Error = ex;
        }
    }

    private static bool TryTakePacket(byte[] buffer, ref int start, int end, out int type, out int body, out int length)
    {
        type = 0;
        body = 0;
        length = 0;
        if (end - start < 2)
            return false;
        var multiplier = 1;
        var i = start + 1;
        while (true)
        {
            if (i >= end)
                return false;
            var b = buffer[i++];
            length += (b & 0x7F) * multiplier;
            if ((b & 0x80) == 0)
                break;
            multiplier *= 128;
        }
        if (end - i < length)
            return false;
        type = buffer[start] >> 4;
        body = i;
        start = i + length;
        return true;
    }

    private void Acknowledge(int id)
    {
        if (Interlocked.Exchange(ref _inFlight[id], 0) == 1)
        {
            Interlocked.Add(ref _ackedSamples, _samplesOf[id]);
            Interlocked.Increment(ref _ackedFrames);
            Interlocked.Decrement(ref _inFlightCount);
        }
        else
        {
            Interlocked.Increment(ref _unexpectedAcks);
        }
    }

    /// <summary>Waits until nothing is in flight or <paramref name="timeout"/> passes.</summary>
    public async Task WaitForAcksAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (InFlight > 0 && Error is null && DateTime.UtcNow < deadline)
            await Task.Delay(10, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_tcp.Connected)
                await _stream.WriteAsync(new byte[] { 0xE0, 0x00 });
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            // Already gone.
        }
        await _stop.CancelAsync();
        _tcp.Dispose();
        try
        {
            await _reader;
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }
}
