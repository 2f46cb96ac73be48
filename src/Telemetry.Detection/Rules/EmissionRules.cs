using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>R1: the 30 s moving average of downstream NOx above 500 ppm for at least 300 gated seconds within 30 min.</summary>
internal sealed class NoxConcentrationRule : Rule
{
    private readonly NoxConcentrationOptions _o;
    private readonly MovingAverage _avg;
    private readonly WindowCounter _window;
    private double _mean = double.NaN;
    private double _epMax;
    private double _epSum;
    private long _epN;

    public NoxConcentrationRule(NoxConcentrationOptions o, GateOptions gate)
        : base("R1", "NOx concentration", FieldMask.NoxDownstreamPpm | RuleSet.GateFields, AlertSeverity.Warning)
    {
        _o = o;
        _avg = new MovingAverage(o.AverageSeconds);
        _window = new WindowCounter(o.WindowMinutes);
        Thresholds = Dict(("noxPpm", o.ThresholdPpm), ("averageSeconds", o.AverageSeconds), ("minExceedSeconds", o.MinExceedSeconds),
            ("windowMinutes", o.WindowMinutes), ("gateCoolantC", gate.MinCoolantC), ("gateScrInletC", gate.MinScrInletC),
            ("gateEngineSpeedRpm", gate.MinEngineSpeedRpm), ("gateSecondsSinceStart", gate.MinSecondsSinceEngineStart));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        var nox = s.NoxDownstreamPpm;
        // NOx <= 0 is the sensor's "not ready" reading (-200 ppm): not a measurement.
        if (!c.Gated || !(nox > 0))
            return;
        _avg.Add(c.Second, nox);
        if (!_avg.Full)
            return;
        _window.Advance(c.Minute);
        var mean = _mean = _avg.Mean;
        if (!(mean > _o.ThresholdPpm))
            return;
        _window.Count();
        if (_window.Total < _o.MinExceedSeconds)
            return;
        if (!e.IsOpen(Index))
            OnEpisodeOpened();
        _epMax = Math.Max(_epMax, mean);
        _epSum += mean;
        _epN++;
        e.Hold(this, c.Second, Severity);
    }

    public override void OnEpisodeOpened()
    {
        _epMax = 0;
        _epSum = 0;
        _epN = 0;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["meanNoxPpm"] = Math.Round(_mean, 2);
        m["maxMeanNoxPpm"] = Math.Round(_epMax, 2);
        m["episodeMeanNoxPpm"] = _epN == 0 ? Math.Round(_mean, 2) : Math.Round(_epSum / _epN, 2);
        m["exceedSecondsInWindow"] = _window.Total;
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"Downstream NOx {_o.AverageSeconds} s average {_mean:F0} ppm above {_o.ThresholdPpm:F0} ppm for {_window.Total} gated seconds within {_o.WindowMinutes} min (at least {_o.MinExceedSeconds} s needed).");

    public override void Save(StateBag bag)
    {
        var n = new List<double>();
        _window.Save(n);
        bag.Put(n.Count);
        foreach (var x in n)
            bag.Put(x);
    }

    public override void Load(StateBag bag)
    {
        var count = (int)bag.Number();
        var n = new double[Math.Max(0, count)];
        for (var i = 0; i < n.Length; i++)
            n[i] = bag.Number();
        _window.Load(n);
    }
}

/// <summary>R2: NOx mass per engine work over work-based moving windows (sub-windows of WindowWorkKWh / SubWindows).</summary>
internal sealed class SpecificNoxRule : Rule
{
    private readonly SpecificNoxOptions _o;
    private readonly PhysicsOptions _p;
    private readonly long _maxGap;
    private readonly double _subWindowWork;
    private readonly double[] _subMass;
    private readonly double[] _subWork;
    private readonly long[] _subStart;
    private int _subCount;
    private int _subNext;
    private double _curMass;
    private double _curWork;
    private long _curStart = long.MinValue;
    private long _lastSecond = long.MinValue;
    private double _result = double.NaN;
    private double _resultWork;
    private double _resultMass;
    private long _resultSeconds;
    private double _epMax;

    public SpecificNoxRule(SpecificNoxOptions o, PhysicsOptions p, EpisodeOptions episodes)
        : base("R2", "Specific NOx", FieldMask.NoxDownstreamPpm | FieldMask.IntakeAirFlowKgph | FieldMask.FuelFlowLph |
                                    FieldMask.EngineTorquePercent | FieldMask.ReferenceTorque | RuleSet.GateFields, AlertSeverity.Advisory)
    {
        _o = o;
        _p = p;
        _maxGap = (long)episodes.HysteresisSeconds;
        _subWindowWork = o.WindowWorkKWh / o.SubWindows;
        _subMass = new double[o.SubWindows];
        _subWork = new double[o.SubWindows];
        _subStart = new long[o.SubWindows];
        Thresholds = Dict(("alertMgPerKWh", o.AlertMgPerKWh), ("advisoryMgPerKWh", o.AdvisoryMgPerKWh), ("windowWorkKWh", o.WindowWorkKWh),
            ("minTorquePercent", o.MinTorquePercent), ("fuelDensityKgPerL", p.FuelDensityKgPerL), ("noxMassFactor", p.NoxMassFactor));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        if (!c.Gated || double.IsNaN(c.ReferenceTorqueNm))
            return;
        var nox = s.NoxDownstreamPpm;
        var torque = s.EngineTorquePercent;
        if (!(nox > 0) || !(torque >= _o.MinTorquePercent) || double.IsNaN(c.ExhaustKgph))
            return;
        var sec = c.Second;
        if (_lastSecond != long.MinValue && sec - _lastSecond > _maxGap)
            ResetWindows();
        _lastSecond = sec;
        if (_curStart == long.MinValue)
            _curStart = sec;
        var power = Physics.EnginePowerKw(torque, c.ReferenceTorqueNm, s.EngineSpeedRpm);
        _curMass += Physics.NoxMassFlowGph(nox, c.ExhaustKgph, _p.NoxMassFactor) / 3600.0;
        _curWork += power / 3600.0;
        if (_curWork >= _subWindowWork)
            CompleteSubWindow(sec);
        if (_result > _o.AdvisoryMgPerKWh)
        {
            if (!e.IsOpen(Index))
                OnEpisodeOpened();
            _epMax = Math.Max(_epMax, _result);
            e.Hold(this, sec, _result > _o.AlertMgPerKWh ? AlertSeverity.Warning : AlertSeverity.Advisory);
        }
    }

    private void CompleteSubWindow(long sec)
    {
        _subMass[_subNext] = _curMass;
        _subWork[_subNext] = _curWork;
        _subStart[_subNext] = _curStart;
        _subNext = (_subNext + 1) % _subMass.Length;
        if (_subCount < _subMass.Length)
            _subCount++;
        _curMass = 0;
        _curWork = 0;
        _curStart = long.MinValue;
        if (_subCount < _subMass.Length)
            return;
        var oldest = _subStart[_subNext];
        var seconds = sec - oldest + 1;
        if (seconds > _o.MaxWindowMinutes * 60)
        {
            _result = double.NaN;
            return;
        }
        double mass = 0, work = 0;
        for (var i = 0; i < _subMass.Length; i++)
        {
            mass += _subMass[i];
            work += _subWork[i];
        }
        _resultMass = mass;
        _resultWork = work;
        _resultSeconds = seconds;
        _result = work > 0 ? mass * 1000.0 / work : double.NaN;
    }

    private void ResetWindows()
    {
        _subCount = 0;
        _subNext = 0;
        _curMass = 0;
        _curWork = 0;
        _curStart = long.MinValue;
        _result = double.NaN;
    }

    public override void OnEpisodeOpened() => _epMax = 0;

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["windowMgPerKWh"] = Math.Round(_result, 1);
        m["maxWindowMgPerKWh"] = Math.Round(Math.Max(_epMax, double.IsNaN(_result) ? 0 : _result), 1);
        m["windowWorkKWh"] = Math.Round(_resultWork, 3);
        m["windowNoxG"] = Math.Round(_resultMass, 3);
        m["windowSeconds"] = _resultSeconds;
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"Specific NOx {_result:F0} mg/kWh over a window of {_resultWork:F1} kWh ({_resultSeconds} s), above the {(_result > _o.AlertMgPerKWh ? "OBD" : "in-use")} limit of {(_result > _o.AlertMgPerKWh ? _o.AlertMgPerKWh : _o.AdvisoryMgPerKWh):F0} mg/kWh.");

    public override void Save(StateBag bag)
    {
        bag.Put(_subCount);
        bag.Put(_subNext);
        for (var i = 0; i < _subMass.Length; i++)
        {
            bag.Put(_subMass[i]);
            bag.Put(_subWork[i]);
            bag.PutLong(_subStart[i]);
        }
        bag.Put(_curMass);
        bag.Put(_curWork);
        bag.PutLong(_curStart);
        bag.PutLong(_lastSecond);
        bag.Put(_result);
        bag.Put(_resultWork);
        bag.Put(_resultMass);
        bag.Put(_resultSeconds);
    }

    public override void Load(StateBag bag)
    {
        _subCount = Math.Clamp((int)bag.Number(), 0, _subMass.Length);
        _subNext = Math.Clamp((int)bag.Number(), 0, _subMass.Length - 1);
        for (var i = 0; i < _subMass.Length; i++)
        {
            _subMass[i] = bag.Number();
            _subWork[i] = bag.Number();
            _subStart[i] = bag.Long();
        }
        _curMass = bag.Number();
        _curWork = bag.Number();
        _curStart = bag.Long();
        _lastSecond = bag.Long();
        _result = bag.Number();
        _resultWork = bag.Number();
        _resultMass = bag.Number();
        _resultSeconds = bag.Long(0);
        if (double.IsNaN(_curMass) || double.IsNaN(_curWork))
            ResetWindows();
    }
}

/// <summary>R3: SCR conversion efficiency below 50 % while upstream NOx is high and the SCR is in its working range.</summary>
internal sealed class ScrEfficiencyRule : Rule
{
    private readonly ScrEfficiencyOptions _o;
    private readonly MovingAverage _up;
    private readonly MovingAverage _down;
    private readonly WindowCounter _window;
    private double _eff = double.NaN;
    private double _upMean = double.NaN;
    private double _downMean = double.NaN;
    private double _epMin = 1;

    public ScrEfficiencyRule(ScrEfficiencyOptions o)
        : base("R3", "Low SCR efficiency", FieldMask.NoxUpstreamPpm | FieldMask.NoxDownstreamPpm | RuleSet.GateFields, AlertSeverity.Warning)
    {
        _o = o;
        _up = new MovingAverage(o.AverageSeconds);
        _down = new MovingAverage(o.AverageSeconds);
        _window = new WindowCounter(o.WindowMinutes);
        Thresholds = Dict(("minEfficiency", o.MinEfficiency), ("minUpstreamPpm", o.MinUpstreamPpm), ("minScrInletC", o.MinScrInletC),
            ("maxScrInletC", o.MaxScrInletC), ("minSeconds", o.MinSeconds), ("windowMinutes", o.WindowMinutes));
    }

    public override bool Enabled => _o.Enabled;

    /// <summary>Second at which the condition last held (R4 uses it).</summary>
    public long LastHeldSecond { get; private set; } = long.MinValue;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        var up = s.NoxUpstreamPpm;
        var down = s.NoxDownstreamPpm;
        var scr = s.ScrInletTempC;
        if (!c.Gated || !(up > 0) || !(down > 0) || !(scr >= _o.MinScrInletC) || !(scr <= _o.MaxScrInletC))
            return;
        _up.Add(c.Second, up);
        _down.Add(c.Second, down);
        if (!_up.Full)
            return;
        _window.Advance(c.Minute);
        _upMean = _up.Mean;
        _downMean = _down.Mean;
        if (!(_upMean > _o.MinUpstreamPpm))
            return;
        _eff = 1 - (_downMean / _upMean);
        if (!(_eff < _o.MinEfficiency))
            return;
        _window.Count();
        if (_window.Total < _o.MinSeconds)
            return;
        if (!e.IsOpen(Index))
            OnEpisodeOpened();
        _epMin = Math.Min(_epMin, _eff);
        LastHeldSecond = c.Second;
        e.Hold(this, c.Second, Severity);
    }

    public override void OnEpisodeOpened() => _epMin = 1;

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["efficiency"] = Math.Round(_eff, 4);
        m["minEfficiency"] = Math.Round(Math.Min(_epMin, _eff), 4);
        m["meanUpstreamPpm"] = Math.Round(_upMean, 2);
        m["meanDownstreamPpm"] = Math.Round(_downMean, 2);
        m["lowEfficiencySecondsInWindow"] = _window.Total;
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"SCR efficiency {_eff * 100:F0} % (upstream {_upMean:F0} ppm, downstream {_downMean:F0} ppm) below {_o.MinEfficiency * 100:F0} % for {_window.Total} gated seconds within {_o.WindowMinutes} min.");

    public override void Save(StateBag bag)
    {
        var n = new List<double>();
        _window.Save(n);
        bag.Put(n.Count);
        foreach (var x in n)
            bag.Put(x);
        bag.PutLong(LastHeldSecond);
    }

    public override void Load(StateBag bag)
    {
        var count = (int)bag.Number();
        var n = new double[Math.Max(0, count)];
        for (var i = 0; i < n.Length; i++)
            n[i] = bag.Number();
        _window.Load(n);
        LastHeldSecond = bag.Long();
    }
}
