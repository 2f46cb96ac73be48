using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>Z: driving inside a zone during its restricted hours.</summary>
internal sealed class ZRestrictedZone : Rule<ZRestrictedZone.RuleData>
{
    private readonly ZoneOptions _o;

    public ZRestrictedZone(ZoneOptions o)
        : base(RuleRegistry.ZoneRuleId, "Restricted zone", FieldMask.Position | FieldMask.SpeedKmh, AlertSeverity.Advisory)
    {
        _o = o;
        Thresholds = Dict(("movingSpeedKmh", o.MovingSpeedKmh), ("utcOffsetHours", o.UtcOffsetHours));
        Init();
    }

    /// <summary>Z state: the zone of the episode.</summary>
    [GenerateSerializer, Alias("detection.Z.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public string Zone { get; set; } = "";

        internal override RuleState Copy() => (RuleData)MemberwiseClone();
    }

    public override bool Enabled => _o.Enabled && _o.AlertOnRestrictedHours;

    protected override RuleData NewState() => new();

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        if (c.Zone is not { Restricted: true, HasRestrictedHours: true } zone || !(s.SpeedKmh > _o.MovingSpeedKmh) ||
            (c.Present & FieldMask.Position) == 0)
            return default;
        State.Zone = zone.Name;
        return Verdict.Hold(Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["insideRestrictedZone"] = 1;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"Driving in zone {State.Zone} during its restricted hours.");
}

/// <summary>Z: low-emission zones and restricted hours.</summary>
public sealed class ZoneOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Restricted hours are local time at this offset from UTC (China Standard Time: 8), h.</summary>
    public double UtcOffsetHours { get; set; } = 8;
    /// <summary>How often (sample time) the zone of a moving vehicle is looked up, s.</summary>
    public double CheckIntervalSeconds { get; set; } = 10;
    /// <summary>Open a Z episode when a vehicle drives in a zone during its restricted hours.</summary>
    public bool AlertOnRestrictedHours { get; set; } = true;
    /// <summary>Speed above which the vehicle is driving, km/h.</summary>
    public double MovingSpeedKmh { get; set; } = 5;
}
