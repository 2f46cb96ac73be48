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
    private readonly double _minRpm;
    private readonly double _minCoolant;
    private readonly double _minScrInlet;
    private readonly double _minSinceStart;
    private readonly double _engineOffGap;
    private readonly double _fuelDensity;
    private readonly double _zoneCheckInterval;

    private EvidenceRing? _evidence;

    private readonly FieldMask[] _minuteMasks = new FieldMask[MaskMinutes];
    private long _maskMinute = long.MinValue;
    private long _lastZoneCheck = long.MinValue;
    private long _lastObdSecond = long.MinValue;

    public Evaluator(VehicleDetector owner, bool backfill)
    {
        _owner = owner;
        _options = owner.Options;
        IsBackfill = backfill;
        var gate = _options.Gate;
        _minRpm = gate.MinEngineSpeedRpm;
        _minCoolant = gate.MinCoolantC;
        _minScrInlet = gate.MinScrInletC;
        _minSinceStart = gate.MinSecondsSinceEngineStart;
        _engineOffGap = gate.EngineOffGapSeconds;
        _fuelDensity = _options.Physics.FuelDensityKgPerL;
        _zoneCheckInterval = _options.Zones.CheckIntervalSeconds;
        Rules = RuleRegistry.Create(_options);
        Episodes = new Episodes(this, owner, Rules.All);
    }

    public bool IsBackfill { get; }
    public RuleRegistry Rules { get; }
    public Episodes Episodes { get; }

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
    public int OpenCount => Episodes.OpenCount;

    public void Attach(List<AlertChange> sink) => Episodes.Attach(sink);

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

    /// <summary>An OBD record came at some time: OBD state is last-known state, valid until the next record.</summary>
    public bool ObdKnown => _lastObdSecond != long.MinValue;

    public bool IsOpen(int ruleIndex) => Episodes.IsOpen(ruleIndex);

    public Alert? OpenAlert(int ruleIndex) => Episodes.OpenAlert(ruleIndex);

    public void Hold(Rule rule, long second, AlertSeverity severity, long startSecond = long.MinValue) => Episodes.Hold(rule, second, severity, startSecond);

    public void CloseExpired(long second) => Episodes.CloseExpired(second);

    public void CloseAll() => Episodes.CloseAll();

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

        var sinceStart = running ? second - EngineStartSecond : 0;
        var warm = rpmKnown && running && s.CoolantTempC >= _minCoolant && sinceStart >= _minSinceStart;
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
            EverPresent = EverPresent,
            Running = running,
            SecondsSinceStart = sinceStart,
            Gated = warm && s.ScrInletTempC >= _minScrInlet,
            GatedButScr = warm,
            ExhaustKgph = Physics.ExhaustFlowKgph(s.IntakeAirFlowKgph, s.FuelFlowLph, _fuelDensity),
            ReferenceTorqueNm = refTorque,
            Zone = CurrentZone,
            ScrEfficiencyLowSecond = long.MinValue,
        };
        Rules.Evaluate(s, ref c, Episodes);
        _owner.Observer?.OnEvaluated(s, running, c.EmissionGated, Rules.MilOn(second));

        if (Episodes.OpenCount > 0)
            Episodes.CloseExpired(second);
    }

    /// <summary>Evaluates one OBD record (its time not older than the previous record's).</summary>
    public void OnObd(ObdSnapshot obd, long second)
    {
        _lastObdSecond = Math.Max(_lastObdSecond, second);
        Rules.EvaluateObd(obd, second, LastRunning && LastSecond != long.MinValue && second - LastSecond <= _engineOffGap, Episodes);
    }

    /// <summary>The samples kept as evidence, oldest first.</summary>
    public ImmutableArray<Sample> Evidence() => _evidence is null ? [] : _evidence.ToImmutableArray();

    private void PushEvidence(in Sample s) => (_evidence ??= new EvidenceRing(_options.Episodes.EvidenceSamples)).Push(s);

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
        var states = new List<RuleStateEntry>();
        foreach (var r in Rules.All)
        {
            if (r.CaptureState() is { } st)
                states.Add(new RuleStateEntry(r.Id, st));
        }
        var (evidence, wholeEvidence) = _evidence?.Export() ?? ([], []);
        return new EvaluatorState
        {
            LastSecond = LastSecond,
            LastRunning = LastRunning,
            EngineStartSecond = EngineStartSecond,
            LastRunningSecond = LastRunningSecond,
            EverPresent = (int)EverPresent,
            LastFix = LastFix,
            LastObdSecond = _lastObdSecond,
            Episodes = Episodes.Capture(),
            RuleStates = [.. states],
            MaskMinute = _maskMinute,
            MinuteMasks = [.. _minuteMasks.Select(m => (int)m)],
            EvidencePacked = evidence,
            EvidenceWhole = wholeEvidence,
        };
    }

    public void Restore(EvaluatorState state, int schemaVersion)
    {
        LastSecond = state.LastSecond;
        LastRunning = state.LastRunning;
        EngineStartSecond = state.EngineStartSecond;
        LastRunningSecond = state.LastRunningSecond;
        EverPresent = (FieldMask)state.EverPresent;
        LastFix = state.LastFix;
        _lastObdSecond = state.LastObdSecond;
        if (schemaVersion < 2)
        {
            StateMigration.LoadV1Rules(Rules, state.RuleNumbers, state.RuleTexts);
        }
        else
        {
            foreach (var r in Rules.All)
                r.RestoreState(Array.Find(state.RuleStates ?? [], e => e.RuleId == r.Id)?.State);
        }
        Episodes.Restore(state.Episodes);
        _evidence = EvidenceRing.Import(_options.Episodes.EvidenceSamples, state.EvidencePacked, state.EvidenceWhole);
        if (state.MinuteMasks is { Length: MaskMinutes } masks)
        {
            for (var i = 0; i < MaskMinutes; i++)
                _minuteMasks[i] = (FieldMask)masks[i];
            _maskMinute = state.MaskMinute;
        }
    }
}
