using System.Runtime.CompilerServices;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// The rules of one timeline in evaluation order. A rule that reads another's published result
/// (<see cref="Rule.DependsOn"/>) must come after it; the registry checks that when it is built.
/// Adding a rule: one file under <c>Rules/</c> and one line in <see cref="Create"/>. The built-in
/// sample rules are called directly (a fast path); a rule added later runs after them through the
/// virtual <see cref="Rule.Evaluate"/>, which keeps its dependencies satisfied since built-in rules
/// never read later rules' results.
/// </summary>
internal sealed class RuleRegistry
{
    public const string ZoneRuleId = "Z";

    /// <summary>Fields the emission validity gate reads.</summary>
    public const FieldMask GateFields = FieldMask.EngineSpeedRpm | FieldMask.CoolantTempC | FieldMask.ScrInletTempC;

    private readonly Rule[] _obdRules;

    // Fast path: the built-in sample rules, called directly (sealed types, so the JIT devirtualizes
    // and may inline them); null when disabled. Rules added later run after them through the
    // virtual Rule.Evaluate (_others). Built-in rules never read a later rule's result, so running
    // them first keeps every dependency satisfied. Measured: about 25 ns per sample of 12 rules.
    private readonly R10ScrTemperature? _r10;
    private readonly R1NoxConcentration? _r1;
    private readonly R2SpecificNox? _r2;
    private readonly R3ScrEfficiency? _r3;
    private readonly R4UreaTampering? _r4;
    private readonly R5NoxSensor? _r5;
    private readonly R6DpfRemoved? _r6;
    private readonly R7MilDriving? _r7;
    private readonly R9PositionInvalid? _position;
    private readonly R9PositionJump? _jump;
    private readonly R9InvalidFields? _fields;
    private readonly ZRestrictedZone? _zone;
    private readonly Rule[] _others;
    private readonly R7MilDriving? _mil;
    private readonly bool[] _othersPublish;

    /// <summary>A registry of <paramref name="all"/> in this order; throws when an id repeats or a rule comes before a rule it reads.</summary>
    internal RuleRegistry(Rule[] all)
    {
        All = all;
        // Every vehicle activation builds a registry, so this avoids LINQ and hashing: a few dozen rules
        // compared pairwise cost less than the sets that would do it.
        var sampleCount = 0;
        var obdCount = 0;
        for (var i = 0; i < all.Length; i++)
        {
            var r = all[i];
            r.Index = i;
            if (IndexOf(all, i, r.Id) >= 0)
                throw new InvalidOperationException($"Rule id {r.Id} is registered twice.");
            foreach (var d in r.DependsOn)
            {
                if (IndexOf(all, i, d) < 0)
                    throw new InvalidOperationException($"Rule {r.Id} reads the result of {d}, which must be registered before it.");
            }
            if (r.Enabled)
            {
                sampleCount += r.UsesSamples ? 1 : 0;
                obdCount += r.UsesObd ? 1 : 0;
            }
        }
        var sampleRules = new Rule[sampleCount];
        _obdRules = obdCount == 0 ? [] : new Rule[obdCount];
        sampleCount = obdCount = 0;
        foreach (var r in all)
        {
            if (!r.Enabled)
                continue;
            if (r.UsesSamples)
                sampleRules[sampleCount++] = r;
            if (r.UsesObd)
                _obdRules[obdCount++] = r;
        }

        // The fast path needs the built-in rules in their usual relative order; otherwise every rule
        // runs through the virtual call in registry order.
        List<Rule>? others = null;
        var builtIn = 0;
        var ordered = true;
        foreach (var r in sampleRules)
        {
            var rank = BuiltInRank(r);
            if (rank < 0)
            {
                (others ??= []).Add(r);
                continue;
            }
            ordered &= rank >= builtIn;
            builtIn = rank;
        }
        if (ordered)
        {
            foreach (var r in sampleRules)
            {
                switch (r)
                {
                    case R10ScrTemperature x: _r10 = x; break;
                    case R1NoxConcentration x: _r1 = x; break;
                    case R2SpecificNox x: _r2 = x; break;
                    case R3ScrEfficiency x: _r3 = x; break;
                    case R4UreaTampering x: _r4 = x; break;
                    case R5NoxSensor x: _r5 = x; break;
                    case R6DpfRemoved x: _r6 = x; break;
                    case R7MilDriving x: _r7 = x; break;
                    case R9PositionInvalid x: _position = x; break;
                    case R9PositionJump x: _jump = x; break;
                    case R9InvalidFields x: _fields = x; break;
                    case ZRestrictedZone x: _zone = x; break;
                    default: break;
                }
            }
            _others = others is null ? [] : [.. others];
        }
        else
        {
            _others = sampleRules;
        }
        _othersPublish = _others.Length == 0 ? [] : Array.ConvertAll(_others, r => r.Publishes);
        Offline = Event("R9.offline");
        Clock = Event("R9.clock");
        CheckCode = Event("R9.checkcode");
        Removal = Event("R9.removal");
        _mil = Array.Find(all, static r => r is R7MilDriving { Enabled: true }) as R7MilDriving;

        R9EventRule Event(string id) => IndexOf(all, all.Length, id) is var k and >= 0 ? (R9EventRule)all[k] : null!;
    }

    /// <summary>Position of the rule with <paramref name="id"/> among the first <paramref name="count"/> of <paramref name="rules"/>, or -1.</summary>
    private static int IndexOf(Rule[] rules, int count, string id)
    {
        for (var i = 0; i < count; i++)
        {
            if (string.Equals(rules[i].Id, id, StringComparison.Ordinal))
                return i;
        }
        return -1;
    }

    /// <summary>Every rule, in evaluation order; a rule's index is its position here.</summary>
    public Rule[] All { get; }
    public R9EventRule Offline { get; }
    public R9EventRule Clock { get; }
    public R9EventRule CheckCode { get; }
    public R9EventRule Removal { get; }

    public Rule? Find(string id) => Array.Find(All, r => r.Id == id);

    /// <summary>Whether the malfunction lamp is lit at <paramref name="second"/>, as R7 knows it (off when R7 is disabled).</summary>
    public bool MilOn(long second) => _mil?.Lit(second) ?? false;

    /// <summary>Runs every enabled sample rule on one sample in order; hands each verdict to the episodes and each published result to later rules.</summary>
    public void Evaluate(in Sample s, ref SampleContext c, Episodes episodes)
    {
        if (_r10 is { } r10)
            r10.Publish(ref c, Run(r10, s, c, episodes));
        if (_r1 is { } r1)
            Run(r1, s, c, episodes);
        if (_r2 is { } r2)
            Run(r2, s, c, episodes);
        if (_r3 is { } r3)
            r3.Publish(ref c, Run(r3, s, c, episodes));
        if (_r4 is { } r4)
            Run(r4, s, c, episodes);
        if (_r5 is { } r5)
            Run(r5, s, c, episodes);
        if (_r6 is { } r6)
            Run(r6, s, c, episodes);
        if (_r7 is { } r7)
            Run(r7, s, c, episodes);
        if (_position is { } position)
            Run(position, s, c, episodes);
        if (_jump is { } jump)
            Run(jump, s, c, episodes);
        if (_fields is { } fields)
            Run(fields, s, c, episodes);
        if (_zone is { } zone)
            Run(zone, s, c, episodes);

        var rules = _others;
        var publishes = _othersPublish;
        for (var i = 0; i < rules.Length; i++)
        {
            var r = rules[i];
            var v = Run(r, s, c, episodes);
            if (publishes[i])
                r.Publish(ref c, v);
        }
    }

    /// <summary>One rule on one sample: its verdict goes to the episodes. Inlined, so a sealed rule type is called directly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Verdict Run<TRule>(TRule r, in Sample s, in SampleContext c, Episodes episodes)
        where TRule : Rule
    {
        var open = episodes.IsOpen(r.Index);
        var v = r.Evaluate(s, c, open);
        if (v.Held)
            episodes.Hold(r, c.Second, v.Severity, open ? long.MinValue : r.EpisodeStartSecond);
        return v;
    }

    /// <summary>Position of a built-in sample rule in the fast path, or -1 for another rule.</summary>
    private static int BuiltInRank(Rule r) => r switch
    {
        R10ScrTemperature => 0,
        R1NoxConcentration => 1,
        R2SpecificNox => 2,
        R3ScrEfficiency => 3,
        R4UreaTampering => 4,
        R5NoxSensor => 5,
        R6DpfRemoved => 6,
        R7MilDriving => 7,
        R9PositionInvalid => 8,
        R9PositionJump => 9,
        R9InvalidFields => 10,
        ZRestrictedZone => 11,
        _ => -1,
    };

    /// <summary>Runs every enabled OBD rule on one OBD record.</summary>
    public void EvaluateObd(ObdSnapshot obd, long second, bool engineRunning, Episodes episodes)
    {
        foreach (var r in _obdRules)
        {
            var open = episodes.IsOpen(r.Index);
            var v = r.EvaluateObd(obd, second, engineRunning, open);
            if (v.Held)
                episodes.Hold(r, second, v.Severity, open ? long.MinValue : r.EpisodeStartSecond);
        }
    }

    public static RuleRegistry Create(DetectionOptions o)
    {
        var q = o.R9;
        Rule[] all =
        [
            new R10ScrTemperature(o.R10),
            new R1NoxConcentration(o.R1, o.Gate),
            new R2SpecificNox(o.R2, o.Physics, o.Episodes),
            new R3ScrEfficiency(o.R3),
            new R4UreaTampering(o.R4, o.Episodes),
            new R5NoxSensor(o.R5),
            new R6DpfRemoved(o.R6),
            new R7MilDriving(o.R7),
            new R8ObdTampering(o.R8),
            new R9EventRule("R9.offline", "Data quality: terminal offline", AlertSeverity.Warning, q.Enabled,
                R9EventRule.Thr(("offlineCadenceFactor", q.OfflineCadenceFactor), ("offlineMinSilenceSeconds", q.OfflineMinSilenceSeconds)),
                static r => FormattableString.Invariant($"No frame for {r.Value("silenceSeconds"):F0} s (expected every {r.Value("expectedCadenceSeconds"):F0} s) while the engine was running at {r.Value("lastSpeedKmh"):F0} km/h: terminal silent while driving.")),
            new R9PositionInvalid(q),
            new R9PositionJump(q),
            new R9EventRule("R9.clock", "Data quality: clock skew", AlertSeverity.Advisory, q.Enabled,
                R9EventRule.Thr(("maxClockSkewSeconds", q.MaxClockSkewSeconds)),
                static r => FormattableString.Invariant($"Terminal clock differs from arrival time by {r.Value("clockSkewSeconds"):F0} s (limit {r.Threshold("maxClockSkewSeconds"):F0} s).")),
            new R9InvalidFields(q, o.Gate),
            new R9EventRule("R9.checkcode", "Data quality: check-code failures", AlertSeverity.Advisory, q.Enabled,
                R9EventRule.Thr(("minCheckCodeFailures", q.MinCheckCodeFailures), ("windowMinutes", q.CheckCodeWindowMinutes)),
                static r => FormattableString.Invariant($"{r.Value("checkCodeFailures"):F0} frames failed their check code within {r.Threshold("windowMinutes"):F0} min.")),
            new R9EventRule("R9.removal", "Data quality: terminal removal alarm", AlertSeverity.Critical, q.Enabled && q.RemovalAlarm,
                R9EventRule.Thr(("removalAlarm", 1)),
                static _ => "The terminal raised a removal (anti-tamper) alarm."),
            new ZRestrictedZone(o.Zones),
            new R9SignatureFailures(q),
        ];
        return new RuleRegistry(all);
    }
}
