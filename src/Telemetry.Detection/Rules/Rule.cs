using System.Collections.Immutable;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>What the evaluator knows about the current sample, computed once for all rules.</summary>
internal readonly struct SampleContext
{
    public required long Second { get; init; }
    /// <summary>Sample minute (Second / 60), for minute-bucket windows.</summary>
    public required long Minute { get; init; }
    /// <summary>Seconds since the previous sample of this timeline, at most 10 (1 for the first).</summary>
    public required double Dt { get; init; }
    public required FieldMask Present { get; init; }
    /// <summary>Engine speed at or above the running threshold.</summary>
    public required bool Running { get; init; }
    /// <summary>The emission validity gate holds (running, warm coolant, warm SCR, settled after start).</summary>
    public required bool Gated { get; init; }
    /// <summary>Exhaust mass flow, kg/h, or NaN.</summary>
    public required double ExhaustKgph { get; init; }
    /// <summary>Reference torque of the vehicle, N m, or NaN when the registry does not know it.</summary>
    public required double ReferenceTorqueNm { get; init; }
}

/// <summary>
/// One detection rule of one timeline. Rules keep their own compact state, call
/// <see cref="Evaluator.Hold"/> for each second their condition holds, and describe themselves
/// for the alert (thresholds, measured values, a sentence).
/// </summary>
internal abstract class Rule(string id, string name, FieldMask needs, AlertSeverity severity)
{
    public string Id { get; } = id;
    public string Name { get; } = name;
    /// <summary>Inputs the rule needs; it stays silent without them.</summary>
    public FieldMask Needs { get; } = needs;
    public AlertSeverity Severity { get; } = severity;
    public int Index { get; set; }
    public virtual bool Enabled => true;
    /// <summary>True when the rule looks at samples (false for event rules held by the detector).</summary>
    public virtual bool UsesSamples => true;
    public ImmutableSortedDictionary<string, double> Thresholds { get; protected init; } = ImmutableSortedDictionary<string, double>.Empty;

    public virtual void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
    }

    public virtual void OnObd(ObdSnapshot obd, long second, Evaluator e)
    {
    }

    /// <summary>
    /// Restarts per-episode statistics. A rule calls it itself when its condition holds and no
    /// episode is open, before adding the value that opens the episode.
    /// </summary>
    public virtual void OnEpisodeOpened()
    {
    }

    /// <summary>Writes the measured values of the current episode.</summary>
    public abstract void Measure(ImmutableSortedDictionary<string, double>.Builder measured);

    /// <summary>A sentence for people that says what was found.</summary>
    public abstract string Describe();

    public virtual void Save(StateBag bag)
    {
    }

    public virtual void Load(StateBag bag)
    {
    }

    protected static ImmutableSortedDictionary<string, double> Dict(params (string Key, double Value)[] items)
    {
        var b = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        foreach (var (k, v) in items)
            b[k] = v;
        return b.ToImmutable();
    }
}

/// <summary>Numbers and texts of rule state, written and read in the same order.</summary>
internal sealed class StateBag
{
    private int _n;
    private int _t;

    public List<double> Numbers { get; } = [];
    public List<string> Texts { get; } = [];

    public void Put(double value) => Numbers.Add(value);
    public void Put(string? value) => Texts.Add(value ?? "");

    public double Number() => _n < Numbers.Count ? Numbers[_n++] : double.NaN;
    public string Text() => _t < Texts.Count ? Texts[_t++] : "";
    public long Long(long fallback = long.MinValue)
    {
        var v = Number();
        return double.IsNaN(v) ? fallback : (long)v;
    }

    public void PutLong(long value) => Numbers.Add(value == long.MinValue ? double.NaN : value);
}
