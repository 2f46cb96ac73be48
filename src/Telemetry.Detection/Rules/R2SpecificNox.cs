using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R2: NOx mass per engine (brake) work over work-based moving windows (sub-windows of
/// WindowWorkKWh / SubWindows). Work counts net torque: actual minus friction; engine braking is 0.
/// </summary>
internal sealed class R2SpecificNox : Rule<R2SpecificNox.RuleData>
{
    private readonly SpecificNoxOptions _o;
    private readonly PhysicsOptions _p;
    private readonly long _maxGap;
    private readonly double _subWindowWork;

    public R2SpecificNox(SpecificNoxOptions o, PhysicsOptions p, EpisodeOptions episodes)
        : base("R2", "Specific NOx", FieldMask.NoxDownstreamPpm | FieldMask.IntakeAirFlowKgph | FieldMask.FuelFlowLph |
                                    FieldMask.EngineTorquePercent | FieldMask.ReferenceTorque | RuleRegistry.GateFields, AlertSeverity.Advisory)
    {
        _o = o;
        _p = p;
        _maxGap = (long)episodes.HysteresisSeconds;
        _subWindowWork = o.WindowWorkKWh / o.SubWindows;
        Thresholds = Dict(("alertMgPerKWh", o.AlertMgPerKWh), ("advisoryMgPerKWh", o.AdvisoryMgPerKWh), ("windowWorkKWh", o.WindowWorkKWh),
            ("minTorquePercent", o.MinTorquePercent), ("fuelDensityKgPerL", p.FuelDensityKgPerL), ("noxMassFactor", p.NoxMassFactor));
        Init();
    }

    /// <summary>R2 state: the completed sub-windows (a ring), the sub-window being filled and the latest window result.</summary>
    [GenerateSerializer, Alias("detection.R2.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public double[] SubMass { get; set; } = [];
        [Id(1)] public double[] SubWork { get; set; } = [];
        [Id(2)] public long[] SubStart { get; set; } = [];
        [Id(3)] public int SubCount { get; set; }
        [Id(4)] public int SubNext { get; set; }
        [Id(5)] public double CurrentMass { get; set; }
        [Id(6)] public double CurrentWork { get; set; }
        [Id(7)] public long CurrentStart { get; set; } = long.MinValue;
        [Id(8)] public long LastSecond { get; set; } = long.MinValue;
        [Id(9)] public double Result { get; set; } = double.NaN;
        [Id(10)] public double ResultWork { get; set; }
        [Id(11)] public double ResultMass { get; set; }
        [Id(12)] public long ResultSeconds { get; set; }
        [Id(13)] public double EpisodeMax { get; set; }

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.SubMass = (double[])SubMass.Clone();
            c.SubWork = (double[])SubWork.Clone();
            c.SubStart = (long[])SubStart.Clone();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;
    /// <summary>Reads R10's result: the emission gate opens when the SCR reading is implausible.</summary>
    public override IReadOnlyList<string> DependsOn => ReadsR10;

    protected override RuleData NewState() => new()
    {
        SubMass = new double[_o.SubWindows],
        SubWork = new double[_o.SubWindows],
        SubStart = new long[_o.SubWindows],
    };

    protected override RuleData? Adopt(RuleData saved) =>
        saved.SubMass?.Length == _o.SubWindows && saved.SubWork?.Length == _o.SubWindows && saved.SubStart?.Length == _o.SubWindows ? saved : null;

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        if (!c.EmissionGated || double.IsNaN(c.ReferenceTorqueNm))
            return default;
        var nox = s.NoxDownstreamPpm;
        var torque = s.EngineTorquePercent;
        if (!(nox > 0) || !(torque >= _o.MinTorquePercent) || double.IsNaN(c.ExhaustKgph))
            return default;
        var power = Physics.BrakePowerKw(torque, s.FrictionTorquePercent, c.ReferenceTorqueNm, s.EngineSpeedRpm);
        if (double.IsNaN(power))
            return default;
        var st = State;
        var sec = c.Second;
        if (st.LastSecond != long.MinValue && sec - st.LastSecond > _maxGap)
            ResetWindows(st);
        st.LastSecond = sec;
        if (st.CurrentStart == long.MinValue)
            st.CurrentStart = sec;
        st.CurrentMass += Physics.NoxMassFlowGph(nox, c.ExhaustKgph, _p.NoxMassFactor) / 3600.0;
        st.CurrentWork += power / 3600.0;
        if (st.CurrentWork >= _subWindowWork)
            CompleteSubWindow(st, sec);
        var result = st.Result;
        if (!(result > _o.AdvisoryMgPerKWh))
            return default;
        if (!episodeOpen)
            st.EpisodeMax = 0;
        st.EpisodeMax = Math.Max(st.EpisodeMax, result);
        return Verdict.Hold(result > _o.AlertMgPerKWh ? AlertSeverity.Warning : AlertSeverity.Advisory);
    }

    private void CompleteSubWindow(RuleData st, long sec)
    {
        var n = st.SubMass.Length;
        st.SubMass[st.SubNext] = st.CurrentMass;
        st.SubWork[st.SubNext] = st.CurrentWork;
        st.SubStart[st.SubNext] = st.CurrentStart;
        st.SubNext = (st.SubNext + 1) % n;
        if (st.SubCount < n)
            st.SubCount++;
        st.CurrentMass = 0;
        st.CurrentWork = 0;
        st.CurrentStart = long.MinValue;
        if (st.SubCount < n)
            return;
        var seconds = sec - st.SubStart[st.SubNext] + 1;
        if (seconds > _o.MaxWindowMinutes * 60)
        {
            st.Result = double.NaN;
            return;
        }
        double mass = 0, work = 0;
        for (var i = 0; i < n; i++)
        {
            mass += st.SubMass[i];
            work += st.SubWork[i];
        }
        st.ResultMass = mass;
        st.ResultWork = work;
        st.ResultSeconds = seconds;
        st.Result = work > 0 ? mass * 1000.0 / work : double.NaN;
    }

    private static void ResetWindows(RuleData st)
    {
        st.SubCount = 0;
        st.SubNext = 0;
        st.CurrentMass = 0;
        st.CurrentWork = 0;
        st.CurrentStart = long.MinValue;
        st.Result = double.NaN;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        var st = State;
        m["windowMgPerKWh"] = Math.Round(st.Result, 1);
        m["maxWindowMgPerKWh"] = Math.Round(Math.Max(st.EpisodeMax, double.IsNaN(st.Result) ? 0 : st.Result), 1);
        m["windowWorkKWh"] = Math.Round(st.ResultWork, 3);
        m["windowNoxG"] = Math.Round(st.ResultMass, 3);
        m["windowSeconds"] = st.ResultSeconds;
    }

    public override string Describe()
    {
        var r = State.Result;
        var obd = r > _o.AlertMgPerKWh;
        return string.Create(CultureInfo.InvariantCulture, $"Specific NOx {r:F0} mg/kWh over a window of {State.ResultWork:F1} kWh of brake work ({State.ResultSeconds} s), above the {(obd ? "OBD" : "in-use")} limit of {(obd ? _o.AlertMgPerKWh : _o.AdvisoryMgPerKWh):F0} mg/kWh.");
    }
}

/// <summary>R2: specific NOx over work-based windows.</summary>
public sealed class SpecificNoxOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Engine work of one window, kWh.</summary>
    public double WindowWorkKWh { get; set; } = 10;
    /// <summary>The window moves in steps of WindowWorkKWh / SubWindows.</summary>
    public int SubWindows { get; set; } = 10;
    /// <summary>Window result above which the episode is a warning (OBD threshold), mg/kWh.</summary>
    public double AlertMgPerKWh { get; set; } = 1200;
    /// <summary>Window result above which an advisory episode opens (in-use conformity), mg/kWh.</summary>
    public double AdvisoryMgPerKWh { get; set; } = 690;
    /// <summary>Seconds with torque below this are left out of windows (idle and motoring), % of reference torque.</summary>
    public double MinTorquePercent { get; set; } = 10;
    /// <summary>A window that takes longer than this to fill is discarded, min.</summary>
    public double MaxWindowMinutes { get; set; } = 60;
}
