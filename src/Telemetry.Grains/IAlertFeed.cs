namespace Telemetry.Grains;

/// <summary>Fans alert changes out to live listeners (console, API stream) in this process.</summary>
public interface IAlertFeed
{
    /// <summary>Publishes one change; never blocks on slow listeners.</summary>
    void Publish(AlertChange change);

    /// <summary>Subscribes until <paramref name="cancellationToken"/> is cancelled.</summary>
    IAsyncEnumerable<AlertChange> SubscribeAsync(CancellationToken cancellationToken);
}
