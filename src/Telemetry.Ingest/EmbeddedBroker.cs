using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Telemetry.Grains;
using Telemetry.Storage.Cases;

namespace Telemetry.Ingest;

/// <summary>
/// The MQTTnet broker of a single-machine installation. Terminal messages are taken from the broker
/// itself (publish interception): the broker sends a device its PUBACK only after the
/// <see cref="FramePipeline"/> made the message durable or dead-lettered it, so a QoS 1 publish that
/// was acknowledged is never lost, even when this process is killed. A QoS 0 publish gets the same
/// processing but no acknowledgement, so a device cannot know whether it was kept. Terminal
/// messages are not distributed to subscribers. Who may connect, publish where, and the broker's limits are
/// <see cref="BrokerAccess"/>'s; packets larger than <see cref="MqttIngestOptions.MaxPacketBytes"/> end the connection.
/// </summary>
public sealed partial class EmbeddedBroker(IOptions<MqttIngestOptions> options, IServiceProvider services, TelemetryClock clock, ILogger<EmbeddedBroker> logger)
    : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private MqttServer? _server;
    private FramePipeline? _pipeline;
    private BrokerAccess? _access;
    private Task _revocations = Task.CompletedTask;
    private long _tooManyLoggedAt;

    /// <summary>How often the broker looks for devices revoked while connected.</summary>
    public static readonly TimeSpan RevocationCheckPeriod = TimeSpan.FromSeconds(10);

    /// <summary>True once the broker accepts connections.</summary>
    public bool IsStarted => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        _pipeline = services.GetRequiredService<FramePipeline>();
        var metrics = services.GetRequiredService<IngestMetrics>();
        _access = new BrokerAccess(settings, services.GetService<DeviceCredentialStore>(), metrics, logger, services.GetService<ApiKeyStore>());
        var address = IPAddress.Parse(settings.Host);
        var serverOptions = new MqttServerOptionsBuilder()
            .WithPersistentSessions()
            .Build();
        // Its own listener: MQTTnet's reads any packet length a client announces; this one stops at MaxPacketBytes.
        // Each listener may hold the whole limit: a terminal uses one or the other.
        var maxConnections = settings.EffectiveMaxConnections();
        var listener = new PacketLimitedTcpAdapter(address, settings.Port, settings.MaxPacketBytes, () => metrics.BrokerRefused("packetTooLarge"))
        {
            MaxConnections = maxConnections,
            OnTooMany = () => TooManyConnections(metrics, maxConnections),
        };
        List<MQTTnet.Server.IMqttServerAdapter> listeners = [listener];
        if (settings.TlsPort != 0)
        {
            listeners.Add(new PacketLimitedTcpAdapter(address, settings.TlsPort, settings.MaxPacketBytes, () => metrics.BrokerRefused("packetTooLarge"),
                settings.LoadCertificate(), () => metrics.BrokerRefused("tlsHandshake"))
            {
                MaxConnections = maxConnections,
                OnTooMany = () => TooManyConnections(metrics, maxConnections),
            });
        }
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, listeners);
        _access.Attach(_server);
        _server.InterceptingPublishAsync += OnPublishAsync;
        await _server.StartAsync();
        _revocations = Task.Run(() => WatchRevocationsAsync(services.GetService<TimeProvider>() ?? TimeProvider.System, _stopping.Token), CancellationToken.None);
        Log.Started(logger, settings.Host, settings.Port, settings.AllowAnonymous ? "anonymous clients allowed" : "devices authenticate with their VIN and secret", maxConnections);
        if (settings.TlsPort != 0)
        {
            Log.TlsStarted(logger, settings.Host, settings.TlsPort);
        }
    }

    /// <summary>A connection closed at the limit: counted each time, logged at most once a minute.</summary>
    private void TooManyConnections(IngestMetrics metrics, int limit)
    {
        metrics.BrokerConnectionRefused("tooManyConnections");
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _tooManyLoggedAt);
        if ((last == 0 || now - last >= 60_000) && Interlocked.CompareExchange(ref _tooManyLoggedAt, now, last) == last)
            Log.TooManyConnections(logger, limit, MqttIngestOptions.Section);
    }

    private async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (!_access!.MayPublish(e))
        {
            return;
        }
        e.ProcessPublish = false;
        var length = message.Payload.Length;
        var kept = (int)Math.Min(length, options.Value.MaxPayloadBytes);
        ReadOnlyMemory<byte> payload = message.Payload.IsSingleSegment && kept == length ? message.Payload.First : System.Buffers.BuffersExtensions.ToArray(message.Payload.Slice(0, kept));
        var outcome = await _pipeline!.ProcessAsync(message.Topic, payload, length, clock.UtcNow, _stopping.Token);
        if (outcome == IngestOutcome.NotStored)
        {
            // Not durable: no PUBACK. Closing the connection makes the device send it again on reconnect.
            e.Response.ReasonCode = MqttPubAckReasonCode.UnspecifiedError;
            e.CloseConnection = true;
        }
    }

    /// <summary>
    /// Every <see cref="RevocationCheckPeriod"/>, closes the connections of devices revoked since the last look (a
    /// minute's overlap covers clocks of other hosts that revoke in a shared PostgreSQL).
    /// </summary>
    private async Task WatchRevocationsAsync(TimeProvider time, CancellationToken cancellationToken)
    {
        var since = clock.UtcNow - TimeSpan.FromMinutes(1);
        using var timer = new PeriodicTimer(RevocationCheckPeriod, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var now = clock.UtcNow;
                try
                {
                    await _access!.CloseRevokedAsync(since, cancellationToken);
                    since = now - TimeSpan.FromMinutes(1);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.RevocationCheckFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _revocations;
        if (_server is not null)
        {
            await _server.StopAsync();
        }
    }

    public void Dispose()
    {
        _server?.Dispose();
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Host}:{Port}; terminal messages are acknowledged once durable; {Access}; at most {MaxConnections} connections")]
        public static partial void Started(ILogger logger, string host, int port, string access, int maxConnections);

        [LoggerMessage(EventId = 2019, Level = LogLevel.Warning, Message = "Embedded MQTT broker: {Limit} connections are open, the most it takes; further ones are closed as they come (raise the process's open-file limit, or {Section}:MaxConnections)")]
        public static partial void TooManyConnections(ILogger logger, int limit, string section);

        [LoggerMessage(EventId = 2017, Level = LogLevel.Information, Message = "Embedded MQTT broker listening for TLS on {Host}:{Port}")]
        public static partial void TlsStarted(ILogger logger, string host, int port);

        [LoggerMessage(EventId = 2016, Level = LogLevel.Warning, Message = "Looking for revoked devices failed; trying again later")]
        public static partial void RevocationCheckFailed(ILogger logger, Exception exception);
    }
}
