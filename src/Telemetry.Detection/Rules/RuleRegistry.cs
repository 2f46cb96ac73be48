using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// The rules of one timeline in evaluation order. A rule that reads another's published result
/// (<see cref="Rule.DependsOn"/>) must come after it; the registry checks that when it is built.
/// Adding a rule: one file under <c>Rules/</c> and one line in <see cref="Create"/>.
/// </summary>
internal sealed class RuleRegistry
{
    public const string ZoneRuleId = "Z";

    /// <summary>Fields the emission validity gate reads.</summary>
    public const FieldMask GateFields = FieldMask.EngineSpeedRpm | FieldMask.CoolantTempC | FieldMask.ScrInletTempC;

    private readonly Rule[] _sampleRules;
    private readonly bool[] _publishes;
    private readonly Rule[] _obdRules;

    /// <summary>A registry of <paramref name="all"/> in this order; throws when an id repeats or a rule comes before a rule it reads.</summary>
    internal RuleRegistry(Rule[] all)
    {
        All = all;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < all.Length; i++)
        {
            var r = all[i];
            r.Index = i;
            if (!seen.Add(r.Id))
                throw new InvalidOperationException($"Rule id {r.Id} is registered twice.");
            foreach (var d in r.DependsOn)
            {
                if (!seen.Contains(d))
                    throw new InvalidOperationException($"Rule {r.Id} reads the result of {d}, which must be registered before it.");
            }
        }
        _sampleRules = [.. all.Where(r => r.Enabled && r.UsesSamples)];
        _publishes = [.. _sampleRules.Select(r => r.Publishes)];
        _obdRules = [.. all.Where(r => r.Enabled && r.UsesObd)];
        Offline = Event("R9.offline");
        Clock = Event("R9.clock");
        CheckCode = Event("R9.checkcode");
        Removal = Event("R9.removal");

        R9EventRule Event(string id) => (R9EventRule)Array.Find(all, r => r.Id == id)!;
    }

    /// <summary>Every rule, in evaluation order; a rule's index is its position here.</summary>
    public Rule[] All { get; }
    public R9EventRule Offline { get; }
    public R9EventRule Clock { get; }
    public R9EventRule CheckCode { get; }
    public R9EventRule Removal { get; }

    public Rule? Find(string id) => Array.Find(All, r => r.Id == id);

    /// <summary>Runs every enabled sample rule on one sample in order; hands each verdict to the episodes and each published result to later rules.</summary>
    public void Evaluate(in Sample s, ref SampleContext c, Episodes episodes)
    {
        var rules = _sampleRules;
        var publishes = _publishes;
        for (var i = 0; i < rules.Length; i++)
        {
            var r = rules[i];
            var open = episodes.IsOpen(r.Index);
            var v = r.Evaluate(s, c, open);
            if (v.Held)
                episodes.Hold(r, c.Second, v.Severity, open ? long.MinValue : r.EpisodeStartSecond);
            if (publishes[i])
                r.Publish(ref c, v);
        }
    }

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
                r => FormattableString.Invariant($"No frame for {r.Value("silenceSeconds"):F0} s (expected every {r.Value("expectedCadenceSeconds"):F0} s) while the engine was running at {r.Value("lastSpeedKmh"):F0} km/h: terminal silent while driving.")),
            new R9PositionInvalid(q),
            new R9PositionJump(q),
            new R9EventRule("R9.clock", "Data quality: clock skew", AlertSeverity.Advisory, q.Enabled,
                R9EventRule.Thr(("maxClockSkewSeconds", q.MaxClockSkewSeconds)),
                r => FormattableString.Invariant($"Terminal clock differs from arrival time by {r.Value("clockSkewSeconds"):F0} s (limit {q.MaxClockSkewSeconds:F0} s).")),
            new R9InvalidFields(q, o.Gate),
            new R9EventRule("R9.checkcode", "Data quality: check-code failures", AlertSeverity.Advisory, q.Enabled,
                R9EventRule.Thr(("minCheckCodeFailures", q.MinCheckCodeFailures), ("windowMinutes", q.CheckCodeWindowMinutes)),
                r => FormattableString.Invariant($"{r.Value("checkCodeFailures"):F0} frames failed their check code within {q.CheckCodeWindowMinutes:F0} min.")),
            new R9EventRule("R9.removal", "Data quality: terminal removal alarm", AlertSeverity.Critical, q.Enabled && q.RemovalAlarm,
                R9EventRule.Thr(("removalAlarm", 1)),
                _ => "The terminal raised a removal (anti-tamper) alarm."),
            new ZRestrictedZone(o.Zones),
        ];
        return new RuleRegistry(all);
    }
}
