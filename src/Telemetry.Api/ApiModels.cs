using System.Collections.Immutable;
using System.Text.Json.Serialization;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>A page of results: the items, how many match in all, and the cursor of the next page (null at the end).</summary>
public sealed record class Page<T>(IReadOnlyList<T> Items, long Total, string? NextCursor);

/// <summary>The case of an alert as the API shows it.</summary>
public sealed record class CaseView(CaseState State, string? Assignee, CloseReason? CloseReason, DateTime? UpdatedUtc)
{
    internal static CaseView From(CaseInfo info) => new(info.State, info.Assignee, info.CloseReason, info.UpdatedUtc);
}

/// <summary>
/// An alert episode with its case. The fields are those of the detector's episode; <see cref="Evidence"/> (the samples
/// of the window that triggered it) is only in <c>GET /api/alerts/{id}</c>, lists leave it out.
/// </summary>
public sealed record class AlertItem
{
    public required string Id { get; init; }
    public required string RuleId { get; init; }
    public required string RuleName { get; init; }
    public AlertSeverity Severity { get; init; }
    /// <summary>The detector's state: open while the condition holds.</summary>
    public AlertStatus Status { get; init; }
    public required string Vin { get; init; }
    public string? Fleet { get; init; }
    public string? Region { get; init; }
    public string? Zone { get; init; }
    public DateTime StartUtc { get; init; }
    public DateTime LastHeldUtc { get; init; }
    public DateTime? EndUtc { get; init; }
    public ImmutableSortedDictionary<string, double> Thresholds { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
    public ImmutableSortedDictionary<string, double> Measured { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
    public GeoFix? Position { get; init; }
    public string Summary { get; init; } = "";
    public int Revision { get; init; }
    /// <summary>The people's state of the episode.</summary>
    public required CaseView Case { get; init; }
    /// <summary>Evidence samples; null in lists.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<Sample>? Evidence { get; init; }

    internal static AlertItem From(AlertRecord record, bool withEvidence)
    {
        var a = record.Alert;
        return new AlertItem
        {
            Id = a.Id,
            RuleId = a.RuleId,
            RuleName = a.RuleName,
            Severity = a.Severity,
            Status = a.Status,
            Vin = a.Vin,
            Fleet = a.Fleet,
            Region = a.Region,
            Zone = a.Zone,
            StartUtc = a.StartUtc,
            LastHeldUtc = a.LastHeldUtc,
            EndUtc = a.EndUtc,
            Thresholds = a.Thresholds,
            Measured = a.Measured,
            Position = a.Position,
            Summary = a.Summary,
            Revision = a.Revision,
            Case = CaseView.From(record.Case),
            Evidence = withEvidence ? (a.Evidence.IsDefault ? [] : a.Evidence) : null,
        };
    }
}

/// <summary>An alert with its audit trail.</summary>
public sealed record class AlertDetail(AlertItem Alert, IReadOnlyList<AuditEntry> Audit);

/// <summary>A workflow step on an alert's case (<c>POST /api/alerts/{id}/case</c>).</summary>
/// <param name="Action">acknowledge, assign, comment, close or reopen.</param>
/// <param name="Assignee">For assign: who works on it.</param>
/// <param name="Comment">Free text; required for comment and for close with reason other.</param>
/// <param name="Reason">For close: confirmedViolation, falseAlarm, duplicate or other.</param>
public sealed record class CaseStepRequest(CaseAction Action, string? Assignee = null, string? Comment = null, CloseReason? Reason = null);

/// <summary>An API key as listed (never its secret).</summary>
public sealed record class ApiKeyView(string Id, string Name, string Role, IReadOnlyList<string> Scope, DateTime CreatedUtc, DateTime? RevokedUtc);
