using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R3: SCR conversion efficiency below 50 % while upstream NOx is high and the SCR is in its working
/// range. Publishes the last second it held (R4 reads it).
/// </summary>
internal sealed class R3ScrEfficiency : Rule<R3ScrEfficiency.RuleData>
{
    private readonly ScrEfficiencyOptions _o;

    public R3ScrEfficiency(ScrEfficiencyOptions o)
        : base("R3", "Low SCR efficiency", FieldMask.NoxUpstreamPpm | FieldMask.NoxDownstreamPpm | RuleRegistry.GateFields, AlertSeverity.Warning)
    {
        _o = o;
        Thresholds = Dict(("minEfficiency", o.MinEfficiency), ("minUpstreamPpm", o.MinUpstreamPpm), ("minScrInletC", o.MinScrInletC),
            ("maxScrInletC", o.MaxScrInletC), ("minSeconds", o.MinSeconds), ("windowMinutes", o.WindowMinutes));
        Init();
    }

    /// <summary>R3 state: upstream and downstream averages, the minute window of low-efficiency seconds, the last held second.</summary>
    [GenerateSerializer, Alias("detection.R3.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public MovingAverage Up { get; set; } = null!;
        [Id(1)] public MovingAverage Down { get; set; } = null!;
        [Id(2)] public WindowCounter Window { get; set; } = null!;
        [Id(3)] public double Efficiency { get; set; } = double.NaN;
        [Id(4)] public double UpMean { get; set; } = double.NaN;
        [Id(5)] public double DownMean { get; set; } = double.NaN;
        [Id(6)] public double EpisodeMin { get; set; } = 1;
        [Id(7)] public long LastHeldSecond { get; set; } = long.MinValue;

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.Up = Up.Copy();
            c.Down = Down.Copy();
            c.Window = Window.Copy();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;
    public override bool Publishes => true;
    /// <summary>Reads R10's result: the emission gate opens when the SCR reading is implausible.</summary>
    public override IReadOnlyList<string> DependsOn => ReadsR10;

    protected override RuleData NewState() => new()
    {
        Up = new MovingAverage(_o.AverageSeconds),
        Down = new MovingAverage(_o.AverageSeconds),
        Window = new WindowCounter(_o.WindowMinutes),
    };

    protected override RuleData? Adopt(RuleData saved)
    {
        saved.Up = saved.Up?.Fit(_o.AverageSeconds) ?? new MovingAverage(_o.AverageSeconds);
        saved.Down = saved.Down?.Fit(_o.AverageSeconds) ?? new MovingAverage(_o.AverageSeconds);
        saved.Window = saved.Window?.Fit(_o.WindowMinutes) ?? new WindowCounter(_o.WindowMinutes);
        return saved;
    }

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var up = s.NoxUpstreamPpm;
        var down = s.NoxDownstreamPpm;
        var scr = s.ScrInletTempC;
        // A reading R10 does not believe says nothing about the working range: judge efficiency anyway.
        var inRange = c.ScrTemperatureImplausible || (scr >= _o.MinScrInletC && scr <= _o.MaxScrInletC);
        if (!c.EmissionGated || !(up > 0) || !(down > 0) || !inRange)
            return default;
        var st = State;
        st.Up.Add(c.Second, up);
        st.Down.Add(c.Second, down);
        if (!st.Up.Full)
            return default;
        st.Window.Advance(c.Minute);
        st.UpMean = st.Up.Mean;
        st.DownMean = st.Down.Mean;
        if (!(st.UpMean > _o.MinUpstreamPpm))
            return default;
        var eff = st.Efficiency = 1 - (st.DownMean / st.UpMean);
        if (!(eff < _o.MinEfficiency))
            return default;
        st.Window.Count();
        if (st.Window.Total < _o.MinSeconds)
            return default;
        if (!episodeOpen)
            st.EpisodeMin = 1;
        st.EpisodeMin = Math.Min(st.EpisodeMin, eff);
        st.LastHeldSecond = c.Second;
        return Verdict.Hold(Severity);
    }

    public override void Publish(ref SampleContext c, in Verdict v) => c.ScrEfficiencyLowSecond = State.LastHeldSecond;

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        var st = State;
        m["efficiency"] = Math.Round(st.Efficiency, 4);
        m["minEfficiency"] = Math.Round(Math.Min(st.EpisodeMin, st.Efficiency), 4);
        m["meanUpstreamPpm"] = Math.Round(st.UpMean, 2);
        m["meanDownstreamPpm"] = Math.Round(st.DownMean, 2);
        m["lowEfficiencySecondsInWindow"] = st.Window.Total;
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"SCR efficiency {State.Efficiency * 100:F0} % (upstream {State.UpMean:F0} ppm, downstream {State.DownMean:F0} ppm) below {_o.MinEfficiency * 100:F0} % for {State.Window.Total} gated seconds within {_o.WindowMinutes} min.");
}

/// <summary>R3: low SCR conversion efficiency.</summary>
public sealed class ScrEfficiencyOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Efficiency (1 - downstream/upstream) below which the SCR counts as not working.</summary>
    public double MinEfficiency { get; set; } = 0.5;
    /// <summary>Upstream NOx above which efficiency is judged, ppm.</summary>
    public double MinUpstreamPpm { get; set; } = 100;
    /// <summary>SCR inlet temperature range in which efficiency is judged, deg C.</summary>
    public double MinScrInletC { get; set; } = 250;
    public double MaxScrInletC { get; set; } = 450;
    /// <summary>Averaging length for upstream and downstream NOx, s.</summary>
    public int AverageSeconds { get; set; } = 30;
    /// <summary>Gated seconds of low efficiency needed within the window, s.</summary>
    public int MinSeconds { get; set; } = 600;
    /// <summary>Window, min.</summary>
    public int WindowMinutes { get; set; } = 30;
}
