using System.Collections.Immutable;

namespace Telemetry.Abstractions;

/// <summary>How urgent an alert is. Zones (rule Z) raise it by one step.</summary>
public enum AlertSeverity
{
    Advisory = 0,
    Warning = 1,
    Critical = 2,
}

/// <summary>Whether the episode still holds.</summary>
public enum AlertStatus
{
    Open = 0,
    Closed = 1,
}

/// <summary>
/// An alert episode: evidence an enforcement officer can act on. It opens when the rule's
/// condition starts to hold, is updated while it holds and closes after the hysteresis period.
/// There is at most one open episode per vehicle and rule; <see cref="Id"/> is derived from
/// VIN, rule and start time so that re-delivery of the same data yields the same record.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record class Alert
{
    /// <summary>Stable identifier: <c>{vin}-{ruleId}-{start as yyyyMMddTHHmmssZ}</c>.</summary>
    [Id(0)] public required string Id { get; init; }
    /// <summary>Rule identifier (src/Telemetry.Detection/RULES.md), such as R1.</summary>
    [Id(1)] public required string RuleId { get; init; }
    /// <summary>Human name of the rule.</summary>
    [Id(2)] public required string RuleName { get; init; }
    [Id(3)] public AlertSeverity Severity { get; init; }
    [Id(4)] public AlertStatus Status { get; init; }
    [Id(5)] public required string Vin { get; init; }
    [Id(6)] public string? Fleet { get; init; }
    [Id(7)] public string? Region { get; init; }
    /// <summary>Low-emission zone the vehicle was in, if any.</summary>
    [Id(8)] public string? Zone { get; init; }
    /// <summary>Sample time at which the condition started to hold, UTC.</summary>
    [Id(9)] public DateTime StartUtc { get; init; }
    /// <summary>Last sample time at which the condition held, UTC.</summary>
    [Id(10)] public DateTime LastHeldUtc { get; init; }
    /// <summary>Sample time at which the episode closed (condition last held + hysteresis), UTC.</summary>
    [Id(11)] public DateTime? EndUtc { get; init; }
    /// <summary>The thresholds in force, by name (for example <c>noxPpm</c>: 500).</summary>
    [Id(12)] public ImmutableSortedDictionary<string, double> Thresholds { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
    /// <summary>What was measured, by name (for example <c>meanNoxPpm</c>: 812.4).</summary>
    [Id(13)] public ImmutableSortedDictionary<string, double> Measured { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
    /// <summary>Where the vehicle was when the episode opened (or first had a fix during it).</summary>
    [Id(14)] public GeoFix? Position { get; init; }
    /// <summary>The samples of the window that triggered the alert.</summary>
    [Id(15)] public ImmutableArray<Sample> Evidence { get; init; } = [];
    /// <summary>A sentence that says what happened, for people.</summary>
    [Id(16)] public string Summary { get; init; } = "";
    /// <summary>Increases on every update of this episode.</summary>
    [Id(17)] public int Revision { get; init; }

    /// <summary>Builds the stable identifier of an episode.</summary>
    public static string MakeId(string vin, string ruleId, DateTime startUtc) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{vin}-{ruleId}-{startUtc:yyyyMMdd'T'HHmmss'Z'}");
}

/// <summary>What happened to an episode.</summary>
public enum AlertChangeKind
{
    Opened = 0,
    Updated = 1,
    Closed = 2,
}

/// <summary>An episode's change, as produced by detection and consumed by the sinks.</summary>
[GenerateSerializer, Immutable]
public readonly record struct AlertChange(
    [property: Id(0)] AlertChangeKind Kind,
    [property: Id(1)] Alert Alert);
