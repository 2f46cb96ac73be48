using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Server;

namespace Telemetry.Ingest;

/// <summary>
/// The MQTTnet broker of a single-machine installation: terminals and the ingest subscriber
/// both connect to it. Sessions persist in memory, so a subscriber that reconnects gets the
/// QoS 1 frames it had not acknowledged.
/// </summary>
public sealed partial class EmbeddedBroker(IOptions<MqttIngestOptions> options, ILogger<EmbeddedBroker> logger) : IHostedService, IDisposable
{
    private MqttServer? _server;

    /// <summary>True once the broker accepts connections.</summary>
    public bool IsStarted => _server?.IsStarted == true;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var address = IPAddress.Parse(settings.Host);
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(address)
            .WithDefaultEndpointPort(settings.Port)
            .WithPersistentSessions()
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        await _server.StartAsync();
        Log.Started(logger, settings.Host, settings.Port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync();
        }
    }

    public void Dispose() => _server?.Dispose();

    private static partial class Log
    {
        [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Embedded MQTT broker listening on {Host}:{Port}")]
        public static partial void Started(ILogger logger, string host, int port);
    }
}
