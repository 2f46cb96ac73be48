using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R10: the reported SCR inlet temperature far below what the exhaust energy implies. A warm engine
/// that has worked under load for most of the last 20 min has a 300-450 deg C exhaust; a reading
/// below 200 deg C then means a raised or bypassed sensor. The low reading would also keep the
/// emission gate shut, so while R10 holds the emission rules (R1, R2, R3, R5) count these seconds
/// anyway (published in the context).
/// </summary>
internal sealed class R10ScrTemperature : Rule<R10ScrTemperature.RuleData>
{
    private readonly ScrTemperatureOptions _o;

    public R10ScrTemperature(ScrTemperatureOptions o)
        : base("R10", "SCR temperature implausible", FieldMask.ScrInletTempC | FieldMask.EngineTorquePercent | FieldMask.EngineSpeedRpm | FieldMask.CoolantTempC,
            AlertSeverity.Critical)
    {
        _o = o;
        Thresholds = Dict(("maxPlausibleScrInletC", o.MaxPlausibleScrInletC), ("minNetTorquePercent", o.MinNetTorquePercent),
            ("minLoadSeconds", o.MinLoadSeconds), ("windowMinutes", o.WindowMinutes));
        Init();
    }

    /// <summary>R10 state: the minute window of warm seconds under load, and the readings of the episode.</summary>
    [GenerateSerializer, Alias("detection.R10.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public WindowCounter LoadWindow { get; set; } = null!;
        [Id(1)] public double ScrInletC { get; set; } = double.NaN;
        [Id(2)] public double MaxScrInletC { get; set; } = double.NaN;
        [Id(3)] public double NetTorquePercent { get; set; } = double.NaN;

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.LoadWindow = LoadWindow.Copy();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;
    public override bool Publishes => true;

    protected override RuleData NewState() => new() { LoadWindow = new WindowCounter(_o.WindowMinutes) };

    protected override RuleData? Adopt(RuleData saved)
    {
        saved.LoadWindow = saved.LoadWindow?.Fit(_o.WindowMinutes) ?? new WindowCounter(_o.WindowMinutes);
        return saved;
    }

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var scr = s.ScrInletTempC;
        if (!c.GatedButScr || double.IsNaN(scr))
            return default;
        var st = State;
        st.LoadWindow.Advance(c.Minute);
        var net = s.EngineTorquePercent - (Sample.Has(s.FrictionTorquePercent) ? s.FrictionTorquePercent : 0);
        if (net >= _o.MinNetTorquePercent)
            st.LoadWindow.Count();
        if (st.LoadWindow.Total < _o.MinLoadSeconds || !(scr < _o.MaxPlausibleScrInletC))
            return default;
        if (!episodeOpen)
            st.MaxScrInletC = scr;
        st.ScrInletC = scr;
        st.MaxScrInletC = Math.Max(st.MaxScrInletC, scr);
        st.NetTorquePercent = net;
        return Verdict.Hold(Severity);
    }

    public override void Publish(ref SampleContext c, in Verdict v) => c.ScrTemperatureImplausible = v.Held;

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        var st = State;
        m["scrInletC"] = Math.Round(st.ScrInletC, 1);
        m["maxScrInletC"] = Math.Round(st.MaxScrInletC, 1);
        m["netTorquePercent"] = Math.Round(st.NetTorquePercent, 1);
        m["loadSecondsInWindow"] = st.LoadWindow.Total;
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"SCR inlet reads {State.ScrInletC:F0} deg C (below {_o.MaxPlausibleScrInletC:F0} deg C) after {State.LoadWindow.Total} s under load (net torque at least {_o.MinNetTorquePercent:F0} %) within {_o.WindowMinutes} min, where a working exhaust runs 300-450 deg C: sensor raised or bypassed.");
}

/// <summary>R10: SCR inlet temperature far below what the exhaust energy implies.</summary>
public sealed class ScrTemperatureOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>A reported SCR inlet temperature below this after sustained load is implausible, deg C.</summary>
    public double MaxPlausibleScrInletC { get; set; } = 200;
    /// <summary>Net torque (actual - friction) at or above which a second counts as under load, % of reference torque.</summary>
    public double MinNetTorquePercent { get; set; } = 20;
    /// <summary>Warm seconds under load needed within the window before a low reading is implausible, s.</summary>
    public int MinLoadSeconds { get; set; } = 720;
    /// <summary>Window for the load seconds, min.</summary>
    public int WindowMinutes { get; set; } = 20;
}
