using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>R9 fields: share of invalid fields (among the fields this vehicle normally reports) above the limit.</summary>
internal sealed class R9InvalidFields : Rule<R9InvalidFields.RuleData>
{
    private readonly DataQualityOptions _o;
    private readonly double _minRpm;
    private readonly int _minutes;

    public R9InvalidFields(DataQualityOptions o, GateOptions gate)
        : base("R9.fields", "Data quality: invalid fields", FieldMask.None, AlertSeverity.Advisory)
    {
        _o = o;
        _minRpm = gate.MinEngineSpeedRpm;
        _minutes = Math.Max(1, (int)Math.Ceiling(o.InvalidFieldWindowSeconds / 60));
        Thresholds = Dict(("maxInvalidFieldFraction", o.MaxInvalidFieldFraction), ("windowSeconds", o.InvalidFieldWindowSeconds));
        Init();
    }

    /// <summary>R9 fields state: invalid and expected field counts per minute over the window.</summary>
    [GenerateSerializer, Alias("detection.R9.fields.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public int[] Invalid { get; set; } = [];
        [Id(1)] public int[] Expected { get; set; } = [];
        [Id(2)] public long Minute { get; set; } = long.MinValue;
        [Id(3)] public int Index { get; set; }
        [Id(4)] public long SumInvalid { get; set; }
        [Id(5)] public long SumExpected { get; set; }
        [Id(6)] public double Share { get; set; }

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.Invalid = (int[])Invalid.Clone();
            c.Expected = (int[])Expected.Clone();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;

    protected override RuleData NewState() => new() { Invalid = new int[_minutes], Expected = new int[_minutes] };

    protected override RuleData? Adopt(RuleData saved) => saved.Invalid?.Length == _minutes && saved.Expected?.Length == _minutes ? saved : null;

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        // An engine known to be off legitimately reports many fields as not available.
        if (Sample.Has(s.EngineSpeedRpm) && s.EngineSpeedRpm < _minRpm)
            return default;
        var expected = c.EverPresent;
        var n = FieldMasks.CountFields(expected);
        if (n == 0)
            return default;
        var st = State;
        var bad = FieldMasks.CountFields(expected & ~c.Present);
        if (c.Minute != st.Minute)
            Advance(st, c.Minute);
        var i = st.Index;
        st.Invalid[i] += bad;
        st.Expected[i] += n;
        st.SumInvalid += bad;
        st.SumExpected += n;
        if (bad == 0 || st.SumExpected < n * 60)
            return default;
        st.Share = (double)st.SumInvalid / st.SumExpected;
        return st.Share > _o.MaxInvalidFieldFraction ? Verdict.Hold(Severity) : default;
    }

    private static void Advance(RuleData st, long minute)
    {
        var len = st.Invalid.Length;
        if (st.Minute == long.MinValue || minute - st.Minute >= len || minute < st.Minute)
        {
            Array.Clear(st.Invalid);
            Array.Clear(st.Expected);
            st.SumInvalid = 0;
            st.SumExpected = 0;
        }
        else
        {
            for (var m = st.Minute + 1; m <= minute; m++)
            {
                var i = (int)(m % len);
                st.SumInvalid -= st.Invalid[i];
                st.SumExpected -= st.Expected[i];
                st.Invalid[i] = 0;
                st.Expected[i] = 0;
            }
        }
        st.Minute = minute;
        st.Index = (int)(minute % len);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["invalidFieldFraction"] = Math.Round(State.Share, 4);

    public override string Describe() => string.Create(CultureInfo.InvariantCulture, $"{State.Share * 100:F0} % of the fields this terminal normally reports were invalid over {_o.InvalidFieldWindowSeconds / 60:F0} min (limit {_o.MaxInvalidFieldFraction * 100:F0} %).");
}
