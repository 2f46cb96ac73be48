using System.Globalization;
using System.Security.Claims;
using CsvHelper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>
/// Compliance reports of a vehicle or a fleet over a period, as JSON or CSV: <c>GET /api/reports/vehicles/{vin}</c> and
/// <c>GET /api/reports/fleets/{fleet}</c>. Scoped like every endpoint: a fleet caller sees its own fleets' vehicles, an
/// enforcement caller the vehicles of its regions; anything else is a 404.
/// </summary>
internal static class ReportsApi
{
    /// <summary>Longest period one report covers.</summary>
    public static readonly TimeSpan MaxPeriod = TimeSpan.FromDays(366);

    public static void MapReports(this RouteGroupBuilder api)
    {
        api.MapGet("/reports/vehicles/{vin}", VehicleReportAsync).AllowQuery(ReportRequest.Names).WithName("GetVehicleReport")
            .WithSummary("Compliance report of one vehicle over whole UTC hours: distance, engine and gated hours, exceedance minutes per rule, NOx (g, mg/kWh, g/km), urea-to-fuel ratio, MIL-on distance, completeness and online rate; JSON or CSV.")
            .Produces<string>(StatusCodes.Status200OK, "text/csv");
        api.MapGet("/reports/fleets/{fleet}", FleetReportAsync).AllowQuery(ReportRequest.Names).WithName("GetFleetReport")
            .WithSummary("Compliance report of a fleet: one row per registered vehicle of the fleet in the caller's scope, and the fleet's totals; JSON or CSV.")
            .Produces<string>(StatusCodes.Status200OK, "text/csv");
    }

    private static async Task<Results<Ok<VehicleReport>, FileContentHttpResult, ProblemHttpResult>> VehicleReportAsync(
        string vin, [AsParameters] ReportRequest request, ClaimsPrincipal user, ComplianceReports reports, KnownVehicles vehicles,
        IVehicleRegistry registry, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!Vin.IsValid(vin))
            return QueryParameters.Invalid("vin", $"'{vin}' is not a 17-character VIN of A-H, J-N, P, R-Z and 0-9.");
        var (from, until, csv, problem) = request.Parse(time.GetUtcNow().UtcDateTime);
        if (problem is not null)
            return problem;
        var info = registry.Find(vin);
        if ((!await vehicles.IsKnownAsync(vin, cancellationToken) && info is null) || !Caller.From(user).MaySee(info))
            return QueryParameters.NotFound($"No vehicle '{vin}'.");
        var report = await reports.VehicleAsync(vin, info, from, until, cancellationToken);
        if (!csv)
            return TypedResults.Ok(report);
        return await CsvAsync($"report-{vin}.csv", report.FromUtc, report.UntilUtc, [report.Vehicle], null);
    }

    private static async Task<Results<Ok<FleetReport>, FileContentHttpResult, ProblemHttpResult>> FleetReportAsync(
        string fleet, [AsParameters] ReportRequest request, ClaimsPrincipal user, ComplianceReports reports, IVehicleRegistry registry,
        TimeProvider time, CancellationToken cancellationToken)
    {
        if (!QueryParameters.IsName(fleet))
            return QueryParameters.Invalid("fleet", "A fleet is 1 to 64 printable characters.");
        var (from, until, csv, problem) = request.Parse(time.GetUtcNow().UtcDateTime);
        if (problem is not null)
            return problem;
        var caller = Caller.From(user);
        var members = registry.All.Where(v => string.Equals(v.Fleet, fleet, StringComparison.Ordinal) && caller.MaySee(v)).ToList();
        // Not echoing the name: a fleet outside the caller's scope must not look different from one that does not exist.
        if (members.Count == 0)
            return QueryParameters.NotFound("No such fleet with registered vehicles in your scope.");
        var report = await reports.FleetAsync(fleet, members, from, until, cancellationToken);
        if (!csv)
            return TypedResults.Ok(report);
        var safe = new string([.. fleet.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]);
        return await CsvAsync($"report-{safe}.csv", report.FromUtc, report.UntilUtc, report.Vehicles, report.Totals);
    }

    /// <summary>One line per vehicle (and a <c>total</c> line for a fleet); one <c>exceedanceMinutes:{rule}</c> column per rule that has minutes.</summary>
    private static async Task<FileContentHttpResult> CsvAsync(string fileName, DateTime from, DateTime until, IReadOnlyList<ReportRow> rows, ReportRow? totals)
    {
        var all = totals is null ? rows : [.. rows, totals];
        var rules = all.SelectMany(r => r.ExceedanceMinutes.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        await using (var csv = new CsvWriter(text, CultureInfo.InvariantCulture))
        {
            foreach (var header in Headers.Concat(rules.Select(r => $"exceedanceMinutes:{r}")))
                csv.WriteField(header);
            await csv.NextRecordAsync();
            foreach (var r in all)
            {
                var kind = ReferenceEquals(r, totals) ? "total" : "vehicle";
                foreach (var field in new object?[]
                {
                    kind, r.Vin, r.Fleet, r.Region, r.Vehicles, Time(from), Time(until), r.ReferenceTorqueNm, r.DistanceKm, r.OdometerDistanceKm,
                    r.EngineHours, r.GatedHours, r.WorkKWh, r.NoxG, r.NoxMgPerKWh, r.NoxGPerKm, r.FuelL, r.UreaL, r.UreaToFuelPercent,
                    r.MilOnDistanceKm, r.Samples, r.ExpectedSamples, r.CompletenessPercent, r.ReportingMinutes, r.OnlineRatePercent,
                })
                    csv.WriteField(field);
                foreach (var rule in rules)
                    csv.WriteField(r.ExceedanceMinutes.GetValueOrDefault(rule));
                await csv.NextRecordAsync();
            }
        }
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(text.ToString()), "text/csv; charset=utf-8", fileName);
    }

    private static readonly string[] Headers =
    [
        "row", "vin", "fleet", "region", "vehicles", "fromUtc", "untilUtc", "referenceTorqueNm", "distanceKm", "odometerDistanceKm",
        "engineHours", "gatedHours", "workKWh", "noxG", "noxMgPerKWh", "noxGPerKm", "fuelL", "ureaL", "ureaToFuelPercent",
        "milOnDistanceKm", "samples", "expectedSamples", "completenessPercent", "reportingMinutes", "onlineRatePercent",
    ];

    private static string Time(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}

/// <summary>The period and format of a compliance report.</summary>
public sealed record class ReportRequest
{
    /// <summary>Every parameter name, for the unknown-parameter check.</summary>
    internal static readonly string[] Names = ["from", "until", "format"];

    /// <summary>Start of the period, ISO 8601 (rounded down to the hour); default: 24 hours before <c>until</c>.</summary>
    [FromQuery(Name = "from")]
    public string? From { get; init; }
    /// <summary>End of the period, ISO 8601, exclusive (rounded up to the hour); default: the end of the current hour.</summary>
    [FromQuery(Name = "until")]
    public string? Until { get; init; }
    /// <summary><c>json</c> (default) or <c>csv</c>.</summary>
    [FromQuery(Name = "format")]
    public string? Format { get; init; }

    /// <summary>The period in whole UTC hours and whether CSV is wanted, or the problem with the first parameter that does not parse.</summary>
    internal (DateTime From, DateTime Until, bool Csv, ProblemHttpResult? Problem) Parse(DateTime nowUtc)
    {
        var csv = false;
        if (Format is not null)
        {
            if (string.Equals(Format, "csv", StringComparison.OrdinalIgnoreCase))
                csv = true;
            else if (!string.Equals(Format, "json", StringComparison.OrdinalIgnoreCase))
                return Fail("format", $"'{Format}' is not json or csv.");
        }
        var until = CeilingHour(nowUtc);
        if (Until is not null)
        {
            if (!TryTime(Until, out var parsed))
                return Fail("until", $"'{Until}' is not an ISO 8601 time.");
            until = CeilingHour(parsed);
        }
        var from = until.AddDays(-1);
        if (From is not null)
        {
            if (!TryTime(From, out var parsed))
                return Fail("from", $"'{From}' is not an ISO 8601 time.");
            from = FloorHour(parsed);
        }
        if (from >= until)
            return Fail("from", "The period is empty: 'from' must be before 'until'.");
        if (until - from > ReportsApi.MaxPeriod)
            return Fail("until", $"A report covers at most {ReportsApi.MaxPeriod.TotalDays:0} days.");
        return (from, until, csv, null);
    }

    private static (DateTime, DateTime, bool, ProblemHttpResult?) Fail(string parameter, string detail) =>
        (default, default, false, QueryParameters.Invalid(parameter, detail));

    private static bool TryTime(string text, out DateTime utc)
    {
        utc = default;
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            || time.UtcDateTime.Year is < 2000 or > 9998)
            return false;
        utc = time.UtcDateTime;
        return true;
    }

    private static DateTime FloorHour(DateTime utc) => new(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc);

    private static DateTime CeilingHour(DateTime utc)
    {
        var floor = FloorHour(utc);
        return floor.Ticks == utc.Ticks ? floor : floor.AddHours(1);
    }
}
