using System.Collections.Concurrent;
using System.Collections.Immutable;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// What the timeline knows about the current sample, computed once for all rules, plus the results
/// that earlier rules publish for later ones (see <see cref="Rule.Publish"/>).
/// </summary>
internal struct SampleContext
{
    public long Second;
    /// <summary>Sample minute (Second / 60), for minute-bucket windows.</summary>
    public long Minute;
    /// <summary>Seconds since the previous sample of this timeline, at most 10 (1 for the first).</summary>
    public double Dt;
    public FieldMask Present;
    /// <summary>Fields this vehicle ever reported (a field missing from the start is not "invalid").</summary>
    public FieldMask EverPresent;
    /// <summary>Engine speed at or above the running threshold.</summary>
    public bool Running;
    /// <summary>Seconds since the engine started (0 when not running).</summary>
    public double SecondsSinceStart;
    /// <summary>The emission validity gate holds (running, warm coolant, warm SCR, settled after start).</summary>
    public bool Gated;
    /// <summary>
    /// The gate holds except for the SCR inlet temperature: a warm, settled, running engine. R10 finds
    /// SCR temperature readings that exhaust energy contradicts; the emission rules then count these
    /// seconds too, so a raised sensor does not hide a truck from R1-R3.
    /// </summary>
    public bool GatedButScr;
    /// <summary>Exhaust mass flow, kg/h, or NaN.</summary>
    public double ExhaustKgph;
    /// <summary>Reference torque of the vehicle, N m, or NaN when the registry does not know it.</summary>
    public double ReferenceTorqueNm;
    /// <summary>The zone the vehicle is in (looked up every few seconds), or null.</summary>
    public ZoneHit? Zone;

    // ---- results published by earlier rules of the registry ----

    /// <summary>R10 holds: the SCR inlet reading is implausibly low for the exhaust energy (published by R10, read by the emission rules).</summary>
    public bool ScrTemperatureImplausible;
    /// <summary>Last second R3 found a low SCR efficiency, or long.MinValue (published by R3, read by R4).</summary>
    public long ScrEfficiencyLowSecond;

    /// <summary>Emission gate: the usual gate, or a warm settled engine whose SCR reading R10 does not believe.</summary>
    public readonly bool EmissionGated => Gated || (GatedButScr && ScrTemperatureImplausible);
}

/// <summary>
/// What a rule concluded about one sample or record: held or not, and at which severity. Four bytes,
/// returned in a register (a larger verdict went through the stack on every rule call). When an
/// episode opens, the episodes ask the rule for its start (<see cref="Rule.EpisodeStartSecond"/>).
/// </summary>
internal readonly struct Verdict
{
    private readonly int _severityPlusOne;

    private Verdict(int severityPlusOne) => _severityPlusOne = severityPlusOne;

    /// <summary>The rule's condition holds.</summary>
    public bool Held => _severityPlusOne != 0;

    /// <summary>Severity of the episode while it holds.</summary>
    public AlertSeverity Severity => (AlertSeverity)(_severityPlusOne - 1);

    public static Verdict Hold(AlertSeverity severity) => new((int)severity + 1);
}

/// <summary>
/// Base of every rule's persisted state. Each rule has its own sealed state type with an
/// <c>[Id]</c> per member (stable across releases: a new member takes a new id, old state leaves it at
/// its default) and a stable <c>[Alias]</c>; <see cref="Version"/> lets a rule migrate older layouts.
/// </summary>
[GenerateSerializer]
public abstract class RuleState
{
    /// <summary>Schema version of this rule's state.</summary>
    [Id(0)] public int Version { get; set; } = 1;

    /// <summary>A deep copy: the detector keeps evaluating after a snapshot is taken.</summary>
    internal abstract RuleState Copy();
}

/// <summary>
/// One detection rule of one timeline. A rule owns its options and its state; its evaluation reads
/// the sample, the context and its own state and returns a <see cref="Verdict"/>. It never calls
/// into the episode logic: the timeline's <see cref="Episodes"/> consumes verdicts.
/// </summary>
internal abstract class Rule(string id, string name, FieldMask needs, AlertSeverity severity)
{
    public string Id { get; } = id;
    public string Name { get; } = name;
    /// <summary>Inputs the rule needs; it stays silent without them.</summary>
    public FieldMask Needs { get; } = needs;
    public AlertSeverity Severity { get; } = severity;
    /// <summary>Position in the registry (set by the registry).</summary>
    public int Index { get; set; }
    public virtual bool Enabled => true;
    /// <summary>True when the rule looks at samples.</summary>
    public virtual bool UsesSamples => true;
    /// <summary>True when the rule looks at OBD records.</summary>
    public virtual bool UsesObd => false;
    /// <summary>True when the rule publishes a result into the context for later rules.</summary>
    public virtual bool Publishes => false;
    /// <summary>Ids of rules whose published results this rule reads; the registry checks they come first.</summary>
    public virtual IReadOnlyList<string> DependsOn => [];

    // Shared lists for DependsOn (a collection expression in a property would allocate on every read).
    protected static readonly IReadOnlyList<string> ReadsR10 = ["R10"];
    protected static readonly IReadOnlyList<string> ReadsR3 = ["R3"];
    public ImmutableSortedDictionary<string, double> Thresholds { get; protected init; } = ImmutableSortedDictionary<string, double>.Empty;

    /// <summary>When an episode opens now, the second its condition started (earlier than now for conditions found after a delay), else long.MinValue (now).</summary>
    public virtual long EpisodeStartSecond => long.MinValue;

    /// <summary>Evaluates one sample. <paramref name="episodeOpen"/> tells whether this rule's episode is open (to restart per-episode statistics).</summary>
    public virtual Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen) => default;

    /// <summary>Evaluates one OBD record (last-known OBD state until the next record).</summary>
    public virtual Verdict EvaluateObd(ObdSnapshot obd, long second, bool engineRunning, bool episodeOpen) => default;

    /// <summary>Writes this sample's result for later rules into the context (only when <see cref="Publishes"/>).</summary>
    public virtual void Publish(ref SampleContext c, in Verdict v)
    {
    }

    /// <summary>Writes the measured values of the current episode (from the rule's state).</summary>
    public abstract void Measure(ImmutableSortedDictionary<string, double>.Builder measured);

    /// <summary>A sentence for people that says what was found.</summary>
    public abstract string Describe();

    /// <summary>A copy of the rule's state, or null for a rule without state.</summary>
    public abstract RuleState? CaptureState();

    /// <summary>Continues from a saved state (ignored when of another type).</summary>
    public abstract void RestoreState(RuleState? state);

    // Every vehicle builds its own rule instances, but their thresholds are the same for every vehicle
    // with the same settings: one shared dictionary per distinct content instead of one per vehicle
    // and rule (about 5 KB per vehicle). The lookup hashes the (name, value) pairs as they are, with
    // no text key and no allocation, since every vehicle activation makes about 15 of these calls.
    // Bounded in case settings are reloaded very often.
    private static readonly ConcurrentDictionary<int, SharedEntry[]> SharedThresholds = new();
    private static int _sharedCount;
    private const int MaxSharedThresholds = 4096;

    private sealed record SharedEntry((string Key, double Value)[] Items, ImmutableSortedDictionary<string, double> Dictionary);

    protected static ImmutableSortedDictionary<string, double> Dict(params ReadOnlySpan<(string Key, double Value)> items)
    {
        var hash = new HashCode();
        foreach (var (k, v) in items)
        {
            hash.Add(k, StringComparer.Ordinal);
            hash.Add(BitConverter.DoubleToInt64Bits(v));
        }
        var key = hash.ToHashCode();
        if (SharedThresholds.TryGetValue(key, out var entries) && Find(entries, items) is { } shared)
            return shared;
        var b = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        foreach (var (k, v) in items)
            b[k] = v;
        var built = b.ToImmutable();
        if (Volatile.Read(ref _sharedCount) >= MaxSharedThresholds)
            return built;
        var entry = new SharedEntry(items.ToArray(), built);
        var stored = SharedThresholds.AddOrUpdate(key, _ => [entry], (_, old) => Find(old, entry.Items) is null ? [.. old, entry] : old);
        Interlocked.Increment(ref _sharedCount);
        return Find(stored, items) ?? built;

        // The dictionary of the entry with exactly these pairs (same names, same value bits), or null.
        static ImmutableSortedDictionary<string, double>? Find(SharedEntry[] entries, ReadOnlySpan<(string Key, double Value)> items)
        {
            foreach (var e in entries)
            {
                if (Same(e.Items, items))
                    return e.Dictionary;
            }
            return null;
        }

        static bool Same(ReadOnlySpan<(string Key, double Value)> a, ReadOnlySpan<(string Key, double Value)> b)
        {
            if (a.Length != b.Length)
                return false;
            for (var i = 0; i < a.Length; i++)
            {
                if (!string.Equals(a[i].Key, b[i].Key, StringComparison.Ordinal) ||
                    BitConverter.DoubleToInt64Bits(a[i].Value) != BitConverter.DoubleToInt64Bits(b[i].Value))
                    return false;
            }
            return true;
        }
    }
}

/// <summary>A rule with a typed state.</summary>
internal abstract class Rule<TState>(string id, string name, FieldMask needs, AlertSeverity severity) : Rule(id, name, needs, severity)
    where TState : RuleState
{
    /// <summary>The rule's state; replaced on restore.</summary>
    protected TState State { get; private set; } = null!;

    /// <summary>A fresh state for these options.</summary>
    protected abstract TState NewState();

    /// <summary>Fits a restored state to the current options (window lengths may have changed), or returns null to start fresh.</summary>
    protected virtual TState? Adopt(TState saved) => saved;

    protected void Init() => State = NewState();

    public sealed override RuleState CaptureState() => State.Copy();

    public sealed override void RestoreState(RuleState? state)
    {
        State = state is TState t && Adopt((TState)t.Copy()) is { } adopted ? adopted : NewState();
    }

    /// <summary>The live state (tests, migration).</summary>
    internal TState Current => State;
}

/// <summary>A rule without state of its own.</summary>
internal abstract class StatelessRule(string id, string name, FieldMask needs, AlertSeverity severity) : Rule(id, name, needs, severity)
{
    public sealed override RuleState? CaptureState() => null;

    public sealed override void RestoreState(RuleState? state)
    {
    }
}
