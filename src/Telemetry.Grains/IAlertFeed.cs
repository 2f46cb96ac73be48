namespace Telemetry.Grains;

/// <summary>Fans alert changes out to live listeners (console, API stream) in this process.</summary>
public interface IAlertFeed
{
    /// <summary>Publishes one change; never blocks on slow listeners.</summary>
    void Publish(AlertChange change);

    /// <summary>Subscribes now; changes published from this call on are delivered until the subscription is disposed.</summary>
    AlertSubscription Subscribe();

    /// <summary>Subscribes until <paramref name="cancellationToken"/> is cancelled.</summary>
    IAsyncEnumerable<AlertChange> SubscribeAsync(CancellationToken cancellationToken);
}

/// <summary>One listener's queue of alert changes; disposing it unsubscribes.</summary>
public sealed class AlertSubscription(System.Threading.Channels.ChannelReader<AlertChange> reader, Action unsubscribe) : IDisposable
{
    /// <summary>The changes, in publication order.</summary>
    public System.Threading.Channels.ChannelReader<AlertChange> Reader { get; } = reader;

    public void Dispose() => unsubscribe();
}
