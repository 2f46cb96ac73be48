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
        var listener = new PacketLimitedTcpAdapter(address, settings.Port, settings.MaxPacketBytes, () => metrics.BrokerRefused("packetTooLarge"));
        List<MQTTnet.Server.IMqttServerAdapter> listeners = [listener];
        if (settings.TlsPort != 0)
        {
            listeners.Add(new PacketLimitedTcpAdapter(address, settings.TlsPort, settings.MaxPacketBytes, () => metrics.BrokerRefused("packetTooLarge"),
                settings.LoadCertificate(), () => metrics.BrokerRefused("tlsHandshake")));
        }
        _server = new MqttServerFactory().CreateMqttServer(serverOptions, listeners);
        _access.Attach(_server);
        _server.InterceptingPublishAsync += OnPublishAsync;
        await _server.StartAsync();
        _revocations = Task.Run(() => WatchRevocationsAsync(services.GetService<TimeProvider>() ?? TimeProvider.System, _stopping.Token), CancellationToken.None);
        Log.Started(logger, settings.Host, settings.Port, settings.AllowAnonymous ? "anonymous clients allowed" : "devices authenticate with their VIN and secret");
        if (settings.TlsPort != 0)
        {
            Log.TlsStarted(logger, settings.Host, settings.TlsPort);
        }
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
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Host}:{Port}; terminal messages are acknowledged once durable; {Access}")]
        public static partial void Started(ILogger logger, string host, int port, string access);

        [LoggerMessage(EventId = 2017, Level = LogLevel.Information, Message = "Embedded MQTT broker listening for TLS on {Host}:{Port}")]
        public static partial void TlsStarted(ILogger logger, string host, int port);

        [LoggerMessage(EventId = 2016, Level = LogLevel.Warning, Message = "Looking for revoked devices failed; trying again later")]
        public static partial void RevocationCheckFailed(ILogger logger, Exception exception);
    }
}
