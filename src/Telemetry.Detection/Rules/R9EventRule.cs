using System.Collections.Immutable;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// An R9 check the detector establishes from frames rather than samples (offline, clock skew,
/// check-code failures, removal alarm). The detector sets the measured values and hands the
/// timeline's episodes a verdict; the values are part of the open episode's alert, so the rule keeps
/// no state of its own.
/// </summary>
internal sealed class R9EventRule : StatelessRule
{
    private readonly bool _enabled;
    private readonly Func<R9EventRule, string> _describe;

    public R9EventRule(string id, string name, AlertSeverity severity, bool enabled, ImmutableSortedDictionary<string, double> thresholds, Func<R9EventRule, string> describe)
        : base(id, name, FieldMask.None, severity)
    {
        _enabled = enabled;
        _describe = describe;
        Thresholds = thresholds;
    }

    public override bool Enabled => _enabled;
    public override bool UsesSamples => false;

    private Dictionary<string, double>? _values;

    /// <summary>The measured values, made on first use: most vehicles never raise these checks.</summary>
    public Dictionary<string, double> Values => _values ??= new(StringComparer.Ordinal);

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder measured)
    {
        if (_values is null)
            return;
        foreach (var (k, v) in _values)
            measured[k] = v;
    }

    public override string Describe() => _describe(this);

    public double Value(string key) => _values is not null && _values.TryGetValue(key, out var v) ? v : double.NaN;

    /// <summary>The threshold <paramref name="key"/> of this rule (the describing text reads it here, so it captures nothing).</summary>
    public double Threshold(string key) => Thresholds[key];

    public static ImmutableSortedDictionary<string, double> Thr(params ReadOnlySpan<(string Key, double Value)> items) => Dict(items);
}
