using Telemetry.Abstractions;
using Telemetry.Detection.Internal;
using Telemetry.Detection.Rules;

namespace Telemetry.Detection;

/// <summary>
/// Runs every detection rule for one vehicle on sample time and turns their conditions into alert
/// episodes. Pure: no I/O, no Orleans runtime, no clock of its own (time comes from samples and
/// <see cref="OnClock"/>). Not thread-safe: one instance belongs to one vehicle grain.
/// </summary>
/// <remarks>
/// Samples are deduplicated by sample second. New samples (newer than any evaluated) run on the live
/// timeline; late ones (out of order, re-issued) run on a separate backfill timeline whose episodes
/// are reported once complete and only where no episode of the same rule already covers the period.
/// So duplicated, reordered or re-issued data never double-counts a second or opens a second
/// episode for a covered period.
/// </remarks>
public sealed class VehicleDetector
{
    private readonly CoveredRanges _covered;
    private readonly long _retentionSeconds;
    private readonly List<Sample> _late = [];
    // Late samples waiting to be evaluated in time order once their backlog is complete.
    private readonly List<Sample> _pending = [];
    private Evaluator _live;
    private Evaluator? _backfill;
    private DateTime _lastArrival;
    private DateTime _backfillArrival;
    private bool _loggedOut;
    private double _cadence;
    private double _lastSpeed = double.NaN;
    private readonly Queue<long> _checkCodeFailures = new();

    /// <summary>Creates the detector of one vehicle.</summary>
    public VehicleDetector(string vin, DetectionOptions options, VehicleInfo? vehicle = null, IZoneIndex? zones = null)
    {
        ArgumentNullException.ThrowIfNull(vin);
        ArgumentNullException.ThrowIfNull(options);
        Vin = vin;
        Options = options;
        Vehicle = vehicle;
        Zones = zones;
        _covered = new CoveredRanges(options.Dedup.MaxRanges);
        _retentionSeconds = (long)(options.Dedup.RetentionHours * 3600);
        _cadence = options.R9.ExpectedCadenceSeconds;
        _live = new Evaluator(this, backfill: false);
        Ledger = new EpisodeLedger(_live.Rules.All.Length);
    }

    /// <summary>The vehicle's VIN.</summary>
    public string Vin { get; }

    /// <summary>Registry data; may change at run time (R2 needs its reference torque; alerts carry fleet and region).</summary>
    public VehicleInfo? Vehicle { get; set; }

    /// <summary>Zones; may be replaced at run time.</summary>
    public IZoneIndex? Zones { get; set; }

    /// <summary>
    /// Told of every sample the rules evaluate, once, in sample-time order per timeline (late samples when their
    /// backlog is evaluated), with what the rules saw: for totals such as <see cref="HourTotalsAccumulator"/>.
    /// </summary>
    public IEvaluatedSampleObserver? Observer { get; set; }

    /// <summary>
    /// How far behind real time the platform's own ingest is, in seconds (a broker backlog, a silo
    /// short of CPU): the clock-skew check compares the terminal's time with the arrival time less
    /// this, so that a backlog is not taken for every terminal's clock running late. 0 by default.
    /// </summary>
    public double IngestDelaySeconds { get; set; }

    internal DetectionOptions Options { get; }

    internal EpisodeLedger Ledger { get; }

    /// <summary>Newest sample time evaluated, or null before any data.</summary>
    public DateTime? LastSampleUtc => _live.LastSecond == long.MinValue ? null : Time.FromSecond(_live.LastSecond);

    /// <summary>Arrival time of the newest frame, or null before any frame.</summary>
    public DateTime? LastArrivalUtc => _lastArrival == default ? null : _lastArrival;

    /// <summary>Open episodes of the live timeline.</summary>
    public IReadOnlyList<Alert> OpenAlerts
    {
        get
        {
            var list = new List<Alert>();
            foreach (var r in _live.Rules.All)
            {
                if (_live.OpenAlert(r.Index) is { } a)
                    list.Add(a);
            }
            return list;
        }
    }

    /// <summary>
    /// True while time passing without data matters to this vehicle: the engine was running at the
    /// last frame (a silence would be an offline terminal), an episode is open (it may close), or
    /// late data waits to be completed. A parked, quiet vehicle needs no clock.
    /// </summary>
    public bool NeedsClock
    {
        get
        {
            if (_backfill is not null || _pending.Count > 0 || (_live.LastRunning && !_loggedOut))
                return true;
            foreach (var r in _live.Rules.All)
            {
                if (_live.IsOpen(r.Index))
                    return true;
            }
            return false;
        }
    }

    /// <summary>Number of disjoint covered time ranges held for deduplication (memory use indicator).</summary>
    public int CoveredRangeCount => _covered.Count;

    /// <summary>
    /// Evaluates one frame's worth of data. Samples already seen (same sample second) are dropped and
    /// counted; new ones are appended to <paramref name="accepted"/> for storage; episode changes to
    /// <paramref name="changes"/>.
    /// </summary>
    public BatchResult OnBatch(TelemetryBatch batch, List<AlertChange> changes, List<Sample> accepted)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(changes);
        ArgumentNullException.ThrowIfNull(accepted);
        _live.Attach(changes);

        var samples = batch.Samples.IsDefault ? [] : batch.Samples.AsSpan();
        var arrival = batch.ReceivedUtc != default ? batch.ReceivedUtc : NewestTime(samples, batch.FrameTimeUtc);
        var arrivalSecond = Time.ToSecond(arrival);
        var maxFuture = (long)Options.Dedup.MaxFutureSeconds;
        var hasReceived = batch.ReceivedUtc != default;
        var reissue = batch.IsReissue;

        Sample[]? sorted = null;
        if (!IsSorted(samples))
        {
            sorted = samples.ToArray();
            Array.Sort(sorted, static (a, b) => a.TimeUtc.CompareTo(b.TimeUtc));
            samples = sorted;
        }

        var obd = batch.Obd.IsDefault ? [] : batch.Obd.AsSpan();
        if (obd.Length > 1)
        {
            var o = obd.ToArray();
            Array.Sort(o, static (a, b) => a.TimeUtc.CompareTo(b.TimeUtc));
            obd = o;
        }
        var obdIndex = 0;

        int acceptedCount = 0, duplicates = 0, late = 0, reissued = 0, tooOld = 0, rejected = 0;
        var newest = long.MinValue;
        // Accepted samples are stored in runs: each run of consecutive accepted samples is copied at once.
        var runStart = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            ref readonly var s = ref samples[i];
            if (s.TimeUtc == default)
            {
                rejected++;
                accepted.AddRange(samples[runStart..i]);
                runStart = i + 1;
                continue;
            }
            var second = Time.ToSecond(s.TimeUtc);
            if (hasReceived && second > arrivalSecond + maxFuture)
            {
                rejected++;
                accepted.AddRange(samples[runStart..i]);
                runStart = i + 1;
                continue;
            }
            if (second < _covered.ForgottenBefore)
            {
                // Older than the dedup memory: storage overwrites by time, so store it, but do not evaluate.
                acceptedCount++;
                tooOld++;
                continue;
            }
            if (!_covered.TryAdd(second))
            {
                duplicates++;
                accepted.AddRange(samples[runStart..i]);
                runStart = i + 1;
                continue;
            }
            acceptedCount++;
            if (reissue)
                reissued++;
            if (second > newest)
                newest = second;
            if (second > _live.LastSecond)
            {
                // OBD records of earlier seconds first; a record of this second after its sample, so that
                // the record is judged with the engine state of its own second.
                while (obdIndex < obd.Length && Time.ToSecond(obd[obdIndex].TimeUtc) < second)
                    LiveObd(obd[obdIndex++]);
                _live.OnSample(s, second);
                _lastSpeed = s.SpeedKmh;
            }
            else
            {
                late++;
                _late.Add(s);
            }
        }
        accepted.AddRange(samples[runStart..]);
        while (obdIndex < obd.Length)
            LiveObd(obd[obdIndex++]);

        if (_late.Count > 0)
            ProcessLate(changes, arrival);
        if (late > 0 || reissue)
            CloseBackfilledOffline();

        switch (batch.Kind)
        {
            case FrameKind.Logout:
                _loggedOut = true;
                break;
            case FrameKind.Login:
                _loggedOut = false;
                break;
            case FrameKind.RealTime when samples.Length > 0:
                _loggedOut = false;
                _cadence = samples.Length;
                if (hasReceived && newest != long.MinValue)
                    CheckClock(newest, arrivalSecond);
                break;
            case FrameKind.RemovalAlarm:
                OnRemovalAlarm(batch);
                break;
            default:
                break;
        }

        if (arrival > _lastArrival)
            _lastArrival = arrival;
        if (_covered.Newest != long.MinValue)
        {
            var horizon = _covered.Newest - _retentionSeconds;
            if (_covered.Count > 1 || _covered.ForgottenBefore < horizon - 3600)
                _covered.Prune(horizon);
        }
        return new BatchResult(acceptedCount, duplicates, late, reissued, tooOld, rejected);
    }

    /// <summary>
    /// Advances time without data: raises R9 offline when the terminal went silent while the engine
    /// was running (not after engine off or logout), closes episodes whose hysteresis ran out, and
    /// completes episodes found in late data once no more late data arrives.
    /// </summary>
    /// <param name="nowUtc">The current time on the same clock as <see cref="TelemetryBatch.ReceivedUtc"/>.</param>
    /// <param name="changes">Receives episode changes.</param>
    public void OnClock(DateTime nowUtc, List<AlertChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        if (_live.LastSecond == long.MinValue || _lastArrival == default)
            return;
        _live.Attach(changes);
        var silence = Math.Max(0, (nowUtc - _lastArrival).TotalSeconds);
        // The vehicle's sample clock now, estimated from arrival time (robust to a skewed terminal clock).
        var estimated = _live.LastSecond + (long)silence;
        var threshold = Math.Max(Options.R9.OfflineCadenceFactor * _cadence, Options.R9.OfflineMinSilenceSeconds);
        if (silence > threshold)
        {
            var offline = _live.Rules.Offline;
            if (offline.Enabled && _live.LastRunning && !_loggedOut)
            {
                offline.Values["silenceSeconds"] = Math.Round(silence);
                offline.Values["expectedCadenceSeconds"] = _cadence;
                offline.Values["lastSpeedKmh"] = double.IsNaN(_lastSpeed) ? 0 : Math.Round(_lastSpeed, 1);
                _live.Hold(offline, estimated, offline.Severity, _live.LastSecond + 1);
            }
            _live.CloseExpired(estimated);
        }
        if ((_backfill is not null || _pending.Count > 0) && (nowUtc - _backfillArrival).TotalSeconds >= Options.Dedup.BackfillIdleSeconds)
        {
            RunBackfill(changes);
            FlushBackfill(changes);
        }
    }

    /// <summary>
    /// Counts a frame of this vehicle that failed its check code (the codec rejected it); enough of them
    /// within the window raise R9 check-code.
    /// </summary>
    public void OnCheckCodeFailure(DateTime receivedUtc, List<AlertChange> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var q = Options.R9;
        var rule = _live.Rules.CheckCode;
        var arrival = Time.ToSecond(receivedUtc);
        var estimated = EstimatedSampleSecond(receivedUtc);
        // A corrupted frame is still a frame: the terminal is not silent.
        if (receivedUtc > _lastArrival)
            _lastArrival = receivedUtc;
        _checkCodeFailures.Enqueue(arrival);
        var window = (long)(q.CheckCodeWindowMinutes * 60);
        while (_checkCodeFailures.Count > 0 && _checkCodeFailures.Peek() <= arrival - window)
            _checkCodeFailures.Dequeue();
        while (_checkCodeFailures.Count > Math.Max(q.MinCheckCodeFailures, 1) * 4)
            _checkCodeFailures.Dequeue();
        if (!rule.Enabled || _checkCodeFailures.Count < q.MinCheckCodeFailures)
            return;
        _live.Attach(changes);
        rule.Values["checkCodeFailures"] = _checkCodeFailures.Count;
        _live.Hold(rule, estimated, rule.Severity);
    }

    /// <summary>Whether each rule runs for this vehicle; a silent rule names the inputs it lacks.</summary>
    public IReadOnlyList<RuleStatus> RuleStatuses
    {
        get
        {
            var last = _live.LastSecond;
            var available = _live.RecentFields;
            if (_live.ObdKnown)
                available |= FieldMask.Obd;
            if (Vehicle?.ReferenceTorqueNm is > 0)
                available |= FieldMask.ReferenceTorque;
            var result = new List<RuleStatus>(_live.Rules.All.Length);
            foreach (var r in _live.Rules.All)
            {
                var missing = r.Needs & ~available;
                string? note = null;
                if (!r.Enabled)
                    note = "disabled in configuration";
                else if (last == long.MinValue)
                    note = "no data yet";
                else if (r.Id == RuleRegistry.ZoneRuleId && Zones is null)
                    note = "no zones configured";
                var active = r.Enabled && last != long.MinValue && missing == FieldMask.None && note is null;
                result.Add(new RuleStatus(r.Id, r.Name, active, FieldMasks.Names(missing), _live.IsOpen(r.Index), note));
            }
            return result;
        }
    }

    /// <summary>Snapshot of the state to persist (dedup memory, open episodes, rule windows, offline facts).</summary>
    public DetectorState Capture() => new()
    {
        Version = DetectorState.CurrentVersion,
        Vin = Vin,
        Covered = _covered.Export(),
        ForgottenBefore = _covered.ForgottenBefore,
        Live = _live.Capture(),
        Backfill = _backfill?.Capture(),
        Ledger = Ledger.Export(),
        LedgerRules = [.. _live.Rules.All.Select(r => r.Id)],
        PendingLate = [.. _pending],
        LastArrivalUtc = _lastArrival,
        BackfillArrivalUtc = _backfillArrival,
        LoggedOut = _loggedOut,
        CadenceSeconds = _cadence,
        LastSpeedKmh = _lastSpeed,
        CheckCodeFailures = [.. _checkCodeFailures],
    };

    /// <summary>Continues from a persisted state (after a restart or reactivation).</summary>
    public void Restore(DetectorState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _covered.Import(state.Covered, state.ForgottenBefore);
        _live = new Evaluator(this, backfill: false);
        if (state.Live is not null)
            _live.Restore(state.Live, state.Version);
        _backfill = null;
        if (state.Backfill is not null)
        {
            _backfill = new Evaluator(this, backfill: true);
            _backfill.Restore(state.Backfill, state.Version);
        }
        var ids = state.Version < 2 || state.LedgerRules is not { Length: > 0 } ? StateMigration.V1Order : state.LedgerRules;
        Ledger.Import(state.Ledger, [.. ids.Select(id => _live.Rules.Find(id)?.Index ?? -1)]);
        _pending.Clear();
        _pending.AddRange(state.PendingLate ?? []);
        _lastArrival = state.LastArrivalUtc;
        _backfillArrival = state.BackfillArrivalUtc;
        _loggedOut = state.LoggedOut;
        _cadence = state.CadenceSeconds > 0 ? state.CadenceSeconds : Options.R9.ExpectedCadenceSeconds;
        _lastSpeed = state.LastSpeedKmh;
        _checkCodeFailures.Clear();
        foreach (var s in state.CheckCodeFailures)
            _checkCodeFailures.Enqueue(s);
    }

    private void LiveObd(ObdSnapshot obd)
    {
        var second = Time.ToSecond(obd.TimeUtc);
        // OBD rules compare each record with the previous one: an older record than the newest seen is not evaluated.
        if (second >= _live.LastObdSecond)
            _live.OnObd(obd, second);
    }

    /// <summary>
    /// Late samples wait until their backlog is complete (no late data for
    /// <c>Dedup:BackfillIdleSeconds</c> of arrival time) and are then evaluated in time order, so a
    /// backlog re-issued newest first gives the episodes of the same backlog in time order. A very
    /// long backlog is evaluated in parts of <see cref="MaxPendingLate"/> samples.
    /// </summary>
    private void ProcessLate(List<AlertChange> changes, DateTime arrival)
    {
        _pending.AddRange(_late);
        _late.Clear();
        _backfillArrival = arrival;
        if (_pending.Count >= MaxPendingLate)
            RunBackfill(changes);
    }

    /// <summary>Late samples held for time-order evaluation at most (six hours of 1 Hz data).</summary>
    internal const int MaxPendingLate = 21_600;

    private void RunBackfill(List<AlertChange> changes)
    {
        if (_pending.Count == 0)
            return;
        if (_pending.Count > 1)
            _pending.Sort(static (a, b) => a.TimeUtc.CompareTo(b.TimeUtc));
        foreach (var s in _pending)
        {
            var second = Time.ToSecond(s.TimeUtc);
            if (_backfill is not null && second <= _backfill.LastSecond)
                FlushBackfill(changes);
            _backfill ??= new Evaluator(this, backfill: true) { EverPresent = _live.EverPresent };
            _backfill.Attach(changes);
            _backfill.OnSample(s, second);
        }
        _pending.Clear();
    }

    /// <summary>
    /// An offline episode whose gap re-issued data has now filled completely was a gap in delivery,
    /// not a silent terminal: it closes as back-filled, with low severity.
    /// </summary>
    private void CloseBackfilledOffline()
    {
        var offline = _live.Rules.Offline;
        if (_live.OpenAlert(offline.Index) is not { } a)
            return;
        var start = Time.ToSecond(a.StartUtc);
        if (_live.LastSecond > start && _covered.CoversAll(start, _live.LastSecond))
            _live.Episodes.CloseBackfilled(offline.Index, AlertSeverity.Advisory);
    }

    private void FlushBackfill(List<AlertChange> changes)
    {
        if (_backfill is null)
            return;
        _backfill.Attach(changes);
        _backfill.CloseAll();
        _backfill = null;
    }

    private void CheckClock(long newestSecond, long arrivalSecond)
    {
        var skew = newestSecond - (arrivalSecond - (long)IngestDelaySeconds);
        var rule = _live.Rules.Clock;
        if (!rule.Enabled || Math.Abs(skew) <= Options.R9.MaxClockSkewSeconds)
            return;
        rule.Values["clockSkewSeconds"] = skew;
        _live.Hold(rule, Math.Max(newestSecond, _live.LastSecond), rule.Severity);
    }

    private void OnRemovalAlarm(TelemetryBatch batch)
    {
        var rule = _live.Rules.Removal;
        if (!rule.Enabled)
            return;
        if (batch.AlarmPosition is { Valid: true } p)
        {
            rule.Values["alarmLongitude"] = p.Longitude;
            rule.Values["alarmLatitude"] = p.Latitude;
        }
        var second = batch.FrameTimeUtc != default ? Time.ToSecond(batch.FrameTimeUtc) : EstimatedSampleSecond(batch.ReceivedUtc);
        _live.Hold(rule, second, rule.Severity);
    }

    private long EstimatedSampleSecond(DateTime arrivalUtc)
    {
        if (_live.LastSecond == long.MinValue || _lastArrival == default)
            return Time.ToSecond(arrivalUtc);
        return _live.LastSecond + (long)Math.Max(0, (arrivalUtc - _lastArrival).TotalSeconds);
    }

    /// <summary>The newest sample time among <paramref name="samples"/>, or <paramref name="fallback"/> when it is newer (or there are none).</summary>
    public static DateTime NewestTime(ReadOnlySpan<Sample> samples, DateTime fallback)
    {
        var t = fallback;
        foreach (ref readonly var s in samples)
        {
            if (s.TimeUtc > t)
                t = s.TimeUtc;
        }
        return t;
    }

    private static bool IsSorted(ReadOnlySpan<Sample> samples)
    {
        for (var i = 1; i < samples.Length; i++)
        {
            if (samples[i].TimeUtc < samples[i - 1].TimeUtc)
                return false;
        }
        return true;
    }
}
