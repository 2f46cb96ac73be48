using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>R9 position: no valid fix while the engine runs for longer than the limit.</summary>
internal sealed class R9PositionInvalid : Rule<R9PositionInvalid.RuleData>
{
    private readonly DataQualityOptions _o;

    public R9PositionInvalid(DataQualityOptions o)
        : base("R9.position", "Data quality: position invalid", FieldMask.None, AlertSeverity.Advisory)
    {
        _o = o;
        Thresholds = Dict(("positionInvalidSeconds", o.PositionInvalidSeconds));
        Init();
    }

    /// <summary>R9 position state: running seconds without a fix and when that began.</summary>
    [GenerateSerializer, Alias("detection.R9.position.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public double Seconds { get; set; }
        [Id(1)] public long Since { get; set; } = long.MinValue;

        internal override RuleState Copy() => (RuleData)MemberwiseClone();
    }

    public override bool Enabled => _o.Enabled;

    /// <summary>The episode starts when the fix was lost, not when the limit was reached.</summary>
    public override long EpisodeStartSecond => State.Since;

    protected override RuleData NewState() => new();

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var st = State;
        if ((c.Present & FieldMask.Position) != 0)
        {
            st.Seconds = 0;
            st.Since = long.MinValue;
            return default;
        }
        if (!c.Running)
            return default;
        if (st.Since == long.MinValue)
            st.Since = c.Second;
        st.Seconds += c.Dt;
        return st.Seconds > _o.PositionInvalidSeconds ? Verdict.Hold(Severity) : default;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["positionInvalidSeconds"] = Math.Round(State.Seconds);

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"No valid position for {State.Seconds / 60:F0} min while the engine ran (limit {_o.PositionInvalidSeconds / 60:F0} min).");
}
