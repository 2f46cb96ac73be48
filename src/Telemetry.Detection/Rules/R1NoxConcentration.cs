using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>R1: the 30 s moving average of downstream NOx above 500 ppm for at least 300 gated seconds within 30 min.</summary>
internal sealed class R1NoxConcentration : Rule<R1NoxConcentration.RuleData>
{
    private readonly NoxConcentrationOptions _o;

    public R1NoxConcentration(NoxConcentrationOptions o, GateOptions gate)
        : base("R1", "NOx concentration", FieldMask.NoxDownstreamPpm | RuleRegistry.GateFields, AlertSeverity.Warning)
    {
        _o = o;
        Thresholds = Dict(("noxPpm", o.ThresholdPpm), ("averageSeconds", o.AverageSeconds), ("minExceedSeconds", o.MinExceedSeconds),
            ("windowMinutes", o.WindowMinutes), ("gateCoolantC", gate.MinCoolantC), ("gateScrInletC", gate.MinScrInletC),
            ("gateEngineSpeedRpm", gate.MinEngineSpeedRpm), ("gateSecondsSinceStart", gate.MinSecondsSinceEngineStart));
        Init();
    }

    /// <summary>R1 state: the moving average, the minute window of exceeding seconds and the episode statistics.</summary>
    [GenerateSerializer, Alias("detection.R1.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public MovingAverage Average { get; set; } = null!;
        [Id(1)] public WindowCounter Window { get; set; } = null!;
        [Id(2)] public double Mean { get; set; } = double.NaN;
        [Id(3)] public double EpisodeMax { get; set; }
        [Id(4)] public double EpisodeSum { get; set; }
        [Id(5)] public long EpisodeCount { get; set; }

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.Average = Average.Copy();
            c.Window = Window.Copy();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;
    /// <summary>Reads R10's result: the emission gate opens when the SCR reading is implausible.</summary>
    public override IReadOnlyList<string> DependsOn => ReadsR10;

    protected override RuleData NewState() => new() { Average = new MovingAverage(_o.AverageSeconds), Window = new WindowCounter(_o.WindowMinutes) };

    protected override RuleData? Adopt(RuleData saved)
    {
        saved.Average = saved.Average?.Fit(_o.AverageSeconds) ?? new MovingAverage(_o.AverageSeconds);
        saved.Window = saved.Window?.Fit(_o.WindowMinutes) ?? new WindowCounter(_o.WindowMinutes);
        return saved;
    }

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var nox = s.NoxDownstreamPpm;
        // NOx <= 0 is the sensor's "not ready" reading (-200 ppm): not a measurement.
        if (!c.EmissionGated || !(nox > 0))
            return default;
        var st = State;
        st.Average.Add(c.Second, nox);
        if (!st.Average.Full)
            return default;
        st.Window.Advance(c.Minute);
        var mean = st.Mean = st.Average.Mean;
        if (!(mean > _o.ThresholdPpm))
            return default;
        st.Window.Count();
        if (st.Window.Total < _o.MinExceedSeconds)
            return default;
        if (!episodeOpen)
        {
            st.EpisodeMax = 0;
            st.EpisodeSum = 0;
            st.EpisodeCount = 0;
        }
        st.EpisodeMax = Math.Max(st.EpisodeMax, mean);
        st.EpisodeSum += mean;
        st.EpisodeCount++;
        return Verdict.Hold(Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        var st = State;
        m["meanNoxPpm"] = Math.Round(st.Mean, 2);
        m["maxMeanNoxPpm"] = Math.Round(st.EpisodeMax, 2);
        m["episodeMeanNoxPpm"] = st.EpisodeCount == 0 ? Math.Round(st.Mean, 2) : Math.Round(st.EpisodeSum / st.EpisodeCount, 2);
        m["exceedSecondsInWindow"] = st.Window.Total;
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"Downstream NOx {_o.AverageSeconds} s average {State.Mean:F0} ppm above {_o.ThresholdPpm:F0} ppm for {State.Window.Total} gated seconds within {_o.WindowMinutes} min (at least {_o.MinExceedSeconds} s needed).");
}

/// <summary>R1: 30 s moving average of downstream NOx above the threshold for enough gated time within a window.</summary>
public sealed class NoxConcentrationOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Downstream NOx threshold for the moving average, ppm.</summary>
    public double ThresholdPpm { get; set; } = 500;
    /// <summary>Moving-average length, s.</summary>
    public int AverageSeconds { get; set; } = 30;
    /// <summary>Gated seconds above the threshold needed within the window, s.</summary>
    public int MinExceedSeconds { get; set; } = 300;
    /// <summary>Window over which exceeding seconds are counted, min.</summary>
    public int WindowMinutes { get; set; } = 30;
}
