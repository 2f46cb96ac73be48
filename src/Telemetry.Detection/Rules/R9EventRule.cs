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

    public Dictionary<string, double> Values { get; } = new(StringComparer.Ordinal);

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder measured)
    {
        foreach (var (k, v) in Values)
            measured[k] = v;
    }

    public override string Describe() => _describe(this);

    public double Value(string key) => Values.TryGetValue(key, out var v) ? v : double.NaN;

    public static ImmutableSortedDictionary<string, double> Thr(params ReadOnlySpan<(string Key, double Value)> items) => Dict(items);
}
