using System.CommandLine;
using Telemetry.Detection;
using Telemetry.Storage.Cases;

namespace Telemetry.Cli;

/// <summary>
/// <c>registry import|export|remove</c>: the vehicle registry in a silo's database (the SQLite file, or PostgreSQL with
/// <c>--postgres</c>). Running silos reload it within <c>Telemetry:ReferenceData:ReloadInterval</c>. A silo whose
/// <c>Telemetry:ReferenceData:RegistryPath</c> names a file uses that file instead.
/// </summary>
internal static class RegistryCommand
{
    public static Command Create(Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var database = new Option<string>("--database", "-d")
        {
            Description = "The silo's SQLite file (Telemetry:Alerts:DatabasePath).",
            DefaultValueFactory = _ => "data/telemetry.db",
        };
        var postgres = new Option<string?>("--postgres") { Description = "An Npgsql connection string instead of the SQLite file (Telemetry:Alerts:ConnectionString)." };

        var file = new Argument<string>("file") { Description = "Registry JSON (an array of vehicles) or CSV (a header line naming the columns); - reads standard input." };
        var replace = new Option<bool>("--replace") { Description = "Make the registry exactly the file: vehicles it does not name are removed." };
        var import = new Command("import", "Add or update the vehicles of a JSON or CSV file in the registry.") { database, postgres, file, replace };
        import.SetAction(async (parse, cancellationToken) =>
        {
            var path = parse.GetValue(file)!;
            IReadOnlyList<Abstractions.VehicleInfo> vehicles;
            try
            {
                using var reader = new StreamReader(CliApp.OpenInput(path, stdin));
                var text = await reader.ReadToEndAsync(cancellationToken);
                vehicles = VehicleRegistry.Parse(text);
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"{path}: {ex.Message}");
                return CliApp.UsageError;
            }
            if (vehicles.Count == 0 && parse.GetValue(replace))
            {
                await stderr.WriteLineAsync($"{path} names no vehicle; replacing with it would empty the registry.");
                return CliApp.UsageError;
            }
            var result = await Open(parse.GetValue(database)!, parse.GetValue(postgres)).ImportAsync(vehicles, parse.GetValue(replace), cancellationToken);
            await stdout.WriteLineAsync($"{result.Added} added, {result.Updated} updated, {result.Unchanged} unchanged, {result.Removed} removed.");
            return CliApp.Success;
        });

        var format = new Option<string>("--format", "-f")
        {
            Description = "json or csv.",
            DefaultValueFactory = _ => "json",
        };
        format.AcceptOnlyFromAmong("json", "csv");
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write to this file instead of standard output." };
        var export = new Command("export", "Write the registry as JSON or CSV, which import reads back.") { database, postgres, format, output };
        export.SetAction(async (parse, cancellationToken) =>
        {
            var vehicles = await Open(parse.GetValue(database)!, parse.GetValue(postgres)).ListAsync(cancellationToken);
            var text = parse.GetValue(format) == "csv" ? VehicleRegistry.ToCsv(vehicles) : VehicleRegistry.ToJson(vehicles) + "\n";
            if (parse.GetValue(output) is { } target)
            {
                await File.WriteAllTextAsync(target.FullName, text, cancellationToken);
                await stderr.WriteLineAsync($"Wrote {vehicles.Count} vehicles to {target.FullName}.");
            }
            else
            {
                await stdout.WriteAsync(text);
            }
            return CliApp.Success;
        });

        var vin = new Argument<string>("vin") { Description = "The vehicle's VIN." };
        var remove = new Command("remove", "Remove a vehicle from the registry.") { database, postgres, vin };
        remove.SetAction(async (parse, cancellationToken) =>
        {
            if (await Open(parse.GetValue(database)!, parse.GetValue(postgres)).RemoveAsync(parse.GetValue(vin)!.Trim().ToUpperInvariant(), cancellationToken))
            {
                await stdout.WriteLineAsync($"Removed {parse.GetValue(vin)} from the registry.");
                return CliApp.Success;
            }
            await stderr.WriteLineAsync($"No vehicle '{parse.GetValue(vin)}' in the registry.");
            return CliApp.UsageError;
        });

        return new Command("registry", "Import, export and remove vehicles of the registry in a silo's database (fleet, region, reference torque, terminal profile and key).")
        {
            import, export, remove,
        };
    }

    private static SqlVehicleRegistryStore Open(string database, string? postgres) =>
        new(string.IsNullOrWhiteSpace(postgres) ? CaseDatabase.Sqlite(database) : CaseDatabase.Postgres(postgres), TimeProvider.System);
}
