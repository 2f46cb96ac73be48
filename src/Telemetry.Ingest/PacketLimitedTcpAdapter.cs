using System.Net;
using System.Net.Sockets;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

namespace Telemetry.Ingest;

/// <summary>
/// The embedded broker's TCP listener. MQTTnet's own listener allocates whatever packet length a client announces
/// (up to 256 MB) before anyone is authenticated; this one hands MQTTnet the same channel over a stream that reads
/// each packet's fixed header as it passes and ends the connection when the announced length exceeds the limit, so
/// the body is never read or allocated.
/// </summary>
/// <remarks>With a <paramref name="certificate"/> the listener speaks TLS: the handshake must finish within
/// <see cref="HandshakeTimeout"/>, a failed one ends the connection (counted through <paramref name="onHandshakeFailed"/>).
/// At most <see cref="MaxConnections"/> connections are open at once: one more is closed as soon as it is accepted
/// (<see cref="OnTooMany"/>), so that terminals cannot take the file descriptors the rest of the silo needs; when
/// the process is out of them anyway, accepting pauses briefly instead of failing in a loop.</remarks>
internal sealed class PacketLimitedTcpAdapter(IPAddress address, int port, int maxPacketBytes, Action onTooLarge,
    System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null, Action? onHandshakeFailed = null) : IMqttServerAdapter
{
    /// <summary>How long accepting pauses when the process has no file descriptor left.</summary>
    public static readonly TimeSpan OutOfFilesPause = TimeSpan.FromMilliseconds(100);

    private int _open;

    /// <summary>Most connections open at once on this listener.</summary>
    public int MaxConnections { get; init; } = int.MaxValue;

    /// <summary>Called for each connection closed because <see cref="MaxConnections"/> were open, or accepting failed for want of files.</summary>
    public Action? OnTooMany { get; init; }

    /// <summary>Connections open on this listener now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Longest a TLS client may take to finish its handshake.</summary>
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Task _accepting = Task.CompletedTask;
    private bool _disposed;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(options.DefaultEndpointOptions.ConnectionBacklog);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        _listener = listener;
        _accepting = Task.Run(() => AcceptAsync(listener, options, logger, _stopping.Token));
        return Task.CompletedTask;
    }

    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        _listener?.Dispose();
        await _accepting;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _stopping.Cancel();
        _listener?.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptAsync(Socket listener, MqttServerOptions options, IMqttNetLogger logger, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TooManyOpenSockets)
            {
                // No file descriptor left (EMFILE/ENFILE): the pending connection stays in the backlog; try again shortly
                // instead of failing in a tight loop.
                OnTooMany?.Invoke();
                try
                {
                    await Task.Delay(OutOfFilesPause, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted; keep listening.
                continue;
            }
            if (Interlocked.Increment(ref _open) > MaxConnections)
            {
                Interlocked.Decrement(ref _open);
                OnTooMany?.Invoke();
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }
            _ = Task.Run(() => HandleAsync(client, options, logger), CancellationToken.None);
        }
    }

    private async Task HandleAsync(Socket socket, MqttServerOptions options, IMqttNetLogger logger)
    {
        try
        {
            socket.NoDelay = true;
            socket.LingerState = new LingerOption(true, 0);
            Stream transport = new NetworkStream(socket, ownsSocket: true);
            if (certificate is not null)
            {
                var tls = new System.Net.Security.SslStream(transport, leaveInnerStreamOpen: false);
                transport = tls;
                using var handshake = new CancellationTokenSource(HandshakeTimeout);
                try
                {
                    await tls.AuthenticateAsServerAsync(new System.Net.Security.SslServerAuthenticationOptions { ServerCertificate = certificate }, handshake.Token);
                }
                catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
                {
                    onHandshakeFailed?.Invoke();
                    await tls.DisposeAsync();
                    return;
                }
            }
            var stream = new PacketSizeGuard(transport, maxPacketBytes, onTooLarge);
            await using (stream)
            {
                var handler = ClientHandler;
                if (handler is null)
                {
                    return;
                }
                var channel = new MqttTcpChannel(stream, socket.LocalEndPoint, socket.RemoteEndPoint, null);
                var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
                using var adapter = new MqttChannelAdapter(channel, formatter, logger);
                adapter.AllowPacketFragmentation = options.DefaultEndpointOptions.AllowPacketFragmentation;
                await handler(adapter);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away; MQTTnet has cleaned up its session.
        }
        finally
        {
            socket.Dispose();
            Interlocked.Decrement(ref _open);
        }
    }
}

/// <summary>
/// Passes a connection's bytes through while following the MQTT framing of what the client sends (fixed header byte,
/// remaining length as a variable byte integer, body): when a packet announces more than the limit, the connection
/// reads as ended from then on, before MQTTnet reads or allocates the body.
/// </summary>
internal sealed class PacketSizeGuard(Stream inner, int maxPacketBytes, Action onTooLarge) : Stream
{
    private MqttFraming _framing;
    private bool _refused;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_refused)
        {
            return 0;
        }
        var read = inner.Read(buffer);
        return Follow(buffer[..read]) ? read : 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_refused)
        {
            return 0;
        }
        var read = await inner.ReadAsync(buffer, cancellationToken);
        return Follow(buffer.Span[..read]) ? read : 0;
    }

    /// <summary>Follows the framing over <paramref name="bytes"/>; false (and from then on) once a packet is too large.</summary>
    private bool Follow(ReadOnlySpan<byte> bytes)
    {
        long publishes = 0;
        if (_framing.Follow(bytes, maxPacketBytes, ref publishes))
        {
            return true;
        }
        _refused = true;
        onTooLarge();
        return false;
    }

    public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);

    public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        inner.WriteAsync(buffer, cancellationToken);

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
