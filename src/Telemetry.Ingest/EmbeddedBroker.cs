using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Telemetry.Grains;

namespace Telemetry.Ingest;

/// <summary>
/// The MQTTnet broker of a single-machine installation. Terminal messages are taken from the broker
/// itself (publish interception): the broker sends a device its PUBACK only after the
/// <see cref="FramePipeline"/> made the message durable or dead-lettered it, so a QoS 1 publish that
/// was acknowledged is never lost, even when this process is killed. A QoS 0 publish gets the same
/// processing but no acknowledgement, so a device cannot know whether it was kept. Terminal
/// messages are not distributed to subscribers.
/// </summary>
public sealed partial class EmbeddedBroker(IOptions<MqttIngestOptions> options, IServiceProvider services, TelemetryClock clock, ILogger<EmbeddedBroker> logger)
    : IHostedService, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private MqttServer? _server;
    private FramePipeline? _pipeline;

    /// <summary>True once the broker accepts connections.</summary>
    public bool IsStarted => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        _pipeline = (FramePipeline)services.GetService(typeof(FramePipeline))!;
        var address = IPAddress.Parse(settings.Host);
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(address)
            .WithDefaultEndpointPort(settings.Port)
            .WithPersistentSessions()
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.InterceptingPublishAsync += OnPublishAsync;
        await _server.StartAsync();
        Log.Started(logger, settings.Host, settings.Port);
    }

    private async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (!message.Topic.StartsWith(options.Value.TopicPrefix + "/", StringComparison.Ordinal))
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

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
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
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Host}:{Port}; terminal messages are acknowledged once durable")]
        public static partial void Started(ILogger logger, string host, int port);
    }
}
