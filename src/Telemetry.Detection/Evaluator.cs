using System.Collections.Immutable;
using System.Globalization;
using System.Runtime.CompilerServices;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;
using Telemetry.Detection.Rules;

namespace Telemetry.Detection;

/// <summary>
/// One timeline of rule evaluation for one vehicle: samples strictly in sample-time order, every rule,
/// and the episodes they hold. The detector runs a live timeline for new data and, when late or
/// re-issued data arrives, a short-lived backfill timeline whose episodes are reported once complete
/// and only for periods no other episode of the rule already covers.
/// </summary>
internal sealed class Evaluator
{
    private const int MaskMinutes = 10;

    private readonly VehicleDetector _owner;
    private readonly DetectionOptions _options;
    private readonly long _hysteresis;
    private readonly long _updateInterval;
    private readonly double _minRpm;
    private readonly double _minCoolant;
    private readonly double _minScrInlet;
    private readonly double _minSinceStart;
    private readonly double _engineOffGap;
    private readonly double _fuelDensity;
    private readonly double _zoneCheckInterval;
    private readonly Slot[] _slots;
    private int _openCount;
    // No open episode can expire before this second (a lower bound: CloseExpired skips the scan until then).
    private long _nextExpiry = long.MinValue;
    private List<AlertChange>? _sink;

    private Sample[]? _evidence;
    private int _evidenceNext;
    private int _evidenceCount;

    private readonly FieldMask[] _minuteMasks = new FieldMask[MaskMinutes];
    private long _maskMinute = long.MinValue;
    private long _lastZoneCheck = long.MinValue;
    private long _lastObdSecond = long.MinValue;

    public Evaluator(VehicleDetector owner, bool backfill)
    {
        _owner = owner;
        _options = owner.Options;
        IsBackfill = backfill;
        _hysteresis = (long)Math.Ceiling(_options.Episodes.HysteresisSeconds);
        _updateInterval = (long)Math.Ceiling(_options.Episodes.UpdateIntervalSeconds);
        var gate = _options.Gate;
        _minRpm = gate.MinEngineSpeedRpm;
        _minCoolant = gate.MinCoolantC;
        _minScrInlet = gate.MinScrInletC;
        _minSinceStart = gate.MinSecondsSinceEngineStart;
        _engineOffGap = gate.EngineOffGapSeconds;
        _fuelDensity = _options.Physics.FuelDensityKgPerL;
        _zoneCheckInterval = _options.Zones.CheckIntervalSeconds;
        Rules = RuleSet.Create(_options);
        _slots = new Slot[Rules.All.Length];
        for (var i = 0; i < _slots.Length; i++)
            _slots[i] = new Slot();
    }

    public bool IsBackfill { get; }
    public RuleSet Rules { get; }

    /// <summary>Newest sample second evaluated, or long.MinValue.</summary>
    public long LastSecond { get; private set; } = long.MinValue;
    /// <summary>Engine running at the newest sample (engine speed, else speed, tells).</summary>
    public bool LastRunning { get; private set; }
    public long EngineStartSecond { get; private set; } = long.MinValue;
    public long LastRunningSecond { get; private set; } = long.MinValue;
    /// <summary>Fields ever reported by this vehicle (R9 invalid-field share counts only these).</summary>
    public FieldMask EverPresent { get; set; }
    public GeoFix? LastFix { get; private set; }
    public ZoneHit? CurrentZone { get; private set; }
    public int OpenCount => _openCount;

    public void Attach(List<AlertChange> sink) => _sink = sink;

    /// <summary>Fields reported within the last ten minutes of sample time.</summary>
    public FieldMask RecentFields
    {
        get
        {
            var m = FieldMask.None;
            foreach (var x in _minuteMasks)
                m |= x;
            return m;
        }
    }

    public long LastObdSecond => _lastObdSecond;

    public bool ObdRecent(long second) => _lastObdSecond != long.MinValue && second - _lastObdSecond <= MaskMinutes * 60;

    public bool IsOpen(int ruleIndex) => _slots[ruleIndex].Alert is not null;

    public Alert? OpenAlert(int ruleIndex) => _slots[ruleIndex].Alert;

    /// <summary>Evaluates one sample; its second must be newer than <see cref="LastSecond"/>.</summary>
    public void OnSample(in Sample s, long second)
    {
        var last = LastSecond;
        var dt = last == long.MinValue ? 1.0 : Math.Min(10.0, second - last);
        var minute = second / 60;
        var present = FieldMasks.Present(s);
        EverPresent |= present & FieldMask.AllSampleFields;
        TrackMask(minute, present);
        PushEvidence(s);

        var rpmKnown = Sample.Has(s.EngineSpeedRpm);
        var running = rpmKnown ? s.EngineSpeedRpm >= _minRpm : Sample.Has(s.SpeedKmh) && s.SpeedKmh > 0;
        if (running)
        {
            if (EngineStartSecond == long.MinValue || LastRunningSecond == long.MinValue || !LastRunning ||
                second - LastRunningSecond > _engineOffGap)
                EngineStartSecond = second;
            LastRunningSecond = second;
        }
        LastRunning = running;
        LastSecond = second;

        var gated = rpmKnown && running &&
                    s.CoolantTempC >= _minCoolant &&
                    s.ScrInletTempC >= _minScrInlet &&
                    second - EngineStartSecond >= _minSinceStart;
        var exhaust = Physics.ExhaustFlowKgph(s.IntakeAirFlowKgph, s.FuelFlowLph, _fuelDensity);
        var refTorque = _owner.Vehicle?.ReferenceTorqueNm is { } rt && rt > 0 ? rt : double.NaN;

        if ((present & FieldMask.Position) != 0)
        {
            LastFix = new GeoFix(s.Longitude, s.Latitude, true);
            if (_owner.Zones is { } zones && (_lastZoneCheck == long.MinValue || second - _lastZoneCheck >= _zoneCheckInterval))
            {
                _lastZoneCheck = second;
                CurrentZone = zones.Find(s.Longitude, s.Latitude, Time.FromSecond(second));
            }
        }

        var c = new SampleContext
        {
            Second = second,
            Minute = minute,
            Dt = dt,
            Present = present,
            Running = running,
            Gated = gated,
            ExhaustKgph = exhaust,
            ReferenceTorqueNm = refTorque,
        };
        Rules.OnSample(s, c, this);

        if (_openCount > 0 && second >= _nextExpiry)
            CloseExpired(second);
    }

    /// <summary>Evaluates one OBD record (its time not older than the previous record's).</summary>
    public void OnObd(ObdSnapshot obd, long second)
    {
        _lastObdSecond = Math.Max(_lastObdSecond, second);
        foreach (var r in Rules.All)
        {
            if (r.Enabled)
                r.OnObd(obd, second, this);
        }
    }

    /// <summary>
    /// Records that <paramref name="rule"/>'s condition holds at <paramref name="second"/>: opens an
    /// episode (starting at <paramref name="startSecond"/>, or now), or extends the open one.
    /// </summary>
    public void Hold(Rule rule, long second, AlertSeverity severity, long startSecond = long.MinValue)
    {
        var slot = _slots[rule.Index];
        if (slot.Alert is null)
        {
            var start = startSecond == long.MinValue ? second : Math.Min(startSecond, second);
            if (IsBackfill && _owner.Ledger.Covers(rule.Index, start, second, _hysteresis))
                return;
            // The rule restarted its per-episode statistics itself, before adding the value that
            // opens the episode (OnEpisodeOpened); resetting here would report them as zero.
            slot.Severity = severity;
            slot.LastHeld = second;
            slot.LastEmitted = second;
            slot.Alert = Build(rule, slot, start, second, revision: 0, previous: null);
            _openCount++;
            _nextExpiry = Math.Min(_nextExpiry, second + _hysteresis);
            _owner.Ledger.Opened(rule.Index, start);
            Emit(new AlertChange(AlertChangeKind.Opened, slot.Alert));
            return;
        }

        if (second > slot.LastHeld)
            slot.LastHeld = second;
        var raised = severity > slot.Severity;
        if (raised)
            slot.Severity = severity;
        if (raised || second - slot.LastEmitted >= _updateInterval)
        {
            slot.LastEmitted = second;
            var a = slot.Alert;
            slot.Alert = Build(rule, slot, Time.ToSecond(a.StartUtc), slot.LastHeld, a.Revision + 1, previous: a);
            Emit(new AlertChange(AlertChangeKind.Updated, slot.Alert));
        }
    }

    /// <summary>Closes every open episode whose condition has not held for the hysteresis period before <paramref name="second"/>.</summary>
    public void CloseExpired(long second)
    {
        if (_openCount == 0 || second < _nextExpiry)
            return;
        var next = long.MaxValue;
        for (var i = 0; i < _slots.Length; i++)
        {
            var slot = _slots[i];
            if (slot.Alert is null)
                continue;
            if (second - slot.LastHeld >= _hysteresis)
                Close(i);
            else
                next = Math.Min(next, slot.LastHeld + _hysteresis);
        }
        _nextExpiry = next;
    }

    /// <summary>Closes every open episode at its last held time plus hysteresis (end of a backfill).</summary>
    public void CloseAll()
    {
        for (var i = 0; i < _slots.Length; i++)
        {
            if (_slots[i].Alert is not null)
                Close(i);
        }
    }

    private void Close(int index)
    {
        var slot = _slots[index];
        var a = slot.Alert!;
        var rule = Rules.All[index];
        var end = slot.LastHeld + _hysteresis;
        var closed = a with
        {
            Status = AlertStatus.Closed,
            LastHeldUtc = Time.FromSecond(slot.LastHeld),
            EndUtc = Time.FromSecond(end),
            Revision = a.Revision + 1,
        };
        slot.Alert = null;
        _openCount--;
        _owner.Ledger.Closed(rule.Index, Time.ToSecond(a.StartUtc), end);
        if (IsBackfill)
        {
            // A backfilled episode is reported once it is complete.
            Emit(new AlertChange(AlertChangeKind.Opened, a with { LastHeldUtc = Time.FromSecond(slot.LastHeld) }), final: true);
        }
        Emit(new AlertChange(AlertChangeKind.Closed, closed), final: true);
    }

    /// <summary>Reports a change; a backfill timeline reports an episode only once it is complete (<paramref name="final"/>).</summary>
    private void Emit(AlertChange change, bool final = false)
    {
        if (IsBackfill && !final)
            return;
        _sink?.Add(change);
    }

    /// <summary>
    /// Builds the open alert of an episode: a new one (with evidence) when <paramref name="previous"/> is null,
    /// else its update, which keeps the id, evidence, and the first position and zone of the episode.
    /// </summary>
    private Alert Build(Rule rule, Slot slot, long start, long lastHeld, int revision, Alert? previous)
    {
        var measured = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        rule.Measure(measured);
        var zone = CurrentZone;
        var severity = slot.Severity;
        if (zone is { Restricted: true } && rule.Id != RuleSet.ZoneRuleId && severity < AlertSeverity.Critical)
            severity++;
        var vehicle = _owner.Vehicle;
        var summary = rule.Describe();
        if (zone is { } z && rule.Id != RuleSet.ZoneRuleId)
        {
            summary = z.Restricted
                ? string.Create(CultureInfo.InvariantCulture, $"{summary} Inside zone {z.Name}{(z.HasRestrictedHours ? " during its restricted hours" : "")}.")
                : string.Create(CultureInfo.InvariantCulture, $"{summary} Inside zone {z.Name}.");
        }
        var startUtc = Time.FromSecond(start);
        return new Alert
        {
            // The id depends only on VIN, rule and start: an update keeps the string it already has.
            Id = previous?.Id ?? Alert.MakeId(_owner.Vin, rule.Id, startUtc),
            RuleId = rule.Id,
            RuleName = rule.Name,
            Severity = severity,
            Status = AlertStatus.Open,
            Vin = _owner.Vin,
            Fleet = vehicle?.Fleet,
            Region = vehicle?.Region,
            Zone = previous is null ? zone?.Name : previous.Zone ?? zone?.Name,
            StartUtc = startUtc,
            LastHeldUtc = Time.FromSecond(lastHeld),
            EndUtc = null,
            Thresholds = rule.Thresholds,
            Measured = measured.ToImmutable(),
            Position = previous is null ? LastFix : previous.Position ?? LastFix,
            Evidence = previous is null ? Evidence() : previous.Evidence,
            Summary = summary,
            Revision = revision,
        };
    }

    private ImmutableArray<Sample> Evidence()
    {
        if (_evidence is null || _evidenceCount == 0)
            return [];
        var b = ImmutableArray.CreateBuilder<Sample>(_evidenceCount);
        var start = (_evidenceNext - _evidenceCount + _evidence.Length) % _evidence.Length;
        for (var i = 0; i < _evidenceCount; i++)
            b.Add(_evidence[(start + i) % _evidence.Length]);
        return b.MoveToImmutable();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PushEvidence(in Sample s)
    {
        var ring = _evidence ??= new Sample[_options.Episodes.EvidenceSamples];
        ring[_evidenceNext] = s;
        _evidenceNext = _evidenceNext + 1 == ring.Length ? 0 : _evidenceNext + 1;
        if (_evidenceCount < ring.Length)
            _evidenceCount++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void TrackMask(long minute, FieldMask present)
    {
        if (minute != _maskMinute)
        {
            if (_maskMinute == long.MinValue || minute - _maskMinute >= MaskMinutes || minute < _maskMinute)
            {
                Array.Clear(_minuteMasks);
            }
            else
            {
                for (var m = _maskMinute + 1; m <= minute; m++)
                    _minuteMasks[m % MaskMinutes] = FieldMask.None;
            }
            _maskMinute = minute;
        }
        _minuteMasks[minute % MaskMinutes] |= present;
    }

    // ---- persistence ----

    public EvaluatorState Capture()
    {
        var bag = new StateBag();
        foreach (var r in Rules.All)
            r.Save(bag);
        var episodes = new List<EpisodeState>();
        for (var i = 0; i < _slots.Length; i++)
        {
            var s = _slots[i];
            if (s.Alert is not null)
                episodes.Add(new EpisodeState(Rules.All[i].Id, s.Alert, s.LastHeld, s.LastEmitted, s.Severity));
        }
        return new EvaluatorState
        {
            LastSecond = LastSecond,
            LastRunning = LastRunning,
            EngineStartSecond = EngineStartSecond,
            LastRunningSecond = LastRunningSecond,
            EverPresent = (int)EverPresent,
            LastFix = LastFix,
            LastObdSecond = _lastObdSecond,
            RuleNumbers = [.. bag.Numbers],
            RuleTexts = [.. bag.Texts],
            Episodes = [.. episodes],
        };
    }

    public void Restore(EvaluatorState state)
    {
        LastSecond = state.LastSecond;
        LastRunning = state.LastRunning;
        EngineStartSecond = state.EngineStartSecond;
        LastRunningSecond = state.LastRunningSecond;
        EverPresent = (FieldMask)state.EverPresent;
        LastFix = state.LastFix;
        _lastObdSecond = state.LastObdSecond;
        var bag = new StateBag();
        bag.Numbers.AddRange(state.RuleNumbers);
        bag.Texts.AddRange(state.RuleTexts);
        foreach (var r in Rules.All)
            r.Load(bag);
        _openCount = 0;
        _nextExpiry = long.MinValue;
        foreach (var slot in _slots)
            slot.Alert = null;
        foreach (var e in state.Episodes)
        {
            var rule = Rules.Find(e.RuleId);
            if (rule is null)
                continue;
            var slot = _slots[rule.Index];
            slot.Alert = e.Alert;
            slot.LastHeld = e.LastHeldSecond;
            slot.LastEmitted = e.LastEmittedSecond;
            slot.Severity = e.Severity;
            _openCount++;
        }
    }

    private sealed class Slot
    {
        public Alert? Alert;
        public long LastHeld;
        public long LastEmitted;
        public AlertSeverity Severity;
    }
}
