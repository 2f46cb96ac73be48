using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using StackExchange.Redis;
using Telemetry.Abstractions;
using Telemetry.Grains;

namespace Telemetry.Silo;

/// <summary>
/// The live alert feed of a Redis cluster: every alert change published on this silo goes out on the Redis
/// channel <c>{ClusterId}/{ServiceId}/alert-changes</c>, and every change another silo published comes in
/// to this silo's listeners (the API's live stream, the console). Redis pub/sub is at most once, as the
/// live feed always was: the alert store is the durable record, and a stream client that missed changes
/// reads them from <c>/api/alerts</c>. Counted in <c>telemetry.alerts.feed.relayed{direction=out|in|failed}</c>.
/// </summary>
internal sealed partial class RedisAlertRelay(
    AlertFeed feed,
    IOptions<SiloOptions> options,
    Serializer<AlertChange> serializer,
    IMeterFactory meterFactory,
    ILogger<RedisAlertRelay> logger) : IHostedService, IAsyncDisposable
{
    private const int OriginBytes = 16;
    private readonly byte[] _origin = Guid.NewGuid().ToByteArray();
    private readonly Counter<long> _relayed = meterFactory.Create(GrainMetrics.MeterName)
        .CreateCounter<long>("telemetry.alerts.feed.relayed", "{change}", "Alert changes carried between the silos of a cluster (direction out, in, or failed).");
    private ConnectionMultiplexer? _redis;
    private RedisChannel _channel;

    /// <summary>The channel of this cluster.</summary>
    public static string ChannelName(SiloOptions silo) => $"{silo.ClusterId}/{silo.ServiceId}/alert-changes";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var silo = options.Value;
        var name = ChannelName(silo);
        _redis = await ConnectionMultiplexer.ConnectAsync(ConfigurationOptions.Parse(silo.RedisConnectionString));
        _channel = RedisChannel.Literal(name);
        await _redis.GetSubscriber().SubscribeAsync(_channel, (_, message) => Receive(message));
        feed.RelayTo(Send);
        Log.Started(logger, name);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        feed.RelayTo(static _ => { });
        if (_redis is not null)
            await _redis.GetSubscriber().UnsubscribeAsync(_channel);
    }

    private void Send(AlertChange change)
    {
        try
        {
            var body = serializer.SerializeToArray(change);
            var message = new byte[OriginBytes + body.Length];
            _origin.CopyTo(message, 0);
            body.CopyTo(message, OriginBytes);
            // Fire and forget: a grain never waits for Redis.
            _redis!.GetSubscriber().Publish(_channel, message, CommandFlags.FireAndForget);
            _relayed.Add(1, new KeyValuePair<string, object?>("direction", "out"));
        }
        catch (Exception ex)
        {
            _relayed.Add(1, new KeyValuePair<string, object?>("direction", "failed"));
            Log.SendFailed(logger, change.Alert.Id, ex);
        }
    }

    private void Receive(RedisValue message)
    {
        try
        {
            var bytes = (byte[]?)message ?? [];
            if (bytes.Length <= OriginBytes || bytes.AsSpan(0, OriginBytes).SequenceEqual(_origin))
                return; // this silo's own change, delivered locally already
            feed.DeliverFromPeer(serializer.Deserialize(bytes.AsMemory(OriginBytes)));
            _relayed.Add(1, new KeyValuePair<string, object?>("direction", "in"));
        }
        catch (Exception ex)
        {
            _relayed.Add(1, new KeyValuePair<string, object?>("direction", "failed"));
            Log.ReceiveFailed(logger, ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null)
            await _redis.DisposeAsync();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5201, Level = LogLevel.Information, Message = "Live alert feed shared with the cluster on Redis channel {Channel}")]
        public static partial void Started(ILogger logger, string channel);

        [LoggerMessage(EventId = 5202, Level = LogLevel.Warning, Message = "Relaying alert change {AlertId} to the other silos failed")]
        public static partial void SendFailed(ILogger logger, string alertId, Exception exception);

        [LoggerMessage(EventId = 5203, Level = LogLevel.Warning, Message = "An alert change from another silo could not be read")]
        public static partial void ReceiveFailed(ILogger logger, Exception exception);
    }
}
