namespace Telemetry.Silo;

/// <summary>
/// The vehicles whose clock the sweep could not advance (a grain call failed), retried on the next passes.
/// Such a vehicle may not have saved its state, so while one is outstanding it holds the grain-state cursor
/// (through its <see cref="Grains.VehicleIndex.SaveTag"/>): after a crash the journal must still cover the
/// frames its saved state lacks. A vehicle that
/// still fails after <see cref="MaxPasses"/> passes in a row is given up on (logged as an error), so that one
/// broken grain cannot hold the journal, and so ingest, for good. A call that failed because the journal was
/// full, or that timed out, is retried without holding the cursor: the grain keeps what it could not write, and
/// holding the cursor would keep the journal from freeing the space that the write waits for (a 100,000-truck
/// run held it so until ingest stopped).
/// </summary>
/// <param name="maxPasses">Consecutive failed passes after which a vehicle no longer holds the cursor.</param>
public sealed class SweepFailures(int maxPasses = SweepFailures.DefaultMaxPasses)
{
    /// <summary>The default of <see cref="MaxPasses"/>.</summary>
    public const int DefaultMaxPasses = 10;

    private readonly Dictionary<string, int> _failedPasses = new(StringComparer.Ordinal);
    private readonly HashSet<string> _retryOnly = new(StringComparer.Ordinal);

    /// <summary>Consecutive failed passes after which a vehicle no longer holds the cursor.</summary>
    public int MaxPasses { get; } = maxPasses >= 1 ? maxPasses : throw new ArgumentOutOfRangeException(nameof(maxPasses));

    /// <summary>Vehicles to call again on the next pass, with those the pass chose.</summary>
    public IReadOnlyCollection<string> Retry => [.. _failedPasses.Keys, .. _retryOnly];

    /// <summary>Vehicles whose failure holds the grain-state cursor.</summary>
    public int Holding => _failedPasses.Count;

    /// <summary>True while a vehicle whose clock could not be advanced holds the grain-state cursor.</summary>
    public bool HoldCursor => _failedPasses.Count > 0;

    /// <summary>
    /// Records a pass: <paramref name="called"/> were called, <paramref name="failed"/> of them failed in a way
    /// that may have left their state unsaved, <paramref name="retryOnly"/> failed while the journal was full or
    /// timed out (called again, holding nothing). Returns the vehicles given up on in this pass (failed
    /// <see cref="MaxPasses"/> passes in a row).
    /// </summary>
    public IReadOnlyList<string> Record(IEnumerable<string> called, IReadOnlyCollection<string> failed, IReadOnlyCollection<string>? retryOnly = null)
    {
        ArgumentNullException.ThrowIfNull(called);
        ArgumentNullException.ThrowIfNull(failed);
        retryOnly ??= [];
        foreach (var vin in called)
        {
            if (!failed.Contains(vin))
                _failedPasses.Remove(vin);
            if (!retryOnly.Contains(vin))
                _retryOnly.Remove(vin);
        }

        foreach (var vin in retryOnly)
            _retryOnly.Add(vin);

        var givenUp = new List<string>();
        foreach (var vin in failed)
        {
            var passes = _failedPasses.GetValueOrDefault(vin) + 1;
            if (passes >= MaxPasses)
            {
                _failedPasses.Remove(vin);
                givenUp.Add(vin);
            }
            else
            {
                _failedPasses[vin] = passes;
            }
        }

        return givenUp;
    }
}
