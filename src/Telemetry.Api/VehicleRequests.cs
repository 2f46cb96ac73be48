using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>What <c>GET /api/vehicles</c> and its export match (every field set narrows the result).</summary>
internal sealed record class VehicleFilter(string? Fleet, string? Region, bool? Online, bool? OpenAlerts);

/// <summary>The filters of <c>GET /api/vehicles</c> and its CSV export.</summary>
public sealed record class VehicleListRequest
{
    /// <summary>Every parameter name, for the unknown-parameter check.</summary>
    internal static readonly string[] Names = ["fleet", "region", "online", "openAlerts", "cursor", "limit"];

    /// <summary>Vehicles of this fleet (registry).</summary>
    [FromQuery(Name = "fleet")]
    public string? Fleet { get; init; }
    /// <summary>Vehicles of this region (registry).</summary>
    [FromQuery(Name = "region")]
    public string? Region { get; init; }
    /// <summary>true: a frame arrived in the last 5 minutes; false: not.</summary>
    [FromQuery(Name = "online")]
    public string? Online { get; init; }
    /// <summary>true: at least one open episode in the alert database; false: none.</summary>
    [FromQuery(Name = "openAlerts")]
    public string? OpenAlerts { get; init; }
    /// <summary>The <c>nextCursor</c> of the previous page.</summary>
    [FromQuery(Name = "cursor")]
    public string? Cursor { get; init; }
    /// <summary>Page size, 1 to 1000 (default 100).</summary>
    [FromQuery(Name = "limit")]
    public string? Limit { get; init; }

    /// <summary>The filter, the VIN after which the page starts (null: the first page), the page size, or the problem.</summary>
    internal (VehicleFilter? Filter, string? After, int Limit, ProblemHttpResult? Problem) Parse()
    {
        foreach (var (name, value) in new[] { ("fleet", Fleet), ("region", Region) })
        {
            if (value is not null && !QueryParameters.IsName(value))
                return Fail(name, $"A {name} is 1 to 64 printable characters.");
        }
        if (!TryBool(Online, out var online))
            return Fail("online", $"'{Online}' is not true or false.");
        if (!TryBool(OpenAlerts, out var openAlerts))
            return Fail("openAlerts", $"'{OpenAlerts}' is not true or false.");
        var limit = 100;
        if (Limit is not null && (!int.TryParse(Limit, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > TelemetryApi.MaxLimit))
            return Fail("limit", $"'{Limit}' is not a whole number from 1 to {TelemetryApi.MaxLimit}.");
        string? after = null;
        if (Cursor is not null && (after = VehicleCursor.Decode(Cursor)) is null)
            return Fail("cursor", "Not a cursor of this API.");
        return (new VehicleFilter(Fleet, Region, online, openAlerts), after, limit, null);
    }

    private static bool TryBool(string? text, out bool? value)
    {
        value = null;
        if (text is null)
            return true;
        if (!bool.TryParse(text, out var parsed))
            return false;
        value = parsed;
        return true;
    }

    private static (VehicleFilter?, string?, int, ProblemHttpResult?) Fail(string parameter, string detail) => (null, null, 0, QueryParameters.Invalid(parameter, detail));
}

/// <summary>The page cursor of the vehicle list: the last VIN of the page, opaque to callers.</summary>
internal static class VehicleCursor
{
    public static string Encode(string vin) => Convert.ToBase64String(Encoding.ASCII.GetBytes("v:" + vin)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>The VIN of a cursor, or null when it is not one this API handed out.</summary>
    public static string? Decode(string cursor)
    {
        if (cursor.Length > 64)
            return null;
        var base64 = cursor.Replace('-', '+').Replace('_', '/');
        base64 += new string('=', (4 - base64.Length % 4) % 4);
        var bytes = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64, bytes, out var length))
            return null;
        var text = Encoding.ASCII.GetString(bytes, 0, length);
        return text.StartsWith("v:", StringComparison.Ordinal) && Abstractions.Vin.IsValid(text.AsSpan(2)) ? text[2..] : null;
    }
}

/// <summary>The window of <c>GET /api/vehicles/{vin}/track</c>.</summary>
public sealed record class VehicleTrackRequest
{
    /// <summary>Every parameter name, for the unknown-parameter check.</summary>
    internal static readonly string[] Names = ["minutes"];

    /// <summary>Longest track the vehicle keeps, in minutes.</summary>
    internal const int MaxMinutes = Detection.PositionTrack.DefaultWindowSeconds / 60;

    /// <summary>Minutes before the newest position, 1 to 60 (default 30).</summary>
    [FromQuery(Name = "minutes")]
    public string? Minutes { get; init; }

    internal (int Minutes, ProblemHttpResult? Problem) Parse()
    {
        var minutes = 30;
        if (Minutes is not null && (!int.TryParse(Minutes, NumberStyles.None, CultureInfo.InvariantCulture, out minutes) || minutes is < 1 or > MaxMinutes))
            return (0, QueryParameters.Invalid("minutes", $"'{Minutes}' is not a whole number from 1 to {MaxMinutes}."));
        return (minutes, null);
    }
}

/// <summary>The filters of <c>GET /api/vehicles/{vin}/alerts</c>: those of <c>GET /api/alerts</c> that concern one vehicle.</summary>
public sealed record class VehicleAlertsRequest
{
    /// <summary>Every parameter name, for the unknown-parameter check.</summary>
    internal static readonly string[] Names = ["status", "caseState", "rule", "severity", "from", "until", "cursor", "limit"];

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
    /// <summary>Episodes that started at or after this ISO 8601 time.</summary>
    [FromQuery(Name = "from")]
    public string? From { get; init; }
    /// <summary>Episodes that started before this ISO 8601 time.</summary>
    [FromQuery(Name = "until")]
    public string? Until { get; init; }
    /// <summary>The <c>nextCursor</c> of the previous page.</summary>
    [FromQuery(Name = "cursor")]
    public string? Cursor { get; init; }
    /// <summary>Page size, 1 to 1000 (default 100).</summary>
    [FromQuery(Name = "limit")]
    public string? Limit { get; init; }

    /// <summary>The filter for <paramref name="vin"/>, or the problem with the first parameter that does not parse.</summary>
    internal (AlertFilter? Filter, int Limit, ProblemHttpResult? Problem) Parse(string vin)
    {
        var (filter, limit, problem) = new AlertListRequest
        {
            Status = Status, CaseState = CaseState, Rule = Rule, Severity = Severity, From = From, Until = Until, Cursor = Cursor, Limit = Limit,
        }.Parse();
        return problem is not null ? (null, 0, problem) : (filter! with { Vin = vin }, limit, null);
    }
}
