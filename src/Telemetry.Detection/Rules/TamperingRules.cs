using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>R4: reagent level frozen while fuel burns and R3 holds, rising while driving, or empty while driving.</summary>
internal sealed class UreaTamperingRule : Rule
{
    private const int Frozen = 1;
    private const int Rising = 2;
    private const int Empty = 3;

    private readonly UreaOptions _o;
    private readonly ScrEfficiencyRule _r3;
    private readonly long _r3HoldSeconds;
    private double _refLevel = double.NaN;
    private double _fuelSinceChange;
    private double _minMoving = double.NaN;
    private double _stoppedSeconds;
    private double _emptySeconds;
    private double _level = double.NaN;
    private int _reason;

    public UreaTamperingRule(UreaOptions o, ScrEfficiencyRule r3, EpisodeOptions episodes)
        : base("R4", "Urea tampering", FieldMask.ReagentLevelPercent | FieldMask.SpeedKmh | FieldMask.FuelFlowLph, AlertSeverity.Critical)
    {
        _o = o;
        _r3 = r3;
        _r3HoldSeconds = (long)episodes.HysteresisSeconds;
        Thresholds = Dict(("unchangedLevelPercent", o.UnchangedLevelPercent), ("minFuelBurnedL", o.MinFuelBurnedL), ("risePercent", o.RisePercent),
            ("refillStopSeconds", o.RefillStopSeconds), ("emptyLevelPercent", o.EmptyLevelPercent), ("emptyMinSeconds", o.EmptyMinSeconds),
            ("movingSpeedKmh", o.MovingSpeedKmh));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        var level = s.ReagentLevelPercent;
        if (double.IsNaN(level))
            return;
        _level = level;
        var reason = 0;

        // (a) level unchanged while fuel burns and the SCR does not convert (R3 holds).
        var fuel = s.FuelFlowLph;
        if (Sample.Has(fuel))
        {
            if (double.IsNaN(_refLevel) || Math.Abs(level - _refLevel) >= _o.UnchangedLevelPercent)
            {
                _refLevel = level;
                _fuelSinceChange = 0;
            }
            else
            {
                _fuelSinceChange += fuel * c.Dt / 3600.0;
            }
            if (_fuelSinceChange > _o.MinFuelBurnedL && _r3.LastHeldSecond != long.MinValue && c.Second - _r3.LastHeldSecond <= _r3HoldSeconds)
                reason = Frozen;
        }

        var speed = s.SpeedKmh;
        if (Sample.Has(speed))
        {
            // (b) level rising while driving: a refill needs a stop.
            if (speed < 1)
            {
                _stoppedSeconds += c.Dt;
                if (_stoppedSeconds >= _o.RefillStopSeconds)
                    _minMoving = double.NaN;
            }
            else
            {
                _stoppedSeconds = 0;
            }
            if (speed > _o.MovingSpeedKmh)
            {
                _minMoving = double.IsNaN(_minMoving) ? level : Math.Min(_minMoving, level);
                if (level - _minMoving >= _o.RisePercent)
                    reason = Rising;

                // (c) empty tank while driving.
                _emptySeconds = level <= _o.EmptyLevelPercent ? _emptySeconds + c.Dt : 0;
                if (_emptySeconds >= _o.EmptyMinSeconds)
                    reason = Empty;
            }
        }

        if (reason != 0)
        {
            _reason = reason;
            e.Hold(this, c.Second, Severity);
        }
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["reagentLevelPercent"] = _level;
        m["reason"] = _reason;
        if (_reason == Frozen)
            m["fuelBurnedWithUnchangedLevelL"] = Math.Round(_fuelSinceChange, 2);
        if (_reason == Rising)
            m["riseWhileDrivingPercent"] = Math.Round(_level - _minMoving, 2);
        if (_reason == Empty)
            m["emptyDrivingSeconds"] = _emptySeconds;
    }

    public override string Describe() => _reason switch
    {
        Frozen => string.Create(CultureInfo.InvariantCulture, $"Urea level stayed at {_level:F1} % while {_fuelSinceChange:F0} L of fuel burned (more than {_o.MinFuelBurnedL:F0} L) and the SCR efficiency was low."),
        Rising => string.Create(CultureInfo.InvariantCulture, $"Urea level rose by {_level - _minMoving:F1} % while driving without a refill stop (at least {_o.RisePercent:F1} %)."),
        _ => string.Create(CultureInfo.InvariantCulture, $"Urea tank at {_level:F1} % while driving for {_emptySeconds:F0} s."),
    };

    public override void Save(StateBag bag)
    {
        bag.Put(_refLevel);
        bag.Put(_fuelSinceChange);
        bag.Put(_minMoving);
        bag.Put(_stoppedSeconds);
        bag.Put(_emptySeconds);
    }

    public override void Load(StateBag bag)
    {
        _refLevel = bag.Number();
        _fuelSinceChange = Zero(bag.Number());
        _minMoving = bag.Number();
        _stoppedSeconds = Zero(bag.Number());
        _emptySeconds = Zero(bag.Number());
    }

    private static double Zero(double v) => double.IsNaN(v) ? 0 : v;
}

/// <summary>R5: downstream NOx sensor stuck (no variation while driving varies), reading at or above upstream, or pinned at the range limit.</summary>
internal sealed class NoxSensorRule : Rule
{
    private const int Stuck = 1;
    private const int AboveUpstream = 2;
    private const int Pinned = 3;

    private readonly NoxSensorOptions _o;
    private readonly long _half;
    private readonly MovingAverage _up;
    private readonly MovingAverage _down;
    private readonly WindowCounter _window;
    private Block _prev;
    private Block _cur;
    private long _lastSecond = long.MinValue;
    private bool _stuck;
    private double _stdDown;
    private double _stdTorque;
    private double _stdSpeed;
    private double _meanDown;
    private double _ratio = double.NaN;
    private double _pinnedSeconds;
    private double _pinnedValue;
    private int _reason;

    public NoxSensorRule(NoxSensorOptions o)
        : base("R5", "NOx sensor stuck or emulated", FieldMask.NoxDownstreamPpm | FieldMask.NoxUpstreamPpm | FieldMask.EngineSpeedRpm |
                                                     FieldMask.EngineTorquePercent | FieldMask.SpeedKmh, AlertSeverity.Critical)
    {
        _o = o;
        _half = Math.Max(1, (long)(o.StuckWindowMinutes * 30));
        _up = new MovingAverage(o.AverageSeconds);
        _down = new MovingAverage(o.AverageSeconds);
        _window = new WindowCounter(o.AboveUpstreamWindowMinutes);
        Thresholds = Dict(("maxStdDevPpm", o.MaxStdDevPpm), ("stuckWindowMinutes", o.StuckWindowMinutes), ("minTorqueStdDevPercent", o.MinTorqueStdDevPercent),
            ("minSpeedStdDevKmh", o.MinSpeedStdDevKmh), ("downstreamToUpstreamRatio", o.DownstreamToUpstreamRatio), ("minUpstreamPpm", o.MinUpstreamPpm),
            ("aboveUpstreamSeconds", o.AboveUpstreamSeconds), ("aboveUpstreamWindowMinutes", o.AboveUpstreamWindowMinutes),
            ("pinnedHighPpm", o.PinnedHighPpm), ("pinnedSeconds", o.PinnedSeconds));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        if (!c.Running)
        {
            _pinnedSeconds = 0;
            return;
        }
        var sec = c.Second;
        var down = s.NoxDownstreamPpm;
        var up = s.NoxUpstreamPpm;
        var reason = 0;

        // (c) pinned at the range limit.
        if (down >= _o.PinnedHighPpm || up >= _o.PinnedHighPpm)
        {
            _pinnedSeconds += c.Dt;
            _pinnedValue = Math.Max(Sample.Has(down) ? down : 0, Sample.Has(up) ? up : 0);
            if (_pinnedSeconds >= _o.PinnedSeconds)
                reason = Pinned;
        }
        else
        {
            _pinnedSeconds = 0;
        }

        // (a) stuck: no variation over the window while torque and speed vary.
        if (down > 0 && Sample.Has(s.EngineTorquePercent) && Sample.Has(s.SpeedKmh))
        {
            if (_lastSecond != long.MinValue && sec - _lastSecond > 60)
            {
                _prev = default;
                _cur = default;
                _stuck = false;
            }
            _lastSecond = sec;
            if (_cur.N == 0)
                _cur.Start = sec;
            _cur.Add(down, s.EngineTorquePercent, s.SpeedKmh);
            if (sec - _cur.Start + 1 >= _half)
            {
                if (_prev.N > 0)
                    EvaluateStuck();
                _prev = _cur;
                _cur = default;
            }
            if (_stuck)
                reason = reason == 0 ? Stuck : reason;
        }

        // (b) downstream at or above upstream while the SCR is warm.
        if (c.Gated && down > 0 && up > 0)
        {
            _up.Add(sec, up);
            _down.Add(sec, down);
            if (_up.Full)
            {
                _window.Advance(c.Minute);
                var u = _up.Mean;
                if (u > _o.MinUpstreamPpm)
                {
                    _ratio = _down.Mean / u;
                    if (_ratio >= _o.DownstreamToUpstreamRatio)
                    {
                        _window.Count();
                        if (_window.Total >= _o.AboveUpstreamSeconds)
                            reason = reason == 0 ? AboveUpstream : reason;
                    }
                }
            }
        }

        if (reason != 0)
        {
            _reason = reason;
            e.Hold(this, sec, Severity);
        }
    }

    private void EvaluateStuck()
    {
        var all = _prev;
        all.Merge(_cur);
        _stdDown = all.StdDown;
        _stdTorque = all.StdTorque;
        _stdSpeed = all.StdSpeed;
        _meanDown = all.MeanDown;
        _stuck = all.N >= _half * 2 * 0.8 &&
                 _stdDown <= _o.MaxStdDevPpm &&
                 _stdTorque >= _o.MinTorqueStdDevPercent &&
                 _stdSpeed >= _o.MinSpeedStdDevKmh;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["reason"] = _reason;
        switch (_reason)
        {
            case Stuck:
                m["downstreamStdDevPpm"] = Math.Round(_stdDown, 3);
                m["downstreamMeanPpm"] = Math.Round(_meanDown, 2);
                m["torqueStdDevPercent"] = Math.Round(_stdTorque, 2);
                m["speedStdDevKmh"] = Math.Round(_stdSpeed, 2);
                break;
            case AboveUpstream:
                m["downstreamToUpstreamRatio"] = Math.Round(_ratio, 3);
                m["aboveUpstreamSecondsInWindow"] = _window.Total;
                break;
            default:
                m["pinnedPpm"] = _pinnedValue;
                m["pinnedSeconds"] = _pinnedSeconds;
                break;
        }
    }

    public override string Describe() => _reason switch
    {
        Stuck => string.Create(CultureInfo.InvariantCulture, $"Downstream NOx held at {_meanDown:F1} ppm (standard deviation {_stdDown:F2} ppm) for {_o.StuckWindowMinutes:F0} min while torque (sd {_stdTorque:F0} %) and speed (sd {_stdSpeed:F0} km/h) varied: sensor stuck or emulated."),
        AboveUpstream => string.Create(CultureInfo.InvariantCulture, $"Downstream NOx at {_ratio * 100:F0} % of upstream for {_window.Total} s within {_o.AboveUpstreamWindowMinutes} min with a warm SCR: sensors swapped or emulated."),
        _ => string.Create(CultureInfo.InvariantCulture, $"NOx reading pinned at {_pinnedValue:F0} ppm (range limit) for {_pinnedSeconds:F0} s while running."),
    };

    private struct Block
    {
        public long Start;
        public int N;
        public double K0, K1, K2;
        public double S0, Q0, S1, Q1, S2, Q2;

        public void Add(double down, double torque, double speed)
        {
            if (N == 0)
            {
                // Shift by the first values so that sums of squares keep their precision.
                K0 = down;
                K1 = torque;
                K2 = speed;
            }
            N++;
            var d0 = down - K0;
            var d1 = torque - K1;
            var d2 = speed - K2;
            S0 += d0;
            Q0 += d0 * d0;
            S1 += d1;
            Q1 += d1 * d1;
            S2 += d2;
            Q2 += d2 * d2;
        }

        public void Merge(Block other)
        {
            if (other.N == 0)
                return;
            // Re-base the other block's sums on this block's shifts.
            var a0 = other.K0 - K0;
            var a1 = other.K1 - K1;
            var a2 = other.K2 - K2;
            S0 += other.S0 + (other.N * a0);
            Q0 += other.Q0 + (2 * a0 * other.S0) + (other.N * a0 * a0);
            S1 += other.S1 + (other.N * a1);
            Q1 += other.Q1 + (2 * a1 * other.S1) + (other.N * a1 * a1);
            S2 += other.S2 + (other.N * a2);
            Q2 += other.Q2 + (2 * a2 * other.S2) + (other.N * a2 * a2);
            N += other.N;
        }

        public readonly double MeanDown => N == 0 ? double.NaN : K0 + (S0 / N);
        public readonly double StdDown => Std(S0, Q0);
        public readonly double StdTorque => Std(S1, Q1);
        public readonly double StdSpeed => Std(S2, Q2);

        private readonly double Std(double s, double q) => N < 2 ? 0 : Math.Sqrt(Math.Max(0, (q - (s * s / N)) / N));
    }
}

/// <summary>R6: DPF pressure drop near zero while exhaust flow is high, or the OBD DPF support bit cleared.</summary>
internal sealed class DpfRemovedRule : Rule
{
    private readonly DpfOptions _o;
    private readonly WindowCounter _window;
    private bool _supportSeen;
    private bool _bitCleared;
    private double _dp = double.NaN;
    private double _flow = double.NaN;

    public DpfRemovedRule(DpfOptions o)
        : base("R6", "DPF removed", FieldMask.DpfPressureDropKpa | FieldMask.IntakeAirFlowKgph | FieldMask.FuelFlowLph | FieldMask.EngineSpeedRpm, AlertSeverity.Critical)
    {
        _o = o;
        _window = new WindowCounter(o.WindowMinutes);
        Thresholds = Dict(("maxPressureDropKpa", o.MaxPressureDropKpa), ("minExhaustFlowKgph", o.MinExhaustFlowKgph),
            ("minSeconds", o.MinSeconds), ("windowMinutes", o.WindowMinutes));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        var dp = s.DpfPressureDropKpa;
        if (!c.Running || double.IsNaN(dp) || !(c.ExhaustKgph > _o.MinExhaustFlowKgph))
            return;
        _window.Advance(c.Minute);
        if (!(dp < _o.MaxPressureDropKpa))
            return;
        _window.Count();
        _dp = dp;
        _flow = c.ExhaustKgph;
        if (_window.Total >= _o.MinSeconds)
        {
            _bitCleared = false;
            e.Hold(this, c.Second, Severity);
        }
    }

    public override void OnObd(ObdSnapshot obd, long second, Evaluator e)
    {
        if (!_o.SupportBitCleared || obd.DiagnosticSupport == 0 || obd.DiagnosticSupport == 0xFFFF)
            return;
        if ((obd.DiagnosticSupport & DiagnosticBits.Dpf) != 0)
        {
            _supportSeen = true;
            return;
        }
        if (_supportSeen)
        {
            _bitCleared = true;
            e.Hold(this, second, Severity);
        }
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        if (_bitCleared)
        {
            m["dpfSupportBit"] = 0;
            return;
        }
        m["dpfPressureDropKpa"] = Math.Round(_dp, 2);
        m["exhaustFlowKgph"] = Math.Round(_flow, 1);
        m["lowPressureSecondsInWindow"] = _window.Total;
    }

    public override string Describe() => _bitCleared
        ? "The OBD record no longer declares DPF monitoring support, which the vehicle reported before."
        : string.Create(CultureInfo.InvariantCulture, $"DPF pressure drop {_dp:F2} kPa (below {_o.MaxPressureDropKpa:F1} kPa) at an exhaust flow of {_flow:F0} kg/h for {_window.Total} s within {_o.WindowMinutes} min.");

    public override void Save(StateBag bag)
    {
        bag.Put(_supportSeen ? 1 : 0);
        var n = new List<double>();
        _window.Save(n);
        bag.Put(n.Count);
        foreach (var x in n)
            bag.Put(x);
    }

    public override void Load(StateBag bag)
    {
        _supportSeen = bag.Number() == 1;
        var count = (int)bag.Number();
        var n = new double[Math.Max(0, count)];
        for (var i = 0; i < n.Length; i++)
            n[i] = bag.Number();
        _window.Load(n);
    }
}

/// <summary>R7: the malfunction indicator lamp on while moving for more than 10 min or 10 km.</summary>
internal sealed class MilDrivingRule : Rule
{
    private readonly MilOptions _o;
    private bool _milOn;
    private long _milSecond = long.MinValue;
    private double _seconds;
    private double _km;
    private double _lastOdo = double.NaN;

    public MilDrivingRule(MilOptions o)
        : base("R7", "MIL-on driving", FieldMask.Obd | FieldMask.SpeedKmh, AlertSeverity.Warning)
    {
        _o = o;
        Thresholds = Dict(("maxSeconds", o.MaxSeconds), ("maxKm", o.MaxKm), ("movingSpeedKmh", o.MovingSpeedKmh), ("obdMaxAgeSeconds", o.ObdMaxAgeSeconds));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnObd(ObdSnapshot obd, long second, Evaluator e)
    {
        if (obd.MilOn is not { } on)
            return;
        if (!on)
        {
            _seconds = 0;
            _km = 0;
        }
        _milOn = on;
        _milSecond = second;
    }

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        if (!_milOn || c.Second - _milSecond > _o.ObdMaxAgeSeconds)
        {
            _lastOdo = double.NaN;
            return;
        }
        var speed = s.SpeedKmh;
        var odo = s.OdometerKm;
        if (Sample.Has(speed) && speed > _o.MovingSpeedKmh)
        {
            _seconds += c.Dt;
            var d = Sample.Has(odo) && Sample.Has(_lastOdo) ? odo - _lastOdo : double.NaN;
            _km += d is >= 0 and < 1 ? d : speed * c.Dt / 3600.0;
        }
        _lastOdo = odo;
        if (_seconds > _o.MaxSeconds || _km > _o.MaxKm)
            e.Hold(this, c.Second, Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["milOnMovingSeconds"] = Math.Round(_seconds);
        m["milOnKm"] = Math.Round(_km, 2);
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"Driven {_seconds / 60:F0} min and {_km:F1} km with the malfunction indicator lamp on (limits {_o.MaxSeconds / 60:F0} min or {_o.MaxKm:F0} km).");

    public override void Save(StateBag bag)
    {
        bag.Put(_milOn ? 1 : 0);
        bag.PutLong(_milSecond);
        bag.Put(_seconds);
        bag.Put(_km);
    }

    public override void Load(StateBag bag)
    {
        _milOn = bag.Number() == 1;
        _milSecond = bag.Long();
        _seconds = bag.Number() is var s && double.IsNaN(s) ? 0 : s;
        _km = bag.Number() is var k && double.IsNaN(k) ? 0 : k;
    }
}

/// <summary>R8: calibration ID or CVN changed; fault codes cleared with readiness monitors reset.</summary>
internal sealed class ObdTamperingRule : Rule
{
    private readonly ObdTamperingOptions _o;
    private string _cal = "";
    private string _cvn = "";
    private int _dtcCount = -1;
    private ushort _readiness;
    private string _what = "";
    private string _before = "";
    private string _after = "";
    private int _clearedCodes;
    private ushort _resetBits;

    public ObdTamperingRule(ObdTamperingOptions o)
        : base("R8", "OBD tampering", FieldMask.Obd, AlertSeverity.Critical)
    {
        _o = o;
        Thresholds = Dict(("calibrationChange", o.CalibrationChange ? 1 : 0), ("dtcsClearedWithReadinessReset", o.DtcsClearedWithReadinessReset ? 1 : 0));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnObd(ObdSnapshot obd, long second, Evaluator e)
    {
        var cal = obd.CalibrationId.Trim();
        var cvn = obd.Cvn.Trim();
        var held = false;
        if (_o.CalibrationChange)
        {
            if (cal.Length > 0 && _cal.Length > 0 && cal != _cal)
            {
                (_what, _before, _after, held) = ("calibration ID", _cal, cal, true);
            }
            else if (cvn.Length > 0 && _cvn.Length > 0 && cvn != _cvn)
            {
                (_what, _before, _after, held) = ("CVN", _cvn, cvn, true);
            }
        }
        if (_o.DtcsClearedWithReadinessReset && !held && _dtcCount > 0 && obd.DtcCount == 0 && !obd.DtcCountInvalid)
        {
            var reset = (ushort)(obd.DiagnosticReadiness & ~_readiness & (obd.DiagnosticSupport == 0 ? 0xFFFF : obd.DiagnosticSupport));
            if (reset != 0)
            {
                (_what, _before, _after, held) = ("fault codes", "", "", true);
                _clearedCodes = _dtcCount;
                _resetBits = reset;
            }
        }
        if (cal.Length > 0)
            _cal = cal;
        if (cvn.Length > 0)
            _cvn = cvn;
        if (!obd.DtcCountInvalid) // a count marked invalid says nothing about the codes
            _dtcCount = obd.DtcCount;
        _readiness = obd.DiagnosticReadiness;
        if (held)
            e.Hold(this, second, Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        if (_what == "fault codes")
        {
            m["clearedFaultCodes"] = _clearedCodes;
            m["readinessBitsReset"] = _resetBits;
        }
        else
        {
            m["calibrationChanged"] = 1;
        }
    }

    public override string Describe() => _what == "fault codes"
        ? string.Create(CultureInfo.InvariantCulture, $"{_clearedCodes} fault codes disappeared while readiness monitors were reset (bits 0x{_resetBits:X4} not complete): codes cleared.")
        : string.Create(CultureInfo.InvariantCulture, $"OBD {_what} changed from \"{_before}\" to \"{_after}\".");

    public override void Save(StateBag bag)
    {
        bag.Put(_cal);
        bag.Put(_cvn);
        bag.Put(_dtcCount);
        bag.Put(_readiness);
    }

    public override void Load(StateBag bag)
    {
        _cal = bag.Text();
        _cvn = bag.Text();
        var n = bag.Number();
        _dtcCount = double.IsNaN(n) ? -1 : (int)n;
        var r = bag.Number();
        _readiness = double.IsNaN(r) ? (ushort)0 : (ushort)r;
    }
}
