using System.Text.Json;
using System.Text.Json.Serialization;
using Telemetry.Abstractions;
using Telemetry.Detection;

namespace Telemetry.Simulation;

/// <summary>Score of one rule over the suite.</summary>
public sealed record RuleScore
{
    public required string RuleId { get; init; }
    /// <summary>Scenarios that injected a fault this rule must detect.</summary>
    public int Injected { get; init; }
    public int Detected { get; init; }
    public int Missed { get; init; }
    /// <summary>Episodes of this rule where none was expected nor allowed.</summary>
    public int FalseAlerts { get; init; }
    /// <summary>Sample time the episode opened minus fault start, s (mean and max over detections).</summary>
    public double? MeanDetectionDelaySeconds { get; init; }
    public double? MaxDetectionDelaySeconds { get; init; }
}

/// <summary>One episode as the report shows it.</summary>
public sealed record EpisodeSummary(string Id, string RuleId, AlertSeverity Severity, DateTime StartUtc, DateTime? EndUtc, string? Zone,
    int Revision, int EvidenceSamples, string Summary, string Verdict);

/// <summary>Score of one scenario.</summary>
public sealed record ScenarioScore
{
    public required string Name { get; init; }
    public required string Cycle { get; init; }
    public required bool Clean { get; init; }
    public required string Delivery { get; init; }
    public double DurationMinutes { get; init; }
    public IReadOnlyList<string> Faults { get; init; } = [];
    public IReadOnlyList<string> Expected { get; init; } = [];
    public int Detected { get; init; }
    public int Missed { get; init; }
    public int FalseAlerts { get; init; }
    /// <summary>Further episodes of an expected rule within its fault window (a split episode).</summary>
    public int ExtraEpisodes { get; init; }
    public int SamplesAccepted { get; init; }
    public int Duplicates { get; init; }
    public int Late { get; init; }
    public int Reissued { get; init; }
    public IReadOnlyList<EpisodeSummary> Episodes { get; init; } = [];
}

/// <summary>Totals.</summary>
public sealed record OverallScore
{
    public int Scenarios { get; init; }
    public int Injected { get; init; }
    public int Detected { get; init; }
    public int Missed { get; init; }
    public int FalseAlerts { get; init; }
    public int FalseAlertsOnCleanCycles { get; init; }
    public int ExtraEpisodes { get; init; }
    public double? MeanDetectionDelaySeconds { get; init; }
    /// <summary>Every injected scenario detected and no false alert anywhere.</summary>
    public bool Passed { get; init; }
}

/// <summary>
/// The scenario suite's verdict: per rule injected, detected, missed, false alerts and detection
/// delay; per scenario the episodes with their verdicts; overall totals.
/// </summary>
public sealed record ScenarioReport
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public required OverallScore Overall { get; init; }
    public required IReadOnlyList<RuleScore> Rules { get; init; }
    public required IReadOnlyList<ScenarioScore> Scenarios { get; init; }

    /// <summary>The report as indented camelCase JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a report written by <see cref="ToJson"/>.</summary>
    public static ScenarioReport? FromJson(string json) => JsonSerializer.Deserialize<ScenarioReport>(json, Json);

    /// <summary>Runs every scenario (or the filtered ones) and scores them.</summary>
    public static ScenarioReport Run(ScenarioSuiteOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var hysteresis = (options.Detection ?? new DetectionOptions()).Episodes.HysteresisSeconds;
        var scenarios = new List<ScenarioScore>();
        var perRule = new SortedDictionary<string, RuleAcc>(StringComparer.Ordinal);
        RuleAcc Acc(string id) => perRule.TryGetValue(id, out var a) ? a : perRule[id] = new RuleAcc();

        var all = ScenarioSuite.All;
        for (var i = 0; i < all.Count; i++)
        {
            var scenario = all[i];
            if (options.Filter is { Length: > 0 } f && !scenario.Name.Contains(f, StringComparison.OrdinalIgnoreCase))
                continue;
            var run = ScenarioSuite.Execute(scenario, options.Seed + i, options);
            scenarios.Add(Score(run, hysteresis, Acc));
        }

        var rules = perRule.Select(kv => new RuleScore
        {
            RuleId = kv.Key,
            Injected = kv.Value.Injected,
            Detected = kv.Value.Detected,
            Missed = kv.Value.Injected - kv.Value.Detected,
            FalseAlerts = kv.Value.False,
            MeanDetectionDelaySeconds = kv.Value.Delays.Count == 0 ? null : Math.Round(kv.Value.Delays.Average(), 1),
            MaxDetectionDelaySeconds = kv.Value.Delays.Count == 0 ? null : kv.Value.Delays.Max(),
        }).ToList();
        var delays = perRule.Values.SelectMany(a => a.Delays).ToList();
        var overall = new OverallScore
        {
            Scenarios = scenarios.Count,
            Injected = rules.Sum(r => r.Injected),
            Detected = rules.Sum(r => r.Detected),
            Missed = rules.Sum(r => r.Missed),
            FalseAlerts = scenarios.Sum(s => s.FalseAlerts),
            FalseAlertsOnCleanCycles = scenarios.Where(s => s.Clean).Sum(s => s.FalseAlerts),
            ExtraEpisodes = scenarios.Sum(s => s.ExtraEpisodes),
            MeanDetectionDelaySeconds = delays.Count == 0 ? null : Math.Round(delays.Average(), 1),
            Passed = rules.Sum(r => r.Missed) == 0 && scenarios.Sum(s => s.FalseAlerts) == 0,
        };
        return new ScenarioReport { Overall = overall, Rules = rules, Scenarios = scenarios };
    }

    private static ScenarioScore Score(ScenarioRun run, double hysteresis, Func<string, RuleAcc> acc)
    {
        var s = run.Scenario;
        var episodes = run.Episodes;
        var verdicts = new string[episodes.Count];
        int detected = 0, missed = 0, falseAlerts = 0, extra = 0;
        foreach (var e in s.Expected)
        {
            var from = run.StartUtc.AddMinutes(e.FromMinute);
            var to = run.StartUtc.AddMinutes(e.ToMinute).AddSeconds(hysteresis);
            var a = acc(e.RuleId);
            a.Injected++;
            var found = false;
            for (var k = 0; k < episodes.Count; k++)
            {
                var ep = episodes[k];
                if (ep.RuleId != e.RuleId || verdicts[k] is not null || ep.StartUtc < from.AddSeconds(-60) || ep.StartUtc > to)
                    continue;
                if (!found)
                {
                    found = true;
                    verdicts[k] = "detected";
                    a.Detected++;
                    a.Delays.Add((run.DetectedUtc(ep) - from).TotalSeconds);
                }
                else
                {
                    verdicts[k] = "extra";
                    extra++;
                }
            }
            if (found)
                detected++;
            else
                missed++;
        }
        for (var k = 0; k < episodes.Count; k++)
        {
            if (verdicts[k] is not null)
                continue;
            if (s.Allowed.Contains(episodes[k].RuleId))
            {
                verdicts[k] = "allowed";
                continue;
            }
            verdicts[k] = "false";
            falseAlerts++;
            acc(episodes[k].RuleId).False++;
        }
        return new ScenarioScore
        {
            Name = s.Name,
            Cycle = s.Cycle.ToString(),
            Clean = s.Clean,
            Delivery = s.Delivery.ToString(),
            DurationMinutes = s.DurationMinutes,
            Faults = [.. s.Faults.Select(f => FormattableString.Invariant($"{f.Fault} {f.FromMinute}-{f.ToMinute} min"))],
            Expected = [.. s.Expected.Select(e => FormattableString.Invariant($"{e.RuleId} {e.FromMinute}-{e.ToMinute} min"))],
            Detected = detected,
            Missed = missed,
            FalseAlerts = falseAlerts + run.ReopenedIds,
            ExtraEpisodes = extra,
            SamplesAccepted = run.Accepted,
            Duplicates = run.Duplicates,
            Late = run.Late,
            Reissued = run.Reissued,
            Episodes = [.. episodes.Select((ep, k) => new EpisodeSummary(ep.Id, ep.RuleId, ep.Severity, ep.StartUtc, ep.EndUtc, ep.Zone, ep.Revision,
                ep.Evidence.IsDefault ? 0 : ep.Evidence.Length, ep.Summary, verdicts[k]))],
        };
    }

    private sealed class RuleAcc
    {
        public int Injected;
        public int Detected;
        public int False;
        public List<double> Delays { get; } = [];
    }
}
