using System.Collections.Immutable;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using CsvHelper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using NetTopologySuite;
using NetTopologySuite.Features;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO.Converters;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>
/// The vehicles: the list (registry and vehicles heard on the wire, with online state and open alerts), one vehicle's
/// live state, its recent track and its alert history. A VIN outside the caller's scope is a 404 like one never heard
/// of, and no request activates a grain for a vehicle this silo has not heard from.
/// </summary>
internal static class VehiclesApi
{
    private static readonly JsonSerializerOptions GeoJson = new() { Converters = { new GeoJsonConverterFactory() } };
    private static readonly GeometryFactory Wgs84 = NtsGeometryServices.Instance.CreateGeometryFactory(4326);

    public static RouteGroupBuilder MapVehicles(this RouteGroupBuilder api)
    {
        api.MapGet("/vehicles", ListAsync).AllowQuery(VehicleListRequest.Names).WithName("ListVehicles")
            .WithSummary("Registered vehicles and vehicles heard on the wire, by VIN, one page at a time, with online state and open alerts.");
        api.MapGet("/vehicles/export", ExportAsync).AllowQuery([.. VehicleListRequest.Names.Except(["cursor", "limit"])]).WithName("ExportVehicles")
            .WithSummary("Every vehicle matching the filters as CSV.").Produces<string>(StatusCodes.Status200OK, "text/csv");
        api.MapGet("/vehicles/{vin}", GetAsync).AllowQuery().WithName("GetVehicle")
            .WithSummary("Registry data, online state and what the vehicle's grain knows now: last sample, open episodes, active and silent rules. A VIN never heard of is a 404.");
        api.MapGet("/vehicles/{vin}/track", TrackAsync).AllowQuery(VehicleTrackRequest.Names).WithName("GetVehicleTrack")
            .WithSummary("Recent positions as a GeoJSON Feature (LineString; Point for one fix, null geometry for none), one per 20 s of sample time, times in properties.times.")
            .Produces(StatusCodes.Status200OK, contentType: "application/geo+json");
        api.MapGet("/vehicles/{vin}/alerts", AlertsAsync).AllowQuery(VehicleAlertsRequest.Names).WithName("ListVehicleAlerts")
            .WithSummary("The vehicle's alert episodes, newest first, without evidence, one page at a time.");
        return api;
    }

    private static async Task<Results<Ok<Page<VehicleListItem>>, ProblemHttpResult>> ListAsync(
        [AsParameters] VehicleListRequest request, ClaimsPrincipal user, IVehicleRegistry registry, KnownVehicles known, SqlAlertStore store,
        TelemetryClock clock, CancellationToken cancellationToken)
    {
        var (filter, after, limit, problem) = request.Parse();
        if (problem is not null)
            return problem;
        var index = await known.ViewAsync(cancellationToken);
        var caller = Caller.From(user);
        var openCounts = await store.CountOpenByVinAsync(caller.Scope, cancellationToken);
        var matches = Match(filter!, caller, registry, index, openCounts, clock.UtcNow);
        var page = matches.Where(v => after is null || string.CompareOrdinal(v, after) > 0).Order(StringComparer.Ordinal).Take(limit + 1).ToList();
        var items = page.Take(limit).Select(v => Item(v, registry, index, openCounts, clock.UtcNow)).ToList();
        var next = page.Count > limit ? VehicleCursor.Encode(items[^1].Vin) : null;
        return TypedResults.Ok(new Page<VehicleListItem>(items, matches.Count, next));
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ExportAsync(
        [AsParameters] VehicleListRequest request, ClaimsPrincipal user, IVehicleRegistry registry, KnownVehicles known, SqlAlertStore store,
        TelemetryClock clock, CancellationToken cancellationToken)
    {
        var (filter, _, _, problem) = request.Parse();
        if (problem is not null)
            return problem;
        var index = await known.ViewAsync(cancellationToken);
        var caller = Caller.From(user);
        var openCounts = await store.CountOpenByVinAsync(caller.Scope, cancellationToken);
        var now = clock.UtcNow;
        var vins = Match(filter!, caller, registry, index, openCounts, now).Order(StringComparer.Ordinal).Take(TelemetryApi.MaxExportRows);
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        await using (var csv = new CsvWriter(text, CultureInfo.InvariantCulture))
        {
            foreach (var header in new[] { "vin", "fleet", "region", "engineModel", "emissionStage", "registered", "online", "lastReceivedUtc", "openAlerts" })
                csv.WriteField(header);
            await csv.NextRecordAsync();
            foreach (var vin in vins)
            {
                var v = Item(vin, registry, index, openCounts, now);
                foreach (var field in new object?[] { v.Vin, v.Fleet, v.Region, v.EngineModel, v.EmissionStage, v.Registered ? "true" : "false",
                    v.Online ? "true" : "false", v.LastReceivedUtc is { } t ? t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) : null, v.OpenAlerts })
                    csv.WriteField(field);
                await csv.NextRecordAsync();
            }
        }
        return TypedResults.File(Encoding.UTF8.GetBytes(text.ToString()), "text/csv; charset=utf-8", "vehicles.csv");
    }

    private static async Task<Results<Ok<VehicleDetail>, ProblemHttpResult>> GetAsync(
        string vin, ClaimsPrincipal user, IGrainFactory grains, KnownVehicles known, IVehicleRegistry registry, TelemetryClock clock,
        CancellationToken cancellationToken)
    {
        var (info, heard, problem) = await ResolveAsync(vin, user, known, registry, cancellationToken);
        if (problem is not null)
            return problem;
        if (!heard)
            return TypedResults.Ok(VehicleDetail.FromRegistry(info!));
        var status = await grains.GetVehicle(vin).GetStatus();
        return TypedResults.Ok(VehicleDetail.From(status, info, clock.UtcNow));
    }

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> TrackAsync(
        string vin, [AsParameters] VehicleTrackRequest request, ClaimsPrincipal user, IGrainFactory grains, KnownVehicles known, IVehicleRegistry registry,
        CancellationToken cancellationToken)
    {
        var (minutes, invalid) = request.Parse();
        if (invalid is not null)
            return invalid;
        var (_, heard, problem) = await ResolveAsync(vin, user, known, registry, cancellationToken);
        if (problem is not null)
            return problem;
        ImmutableArray<Detection.TrackPoint> points = heard ? await grains.GetVehicle(vin).GetTrack(minutes * 60) : [];
        var coordinates = points.Select(p => new Coordinate(p.Longitude, p.Latitude)).ToArray();
        Geometry? geometry = coordinates.Length switch
        {
            0 => null,
            1 => Wgs84.CreatePoint(coordinates[0]),
            _ => Wgs84.CreateLineString(coordinates),
        };
        var properties = new AttributesTable
        {
            { "vin", vin },
            { "minutes", minutes },
            { "intervalSeconds", Detection.PositionTrack.DefaultIntervalSeconds },
            { "times", points.Select(p => p.TimeUtc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)).ToArray() },
        };
        var json = JsonSerializer.Serialize(new Feature(geometry, properties), GeoJson);
        return TypedResults.Text(json, "application/geo+json", Encoding.UTF8);
    }

    private static async Task<Results<Ok<Page<AlertItem>>, ProblemHttpResult>> AlertsAsync(
        string vin, [AsParameters] VehicleAlertsRequest request, ClaimsPrincipal user, KnownVehicles known, IVehicleRegistry registry, SqlAlertStore store,
        CancellationToken cancellationToken)
    {
        if (!Vin.IsValid(vin))
            return InvalidVin(vin);
        var (filter, limit, problem) = request.Parse(vin);
        if (problem is not null)
            return problem;
        var caller = Caller.From(user);
        var info = registry.Find(vin);
        if (!caller.MaySee(info))
            return NotFound(vin);
        AlertPage page;
        try
        {
            page = await store.QueryPageAsync(filter! with { ScopeFleets = caller.Fleets, ScopeRegions = caller.Regions }, request.Cursor, limit,
                cancellationToken: cancellationToken);
        }
        catch (FormatException ex)
        {
            return QueryParameters.Invalid("cursor", ex.Message);
        }
        // Not registered, not heard of and no episode on record: nothing to page through.
        if (page.Total == 0 && info is null && !await known.IsKnownAsync(vin, cancellationToken))
            return NotFound(vin);
        return TypedResults.Ok(new Page<AlertItem>([.. page.Items.Select(r => AlertItem.From(r, withEvidence: false))], page.Total, page.NextCursor));
    }

    /// <summary>
    /// The vehicle's registry entry and whether any silo has heard from it, or the problem: a malformed VIN (400), or a
    /// VIN neither registered nor heard of, or outside the caller's scope (404). Nothing here activates a grain.
    /// </summary>
    private static async Task<(VehicleInfo? Info, bool Heard, ProblemHttpResult? Problem)> ResolveAsync(string vin, ClaimsPrincipal user, KnownVehicles known,
        IVehicleRegistry registry, CancellationToken cancellationToken)
    {
        if (!Vin.IsValid(vin))
            return (null, false, InvalidVin(vin));
        var info = registry.Find(vin);
        var heard = await known.IsKnownAsync(vin, cancellationToken);
        if ((!heard && info is null) || !Caller.From(user).MaySee(info))
            return (null, false, NotFound(vin));
        return (info, heard, null);
    }

    /// <summary>
    /// The VINs the caller may see that match the filter: registered vehicles, and those heard on the wire without a
    /// registry entry (no fleet or region: only unscoped callers see them).
    /// </summary>
    private static List<string> Match(VehicleFilter filter, Caller caller, IVehicleRegistry registry, KnownVehicles.View index,
        IReadOnlyDictionary<string, int> openCounts, DateTime nowUtc)
    {
        var onlineSince = nowUtc - VehicleIndex.OnlineWindow;
        bool Matches(string vin, VehicleInfo? info)
        {
            if (!caller.MaySee(info))
                return false;
            if (filter.Fleet is not null && !string.Equals(info?.Fleet, filter.Fleet, StringComparison.Ordinal))
                return false;
            if (filter.Region is not null && !string.Equals(info?.Region, filter.Region, StringComparison.Ordinal))
                return false;
            if (filter.Online is { } online && online != (index.TryGetLastArrival(vin, out var arrival) && arrival >= onlineSince))
                return false;
            if (filter.OpenAlerts is { } open && open != openCounts.ContainsKey(vin))
                return false;
            return true;
        }

        var matches = new List<string>();
        foreach (var info in registry.All)
        {
            if (Matches(info.Vin, info))
                matches.Add(info.Vin);
        }
        foreach (var (vin, _) in index.LastArrivals())
        {
            if (registry.Find(vin) is null && Matches(vin, null))
                matches.Add(vin);
        }
        return matches;
    }

    private static VehicleListItem Item(string vin, IVehicleRegistry registry, KnownVehicles.View index, IReadOnlyDictionary<string, int> openCounts, DateTime nowUtc)
    {
        var info = registry.Find(vin);
        DateTime? received = index.TryGetLastArrival(vin, out var arrival) ? arrival : null;
        return new VehicleListItem(vin, info?.Fleet, info?.Region, info?.EngineModel, info?.EmissionStage, info is not null,
            received >= nowUtc - VehicleIndex.OnlineWindow, received, openCounts.GetValueOrDefault(vin));
    }

    private static ProblemHttpResult InvalidVin(string vin) =>
        QueryParameters.Invalid("vin", $"'{vin}' is not a 17-character VIN of A-H, J-N, P, R-Z and 0-9.");

    private static ProblemHttpResult NotFound(string vin) => QueryParameters.NotFound($"No vehicle '{vin}'.");
}
