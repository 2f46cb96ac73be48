using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Telemetry.Grains;

/// <summary>
/// In-process fan-out of alert changes. Each listener has a bounded queue; a listener that falls
/// behind loses its oldest changes (counted in <c>telemetry.alerts.feed.dropped</c>), never slows the grains.
/// The durable record is the alert store, not this feed. In a cluster, a relay (<see cref="RelayTo"/>)
/// carries this silo's changes to the other silos, whose changes arrive through <see cref="DeliverFromPeer"/>.
/// </summary>
public sealed class AlertFeed : IAlertFeed, IDisposable
{
    private const int ListenerCapacity = 1024;
    private readonly Lock _gate = new();
    private readonly List<Channel<AlertChange>> _listeners = [];
    private readonly Meter _meter;
    private readonly Counter<long> _dropped;

    public AlertFeed(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(GrainMetrics.MeterName);
        _dropped = _meter.CreateCounter<long>("telemetry.alerts.feed.dropped", "{change}", "Alert changes a slow live listener did not receive.");
    }

    private Action<AlertChange>? _outbound;

    /// <summary>Hands every change published on this silo also to <paramref name="outbound"/> (the cluster relay); it must not block.</summary>
    public void RelayTo(Action<AlertChange> outbound) => _outbound = outbound;

    public void Publish(AlertChange change)
    {
        Deliver(change);
        _outbound?.Invoke(change);
    }

    /// <summary>A change another silo of the cluster published: to this silo's listeners only, not relayed again.</summary>
    public void DeliverFromPeer(AlertChange change) => Deliver(change);

    private void Deliver(AlertChange change)
    {
        lock (_gate)
        {
            foreach (var listener in _listeners)
            {
                if (listener.Reader.Count >= ListenerCapacity)
                {
                    _dropped.Add(1);
                }
                listener.Writer.TryWrite(change);
            }
        }
    }

    public AlertSubscription Subscribe()
    {
        var channel = Channel.CreateBounded<AlertChange>(new BoundedChannelOptions(ListenerCapacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_gate)
        {
            _listeners.Add(channel);
        }
        return new AlertSubscription(channel.Reader, () =>
        {
            lock (_gate)
            {
                _listeners.Remove(channel);
            }
        });
    }

    public async IAsyncEnumerable<AlertChange> SubscribeAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var subscription = Subscribe();
        await foreach (var change in subscription.Reader.ReadAllAsync(cancellationToken))
        {
            yield return change;
        }
    }

    public void Dispose() => _meter.Dispose();
}
