using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>
/// A rule whose condition the detector establishes from frames rather than samples (offline, clock
/// skew, check-code failures, removal alarm). The detector sets the measured values, then holds it.
/// </summary>
internal sealed class EventRule : Rule
{
    private readonly bool _enabled;
    private readonly Func<EventRule, string> _describe;

    public EventRule(string id, string name, AlertSeverity severity, bool enabled, ImmutableSortedDictionary<string, double> thresholds, Func<EventRule, string> describe)
        : base(id, name, FieldMask.None, severity)
    {
        _enabled = enabled;
        _describe = describe;
        Thresholds = thresholds;
    }

    public override bool Enabled => _enabled;
    public override bool UsesSamples => false;

    public Dictionary<string, double> Values { get; } = new(StringComparer.Ordinal);

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder measured)
    {
        foreach (var (k, v) in Values)
            measured[k] = v;
    }

    public override string Describe() => _describe(this);

    public double Value(string key) => Values.TryGetValue(key, out var v) ? v : double.NaN;

    public static ImmutableSortedDictionary<string, double> Thr(params (string Key, double Value)[] items) => Dict(items);
}

/// <summary>R9 position: no valid fix while the engine runs for longer than the limit.</summary>
internal sealed class PositionInvalidRule : Rule
{
    private readonly DataQualityOptions _o;
    private double _seconds;
    private long _since = long.MinValue;

    public PositionInvalidRule(DataQualityOptions o)
        : base("R9.position", "Data quality: position invalid", FieldMask.None, AlertSeverity.Advisory)
    {
        _o = o;
        Thresholds = Dict(("positionInvalidSeconds", o.PositionInvalidSeconds));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        if ((c.Present & FieldMask.Position) != 0)
        {
            _seconds = 0;
            _since = long.MinValue;
            return;
        }
        if (!c.Running)
            return;
        if (_since == long.MinValue)
            _since = c.Second;
        _seconds += c.Dt;
        if (_seconds > _o.PositionInvalidSeconds)
            e.Hold(this, c.Second, Severity, _since);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["positionInvalidSeconds"] = Math.Round(_seconds);

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"No valid position for {_seconds / 60:F0} min while the engine ran (limit {_o.PositionInvalidSeconds / 60:F0} min).");

    public override void Save(StateBag bag)
    {
        bag.Put(_seconds);
        bag.PutLong(_since);
    }

    public override void Load(StateBag bag)
    {
        var s = bag.Number();
        _seconds = double.IsNaN(s) ? 0 : s;
        _since = bag.Long();
    }
}

/// <summary>R9 jump: implied speed between consecutive fixes above the limit.</summary>
internal sealed class PositionJumpRule : Rule
{
    private readonly DataQualityOptions _o;
    private readonly double _minJumpDeg;
    private double _lon = double.NaN;
    private double _lat;
    private long _second;
    private double _jumpKm;
    private double _impliedKmh;

    public PositionJumpRule(DataQualityOptions o)
        : base("R9.jump", "Data quality: position jump", FieldMask.Position, AlertSeverity.Advisory)
    {
        _o = o;
        // One degree of latitude is 111 km; of longitude at most that: a cheap pre-check before the great circle.
        _minJumpDeg = o.MinJumpKm / 111.5;
        Thresholds = Dict(("maxImpliedSpeedKmh", o.MaxImpliedSpeedKmh), ("minJumpKm", o.MinJumpKm));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        if ((c.Present & FieldMask.Position) == 0)
            return;
        var lon = s.Longitude;
        var lat = s.Latitude;
        if (!double.IsNaN(_lon) && (Math.Abs(lat - _lat) >= _minJumpDeg || Math.Abs(lon - _lon) >= _minJumpDeg))
        {
            var km = Physics.DistanceKm(_lon, _lat, lon, lat);
            var hours = Math.Max(1, c.Second - _second) / 3600.0;
            var implied = km / hours;
            if (km >= _o.MinJumpKm && implied > _o.MaxImpliedSpeedKmh)
            {
                _jumpKm = km;
                _impliedKmh = implied;
                e.Hold(this, c.Second, Severity);
            }
        }
        _lon = lon;
        _lat = lat;
        _second = c.Second;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["jumpKm"] = Math.Round(_jumpKm, 3);
        m["impliedSpeedKmh"] = Math.Round(_impliedKmh, 1);
    }

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"Position jumped {_jumpKm:F1} km between consecutive fixes, an implied speed of {_impliedKmh:F0} km/h (limit {_o.MaxImpliedSpeedKmh:F0} km/h).");

    public override void Save(StateBag bag)
    {
        bag.Put(_lon);
        bag.Put(_lat);
        bag.PutLong(_second);
    }

    public override void Load(StateBag bag)
    {
        _lon = bag.Number();
        _lat = bag.Number();
        _second = bag.Long(0);
    }
}

/// <summary>R9 fields: share of invalid fields (among the fields this vehicle normally reports) above the limit.</summary>
internal sealed class InvalidFieldsRule : Rule
{
    private readonly DataQualityOptions _o;
    private readonly double _minRpm;
    private readonly int[] _invalid;
    private readonly int[] _expected;
    private long _minute = long.MinValue;
    private int _index;
    private long _sumInvalid;
    private long _sumExpected;
    private double _share;

    public InvalidFieldsRule(DataQualityOptions o, GateOptions gate)
        : base("R9.fields", "Data quality: invalid fields", FieldMask.None, AlertSeverity.Advisory)
    {
        _o = o;
        _minRpm = gate.MinEngineSpeedRpm;
        var minutes = Math.Max(1, (int)Math.Ceiling(o.InvalidFieldWindowSeconds / 60));
        _invalid = new int[minutes];
        _expected = new int[minutes];
        Thresholds = Dict(("maxInvalidFieldFraction", o.MaxInvalidFieldFraction), ("windowSeconds", o.InvalidFieldWindowSeconds));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        // An engine known to be off legitimately reports many fields as not available.
        if (Sample.Has(s.EngineSpeedRpm) && s.EngineSpeedRpm < _minRpm)
            return;
        var expected = e.EverPresent;
        var n = FieldMasks.CountFields(expected);
        if (n == 0)
            return;
        var bad = FieldMasks.CountFields(expected & ~c.Present);
        if (c.Minute != _minute)
            Advance(c.Minute);
        var i = _index;
        _invalid[i] += bad;
        _expected[i] += n;
        _sumInvalid += bad;
        _sumExpected += n;
        if (bad == 0 || _sumExpected < n * 60)
            return;
        _share = (double)_sumInvalid / _sumExpected;
        if (_share > _o.MaxInvalidFieldFraction)
            e.Hold(this, c.Second, Severity);
    }

    private void Advance(long minute)
    {
        if (minute == _minute)
            return;
        if (_minute == long.MinValue || minute - _minute >= _invalid.Length || minute < _minute)
        {
            Array.Clear(_invalid);
            Array.Clear(_expected);
            _sumInvalid = 0;
            _sumExpected = 0;
        }
        else
        {
            for (var m = _minute + 1; m <= minute; m++)
            {
                var i = (int)(m % _invalid.Length);
                _sumInvalid -= _invalid[i];
                _sumExpected -= _expected[i];
                _invalid[i] = 0;
                _expected[i] = 0;
            }
        }
        _minute = minute;
        _index = (int)(minute % _invalid.Length);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["invalidFieldFraction"] = Math.Round(_share, 4);

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"{_share * 100:F0} % of the fields this terminal normally reports were invalid over {_o.InvalidFieldWindowSeconds / 60:F0} min (limit {_o.MaxInvalidFieldFraction * 100:F0} %).");
}

/// <summary>Z: driving inside a zone during its restricted hours.</summary>
internal sealed class RestrictedZoneRule : Rule
{
    private readonly ZoneOptions _o;
    private string _zone = "";

    public RestrictedZoneRule(ZoneOptions o)
        : base(RuleSet.ZoneRuleId, "Restricted zone", FieldMask.Position | FieldMask.SpeedKmh, AlertSeverity.Advisory)
    {
        _o = o;
        Thresholds = Dict(("movingSpeedKmh", o.MovingSpeedKmh), ("utcOffsetHours", o.UtcOffsetHours));
    }

    public override bool Enabled => _o.Enabled && _o.AlertOnRestrictedHours;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        if (e.CurrentZone is not { Restricted: true, HasRestrictedHours: true } zone || !(s.SpeedKmh > _o.MovingSpeedKmh) ||
            (c.Present & FieldMask.Position) == 0)
            return;
        _zone = zone.Name;
        e.Hold(this, c.Second, Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["insideRestrictedZone"] = 1;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"Driving in zone {_zone} during its restricted hours.");
}
