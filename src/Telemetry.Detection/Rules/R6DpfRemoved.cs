using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>R6: DPF pressure drop near zero while exhaust flow is high, or the OBD DPF support bit cleared.</summary>
internal sealed class R6DpfRemoved : Rule<R6DpfRemoved.RuleData>
{
    private readonly DpfOptions _o;

    public R6DpfRemoved(DpfOptions o)
        : base("R6", "DPF removed", FieldMask.DpfPressureDropKpa | FieldMask.IntakeAirFlowKgph | FieldMask.FuelFlowLph | FieldMask.EngineSpeedRpm, AlertSeverity.Critical)
    {
        _o = o;
        Thresholds = Dict(("maxPressureDropKpa", o.MaxPressureDropKpa), ("minExhaustFlowKgph", o.MinExhaustFlowKgph),
            ("minSeconds", o.MinSeconds), ("windowMinutes", o.WindowMinutes));
        Init();
    }

    /// <summary>R6 state: the minute window of low-pressure seconds, whether DPF support was ever declared, the last values.</summary>
    [GenerateSerializer, Alias("detection.R6.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public WindowCounter Window { get; set; } = null!;
        [Id(1)] public bool SupportSeen { get; set; }
        [Id(2)] public bool BitCleared { get; set; }
        [Id(3)] public double PressureDropKpa { get; set; } = double.NaN;
        [Id(4)] public double ExhaustKgph { get; set; } = double.NaN;

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.Window = Window.Copy();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;
    public override bool UsesObd => true;

    protected override RuleData NewState() => new() { Window = new WindowCounter(_o.WindowMinutes) };

    protected override RuleData? Adopt(RuleData saved)
    {
        saved.Window = saved.Window?.Fit(_o.WindowMinutes) ?? new WindowCounter(_o.WindowMinutes);
        return saved;
    }

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var dp = s.DpfPressureDropKpa;
        if (!c.Running || double.IsNaN(dp) || !(c.ExhaustKgph > _o.MinExhaustFlowKgph))
            return default;
        var st = State;
        st.Window.Advance(c.Minute);
        if (!(dp < _o.MaxPressureDropKpa))
            return default;
        st.Window.Count();
        st.PressureDropKpa = dp;
        st.ExhaustKgph = c.ExhaustKgph;
        if (st.Window.Total < _o.MinSeconds)
            return default;
        st.BitCleared = false;
        return Verdict.Hold(Severity);
    }

    public override Verdict EvaluateObd(ObdSnapshot obd, long second, bool engineRunning, bool episodeOpen)
    {
        if (!_o.SupportBitCleared || obd.DiagnosticSupport == 0 || obd.DiagnosticSupport == 0xFFFF)
            return default;
        var st = State;
        if ((obd.DiagnosticSupport & DiagnosticBits.Dpf) != 0)
        {
            st.SupportSeen = true;
            return default;
        }
        if (!st.SupportSeen)
            return default;
        st.BitCleared = true;
        return Verdict.Hold(Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        var st = State;
        if (st.BitCleared)
        {
            m["dpfSupportBit"] = 0;
            return;
        }
        m["dpfPressureDropKpa"] = Math.Round(st.PressureDropKpa, 2);
        m["exhaustFlowKgph"] = Math.Round(st.ExhaustKgph, 1);
        m["lowPressureSecondsInWindow"] = st.Window.Total;
    }

    public override string Describe() => State.BitCleared
        ? "The OBD record no longer declares DPF monitoring support, which the vehicle reported before."
        : string.Create(CultureInfo.InvariantCulture, $"DPF pressure drop {State.PressureDropKpa:F2} kPa (below {_o.MaxPressureDropKpa:F1} kPa) at an exhaust flow of {State.ExhaustKgph:F0} kg/h for {State.Window.Total} s within {_o.WindowMinutes} min.");
}

/// <summary>R6: DPF removed.</summary>
public sealed class DpfOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>DPF pressure drop below this, kPa ...</summary>
    public double MaxPressureDropKpa { get; set; } = 0.5;
    /// <summary>... while exhaust flow is above this, kg/h ...</summary>
    public double MinExhaustFlowKgph { get; set; } = 300;
    /// <summary>... for at least this many seconds within the window.</summary>
    public int MinSeconds { get; set; } = 600;
    /// <summary>Window, min.</summary>
    public int WindowMinutes { get; set; } = 20;
    /// <summary>Alert when the OBD DPF support bit is cleared after the vehicle once reported it.</summary>
    public bool SupportBitCleared { get; set; } = true;
}
