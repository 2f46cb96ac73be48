using Telemetry.Abstractions;

namespace Telemetry.Storage.Cases;

/// <summary>Where people are in working an alert episode; separate from the detector's open/closed status.</summary>
public enum CaseState
{
    /// <summary>No one has looked at it yet.</summary>
    New = 0,
    /// <summary>Someone has seen it.</summary>
    Acknowledged = 1,
    /// <summary>A named person works on it.</summary>
    Assigned = 2,
    /// <summary>Worked out, with a reason.</summary>
    Closed = 3,
}

/// <summary>Why a case was closed.</summary>
public enum CloseReason
{
    ConfirmedViolation = 0,
    FalseAlarm = 1,
    Duplicate = 2,
    Other = 3,
}

/// <summary>One step of the case workflow.</summary>
public enum CaseAction
{
    Acknowledge = 0,
    Assign = 1,
    Comment = 2,
    Close = 3,
    Reopen = 4,
}

/// <summary>The case side of an episode.</summary>
public sealed record class CaseInfo(CaseState State, string? Assignee, CloseReason? CloseReason, DateTime? UpdatedUtc)
{
    /// <summary>The case of an episode no one has touched.</summary>
    public static CaseInfo New { get; } = new(CaseState.New, null, null, null);
}

/// <summary>An episode with its case; <see cref="Alert.Evidence"/> is empty in lists.</summary>
public sealed record class AlertRecord(Alert Alert, CaseInfo Case);

/// <summary>One page of a query, the number of all matches, and the cursor of the next page (null at the end).</summary>
public sealed record class AlertPage(IReadOnlyList<AlertRecord> Items, long Total, string? NextCursor);

/// <summary>One entry of the append-only audit trail of an episode.</summary>
public sealed record class AuditEntry(long Sequence, string AlertId, DateTime AtUtc, string Actor, CaseAction Action, string? Detail);

/// <summary>A workflow step asked for by <paramref name="Actor"/>.</summary>
public sealed record class CaseCommand(CaseAction Action, string Actor, string? Assignee = null, string? Comment = null, CloseReason? Reason = null);

/// <summary>The outcome of a workflow step.</summary>
public enum CaseOutcome
{
    Done = 0,
    NotFound = 1,
    /// <summary>The step does not apply to the case's state (acknowledging a closed case, reopening an open one).</summary>
    Conflict = 2,
}

/// <summary>What a workflow step did: the case after it, or why not.</summary>
public sealed record class CaseResult(CaseOutcome Outcome, AlertRecord? Record, string? Problem);

/// <summary>
/// Alert filter: every field set narrows the result. <see cref="ScopeFleets"/> and <see cref="ScopeRegions"/> are the
/// caller's scope (null = unrestricted; an empty set matches nothing).
/// </summary>
public sealed record class AlertFilter
{
    public AlertStatus? Status { get; init; }
    public CaseState? CaseState { get; init; }
    /// <summary>A rule id (<c>R9.offline</c>) or a rule family (<c>R9</c> matches every <c>R9.*</c>), any case.</summary>
    public string? RuleId { get; init; }
    public AlertSeverity? Severity { get; init; }
    public string? Fleet { get; init; }
    public string? Region { get; init; }
    public string? Zone { get; init; }
    public string? Vin { get; init; }
    /// <summary>Episodes that started at or after this time.</summary>
    public DateTime? FromUtc { get; init; }
    /// <summary>Episodes that started before this time.</summary>
    public DateTime? UntilUtc { get; init; }
    public IReadOnlySet<string>? ScopeFleets { get; init; }
    public IReadOnlySet<string>? ScopeRegions { get; init; }
}
