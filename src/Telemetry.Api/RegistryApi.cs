using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>What <c>PUT /api/registry</c> did.</summary>
/// <param name="Added">Vehicles that were not registered.</param>
/// <param name="Updated">Vehicles whose entry changed.</param>
/// <param name="Unchanged">Vehicles whose entry was the same.</param>
/// <param name="Removed">Vehicles removed because a replacing import did not name them.</param>
/// <param name="Registered">Vehicles in the registry now.</param>
public sealed record class RegistryImportView(int Added, int Updated, int Unchanged, int Removed, int Registered);

/// <summary>
/// The vehicle registry for administrators: <c>GET /api/registry</c> exports the registry in force as JSON or CSV, and
/// <c>PUT /api/registry</c> imports registry text (the same JSON or CSV) into the database's registry, which every silo
/// reloads. When the registry is a file (<c>Telemetry:ReferenceData:RegistryPath</c>) an import is a 409: the file is
/// the registry, and an import that is not in force would mislead.
/// </summary>
internal static class RegistryApi
{
    /// <summary>Largest registry text one import takes (100,000 vehicles with public keys are about 25 MB).</summary>
    public const int MaxImportBytes = 64 * 1024 * 1024;

    public static void MapRegistry(this RouteGroupBuilder api)
    {
        api.MapGet("/registry", ExportAsync).AllowQuery("format").RequireAuthorization(ApiPolicies.Admin).WithName("ExportRegistry")
            .WithSummary("The vehicle registry in force (fleet, region, engine, reference torque, emission stage, terminal profile and public key per VIN), as JSON (default) or CSV (format=csv).")
            .Produces<string>(StatusCodes.Status200OK, "text/csv").ProducesProblem(StatusCodes.Status403Forbidden);
        api.MapPut("/registry", ImportAsync).AllowQuery("replace").RequireAuthorization(ApiPolicies.Admin).WithName("ImportRegistry")
            .WithSummary("Imports registry JSON or CSV (the export's format) into the database's registry: adds and updates the vehicles named; replace=true also removes every vehicle not named. 409 when the registry is a file.")
            .Accepts<string>("text/csv", "application/json").WithMetadata(new RequestSizeLimitAttribute(MaxImportBytes)).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status409Conflict);
    }

    private static Results<FileContentHttpResult, ProblemHttpResult> ExportAsync([FromQuery(Name = "format")] string? format, IVehicleRegistry registry)
    {
        var vehicles = registry.All.OrderBy(v => v.Vin, StringComparer.Ordinal).ToList();
        return format?.ToLowerInvariant() switch
        {
            null or "" or "json" => TypedResults.File(Encoding.UTF8.GetBytes(VehicleRegistry.ToJson(vehicles)), "application/json", "registry.json"),
            "csv" => TypedResults.File(Encoding.UTF8.GetBytes(VehicleRegistry.ToCsv(vehicles)), "text/csv", "registry.csv"),
            _ => QueryParameters.Invalid("format", "format is json or csv."),
        };
    }

    private static async Task<Results<Ok<RegistryImportView>, ProblemHttpResult>> ImportAsync(
        [FromQuery(Name = "replace")] string? replace, HttpRequest request, IVehicleRegistry registry, SqlVehicleRegistryStore store,
        CancellationToken cancellationToken)
    {
        var replacing = false;
        if (replace is not null && !bool.TryParse(replace, out replacing))
            return QueryParameters.Invalid("replace", "replace is true or false.");
        if (registry.IsFile)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The registry is a file",
                detail: "Telemetry:ReferenceData:RegistryPath names the registry file, which is in force; change that file, or remove the setting to use the database's registry.");
        }
        if (request.ContentLength > MaxImportBytes)
            return TooLarge();
        var text = await ReadBoundedAsync(request.Body, cancellationToken);
        if (text is null)
            return TooLarge();
        IReadOnlyList<VehicleInfo> vehicles;
        try
        {
            vehicles = VehicleRegistry.Parse(text);
        }
        catch (FormatException ex)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid registry", detail: ex.Message);
        }
        if (vehicles.Count == 0 && replacing)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid registry",
                detail: "The import names no vehicle; replacing with it would empty the registry. Remove vehicles one by one with telemetry-cli registry remove.");
        }
        var result = await store.ImportAsync(vehicles, replacing, cancellationToken);
        await registry.ReloadAsync(cancellationToken);
        return TypedResults.Ok(new RegistryImportView(result.Added, result.Updated, result.Unchanged, result.Removed, registry.All.Count));
    }

    private static ProblemHttpResult TooLarge() =>
        TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Registry too large",
            detail: $"One import takes at most {MaxImportBytes / (1024 * 1024)} MiB; split the registry and import the parts without replace.");

    private static async Task<string?> ReadBoundedAsync(Stream body, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81_920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > MaxImportBytes)
                return null;
            buffer.Write(chunk, 0, read);
        }
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
