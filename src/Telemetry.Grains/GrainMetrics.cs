using System.Diagnostics.Metrics;
using Telemetry.Detection;

namespace Telemetry.Grains;

/// <summary>Counters of the vehicle hot path (meter <c>Telemetry.Grains</c>).</summary>
public sealed class GrainMetrics : IDisposable
{
    /// <summary>Meter name to enable in OpenTelemetry.</summary>
    public const string MeterName = "Telemetry.Grains";

    private readonly Meter _meter;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _late;
    private readonly Counter<long> _tooOld;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _alertChanges;
    private readonly UpDownCounter<long> _openEpisodes;
    private readonly Histogram<double> _alertLatency;
    private readonly Counter<long> _reportHours;
    private readonly Counter<long> _clockAdvanced;
    private readonly Counter<long> _stateReleased;

    public GrainMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _accepted = _meter.CreateCounter<long>("telemetry.samples.accepted", "{sample}", "Samples accepted by vehicle grains (new sample times).");
        _duplicates = _meter.CreateCounter<long>("telemetry.samples.deduplicated", "{sample}", "Samples dropped because their vehicle and sample time were already seen.");
        _late = _meter.CreateCounter<long>("telemetry.samples.late", "{sample}", "Accepted samples older than the vehicle's newest (out of order or re-issued), evaluated on the back-fill timeline.");
        _tooOld = _meter.CreateCounter<long>("telemetry.samples.too_old", "{sample}", "Accepted samples older than the dedup memory: stored but not evaluated by the rules.");
        _rejected = _meter.CreateCounter<long>("telemetry.samples.rejected", "{sample}", "Samples with an implausible time (far future or unset): neither stored nor evaluated.");
        _alertChanges = _meter.CreateCounter<long>("telemetry.alerts.changes", "{change}", "Alert episode changes, by rule and kind.");
        _openEpisodes = _meter.CreateUpDownCounter<long>("telemetry.alerts.open", "{episode}",
            "Alert episodes this silo's grains opened and have not closed since the silo started, by rule.");
        _reportHours = _meter.CreateCounter<long>("telemetry.reports.hours", "{hour}",
            "Vehicle-hours of compliance totals added to the case database (outcome stored), or kept for the next save because the database refused them (outcome failed).");
        _clockAdvanced = _meter.CreateCounter<long>("telemetry.vehicles.clock_advanced", "{vehicle}",
            "Silent vehicles whose clock the silo-wide sweep advanced (offline detection, episodes closing, state saved), one per vehicle and pass.");
        _clockAdvanced.Add(0); // published from the start, so a rate can be taken before the first silent vehicle
        _stateReleased = _meter.CreateCounter<long>("telemetry.vehicles.unsaved_released", "{vehicle}",
            "Vehicles whose unsaved state the grain-state journal cursor stopped waiting for, one per vehicle and sweep pass, by reason (journalFull: the journal was full and the vehicle could not save; " +
            "deferred: its clock call failed while the journal was full or timed out; givenUp: its clock call failed pass after pass). After a crash their frames " +
            "before the cursor are stored but not evaluated again.");
        _alertLatency = _meter.CreateHistogram<double>("telemetry.alerts.latency", "ms",
            "From the sample time of the sample that opened an episode to the moment its grain opened it (terminal, broker and silo delay; re-issued history counts its age).",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000] });
    }

    /// <summary>Records one attempt to store <paramref name="hours"/> vehicle-hours of compliance totals.</summary>
    public void ReportHours(int hours, bool stored) =>
        _reportHours.Add(hours, new KeyValuePair<string, object?>("outcome", stored ? "stored" : "failed"));

    /// <summary>Records that a sweep pass let the grain-state cursor pass <paramref name="vehicles"/> vehicles whose state was unsaved.</summary>
    public void UnsavedReleased(int vehicles, string reason)
    {
        if (vehicles > 0)
            _stateReleased.Add(vehicles, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Records that a sweep pass advanced the clock of <paramref name="vehicles"/> silent vehicles.</summary>
    public void ClockAdvanced(int vehicles)
    {
        if (vehicles > 0)
            _clockAdvanced.Add(vehicles);
    }

    /// <summary>Records what one batch or clock tick did.</summary>
    public void Record(BatchResult result, List<AlertChange> changes)
    {
        if (result.Accepted > 0)
        {
            _accepted.Add(result.Accepted);
        }
        if (result.Duplicates > 0)
        {
            _duplicates.Add(result.Duplicates);
        }
        if (result.Late > 0)
        {
            _late.Add(result.Late);
        }
        if (result.TooOld > 0)
        {
            _tooOld.Add(result.TooOld);
        }
        if (result.Rejected > 0)
        {
            _rejected.Add(result.Rejected);
        }
        foreach (var change in changes)
        {
            var rule = new KeyValuePair<string, object?>("rule", change.Alert.RuleId);
            _alertChanges.Add(1, rule, new("kind", change.Kind.ToString()));
            if (change.Kind == AlertChangeKind.Opened)
            {
                _openEpisodes.Add(1, rule);
                _alertLatency.Record(Math.Max(0, (DateTime.UtcNow - change.Alert.LastHeldUtc).TotalMilliseconds), rule);
            }
            else if (change.Kind == AlertChangeKind.Closed)
            {
                _openEpisodes.Add(-1, rule);
            }
        }
    }

    /// <summary>Reports a gauge of the vehicles heard from recently (<c>telemetry.vehicles.online</c>).</summary>
    public void ObserveVehiclesOnline(Func<long> online) =>
        _meter.CreateObservableGauge("telemetry.vehicles.online", online, "{vehicle}", "Vehicles that sent a frame to this silo in the last 5 minutes.");

    /// <summary>
    /// Reports a gauge of the delay allowed for when advancing silent vehicles' clocks
    /// (<c>telemetry.ingest.delay</c>, see <see cref="IngestDelay"/>): above 0 while ingest is behind.
    /// </summary>
    public void ObserveIngestDelay(Func<double> seconds) =>
        _meter.CreateObservableGauge("telemetry.ingest.delay", seconds, "s",
            "How far behind real time this silo's ingest is (lower quartile of real-time frames' delay, 0 below 5 s); offline detection waits this much longer.");

    public void Dispose() => _meter.Dispose();
}
