using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>Query-string checks shared by the endpoints: unknown names, and values that do not parse, are a 400 naming them.</summary>
internal static class QueryParameters
{
    /// <summary>Refuses a request whose query string has a parameter the endpoint does not take.</summary>
    public static RouteHandlerBuilder AllowQuery(this RouteHandlerBuilder endpoint, params string[] names)
    {
        var allowed = new HashSet<string>(names, StringComparer.OrdinalIgnoreCase);
        return endpoint.AddEndpointFilter(async (context, next) =>
        {
            var unknown = context.HttpContext.Request.Query.Keys.Where(k => !allowed.Contains(k)).Order(StringComparer.Ordinal).ToList();
            if (unknown.Count == 0)
                return await next(context);
            var list = string.Join(", ", unknown.Select(u => $"'{u}'"));
            return TypedResults.Problem(
                title: unknown.Count == 1 ? $"Unknown parameter {list}" : $"Unknown parameters {list}",
                detail: $"This endpoint takes {(allowed.Count == 0 ? "no parameters" : string.Join(", ", names))}.",
                statusCode: StatusCodes.Status400BadRequest,
                extensions: new Dictionary<string, object?> { ["unknownParameters"] = unknown });
        });
    }

    public static ProblemHttpResult Invalid(string parameter, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: $"Invalid parameter '{parameter}'");

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static bool IsRuleId(string text) => text.Length is >= 1 and <= 24 && text.All(c => char.IsAsciiLetterOrDigit(c) || c == '.');

    public static bool IsName(string text) => text.Length is >= 1 and <= 64 && !text.Any(char.IsControl);
}

/// <summary>The filters of <c>GET /api/alerts</c> and its CSV export.</summary>
public sealed record class AlertListRequest
{
    /// <summary>Every parameter name, for the unknown-parameter check.</summary>
    internal static readonly string[] Names = ["status", "caseState", "rule", "severity", "fleet", "region", "zone", "vin", "from", "until", "since", "cursor", "limit"];

    /// <summary>The detector's state: open or closed.</summary>
    [FromQuery(Name = "status")]
    public string? Status { get; init; }
    /// <summary>The case: new, acknowledged, assigned or closed.</summary>
    [FromQuery(Name = "caseState")]
    public string? CaseState { get; init; }
    /// <summary>A rule id (R9.offline) or family (R9).</summary>
    [FromQuery(Name = "rule")]
    public string? Rule { get; init; }
    /// <summary>advisory, warning or critical.</summary>
    [FromQuery(Name = "severity")]
    public string? Severity { get; init; }
    [FromQuery(Name = "fleet")]
    public string? Fleet { get; init; }
    [FromQuery(Name = "region")]
    public string? Region { get; init; }
    [FromQuery(Name = "zone")]
    public string? Zone { get; init; }
    [FromQuery(Name = "vin")]
    public string? Vin { get; init; }
    /// <summary>Episodes that started at or after this ISO 8601 time.</summary>
    [FromQuery(Name = "from")]
    public string? From { get; init; }
    /// <summary>Episodes that started before this ISO 8601 time.</summary>
    [FromQuery(Name = "until")]
    public string? Until { get; init; }
    /// <summary>Earlier name of <see cref="From"/>, still accepted.</summary>
    [FromQuery(Name = "since")]
    public string? Since { get; init; }
    /// <summary>The <c>nextCursor</c> of the previous page.</summary>
    [FromQuery(Name = "cursor")]
    public string? Cursor { get; init; }
    /// <summary>Page size, 1 to 1000 (default 100).</summary>
    [FromQuery(Name = "limit")]
    public string? Limit { get; init; }

    /// <summary>The filter, or the problem with the first parameter that does not parse.</summary>
    internal (AlertFilter? Filter, int Limit, ProblemHttpResult? Problem) Parse()
    {
        var filter = new AlertFilter();
        if (Status is not null)
        {
            if (!TryEnum<AlertStatus>(Status, out var parsed))
                return Fail("status", $"'{Status}' is not open or closed.");
            filter = filter with { Status = parsed };
        }
        if (CaseState is not null)
        {
            if (!TryEnum<CaseState>(CaseState, out var parsed))
                return Fail("caseState", $"'{CaseState}' is not new, acknowledged, assigned or closed.");
            filter = filter with { CaseState = parsed };
        }
        if (Rule is not null)
        {
            if (!QueryParameters.IsRuleId(Rule))
                return Fail("rule", $"'{Rule}' is not a rule id such as R1 or R9.offline.");
            filter = filter with { RuleId = Rule };
        }
        if (Severity is not null)
        {
            if (!TryEnum<AlertSeverity>(Severity, out var parsed))
                return Fail("severity", $"'{Severity}' is not advisory, warning or critical.");
            filter = filter with { Severity = parsed };
        }
        foreach (var (name, value) in new[] { ("fleet", Fleet), ("region", Region), ("zone", Zone) })
        {
            if (value is not null && !QueryParameters.IsName(value))
                return Fail(name, $"A {name} is 1 to 64 printable characters.");
        }
        filter = filter with { Fleet = Fleet, Region = Region, Zone = Zone };
        if (Vin is not null)
        {
            if (!Abstractions.Vin.IsValid(Vin))
                return Fail("vin", $"'{Vin}' is not a 17-character VIN of A-H, J-N, P, R-Z and 0-9.");
            filter = filter with { Vin = Vin };
        }
        foreach (var (name, value) in new[] { ("since", Since), ("from", From), ("until", Until) })
        {
            if (value is null)
                continue;
            if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time))
                return Fail(name, $"'{value}' is not an ISO 8601 time.");
            filter = name == "until" ? filter with { UntilUtc = time.UtcDateTime } : filter with { FromUtc = time.UtcDateTime };
        }
        var limit = 100;
        if (Limit is not null && (!int.TryParse(Limit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > TelemetryApi.MaxLimit))
            return Fail("limit", $"'{Limit}' is not a whole number from 1 to {TelemetryApi.MaxLimit}.");
        if (Cursor is not null && Cursor.Length > 200)
            return Fail("cursor", "Not a cursor of this API.");
        return (filter, limit, null);
    }

    private static (AlertFilter?, int, ProblemHttpResult?) Fail(string parameter, string detail) => (null, 0, QueryParameters.Invalid(parameter, detail));

    private static bool TryEnum<T>(string text, out T value) where T : struct, Enum =>
        Enum.TryParse(text, ignoreCase: true, out value) && Enum.IsDefined(value) && !char.IsAsciiDigit(text[0]) && text[0] != '-';
}
