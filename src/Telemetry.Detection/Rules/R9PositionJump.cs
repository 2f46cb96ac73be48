using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>R9 jump: implied speed between consecutive fixes above the limit.</summary>
internal sealed class R9PositionJump : Rule<R9PositionJump.RuleData>
{
    private readonly DataQualityOptions _o;
    private readonly double _minJumpDeg;

    public R9PositionJump(DataQualityOptions o)
        : base("R9.jump", "Data quality: position jump", FieldMask.Position, AlertSeverity.Advisory)
    {
        _o = o;
        // One degree of latitude is 111 km; of longitude at most that: a cheap pre-check before the great circle.
        _minJumpDeg = o.MinJumpKm / 111.5;
        Thresholds = Dict(("maxImpliedSpeedKmh", o.MaxImpliedSpeedKmh), ("minJumpKm", o.MinJumpKm));
        Init();
    }

    /// <summary>R9 jump state: the previous fix and the last jump found.</summary>
    [GenerateSerializer, Alias("detection.R9.jump.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public double Longitude { get; set; } = double.NaN;
        [Id(1)] public double Latitude { get; set; }
        [Id(2)] public long Second { get; set; }
        [Id(3)] public double JumpKm { get; set; }
        [Id(4)] public double ImpliedKmh { get; set; }

        internal override RuleState Copy() => (RuleData)MemberwiseClone();
    }

    public override bool Enabled => _o.Enabled;

    protected override RuleData NewState() => new();

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        if ((c.Present & FieldMask.Position) == 0)
            return default;
        var st = State;
        var lon = s.Longitude;
        var lat = s.Latitude;
        var held = false;
        if (!double.IsNaN(st.Longitude) && (Math.Abs(lat - st.Latitude) >= _minJumpDeg || Math.Abs(lon - st.Longitude) >= _minJumpDeg))
        {
            var km = Physics.DistanceKm(st.Longitude, st.Latitude, lon, lat);
            var hours = Math.Max(1, c.Second - st.Second) / 3600.0;
            var implied = km / hours;
            if (km >= _o.MinJumpKm && implied > _o.MaxImpliedSpeedKmh)
            {
                st.JumpKm = km;
                st.ImpliedKmh = implied;
                held = true;
            }
        }
        st.Longitude = lon;
        st.Latitude = lat;
        st.Second = c.Second;
        return held ? Verdict.Hold(Severity) : default;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["jumpKm"] = Math.Round(State.JumpKm, 3);
        m["impliedSpeedKmh"] = Math.Round(State.ImpliedKmh, 1);
    }

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"Position jumped {State.JumpKm:F1} km between consecutive fixes, an implied speed of {State.ImpliedKmh:F0} km/h (limit {_o.MaxImpliedSpeedKmh:F0} km/h).");
}
