using System.CommandLine;
using System.Globalization;
using Telemetry.Storage.Cases;

namespace Telemetry.Cli;

/// <summary>
/// <c>devices add|add-many|list|revoke</c>: the MQTT credentials of terminals in a silo's database (the SQLite file, or PostgreSQL
/// with <c>--postgres</c>). A terminal connects to the embedded broker with its VIN as user name and the secret
/// <c>add</c> prints once, on standard output; only a salted hash of it is stored.
/// </summary>
internal static class DevicesCommand
{
    public static Command Create(Stream stdin, TextWriter stdout, TextWriter stderr)
    {
        var database = new Option<string>("--database", "-d")
        {
            Description = "The silo's SQLite file (Telemetry:Alerts:DatabasePath).",
            DefaultValueFactory = _ => "data/telemetry.db",
        };
        var postgres = new Option<string?>("--postgres") { Description = "An Npgsql connection string instead of the SQLite file (Telemetry:Alerts:ConnectionString)." };

        var vin = new Argument<string>("vin") { Description = "The terminal's VIN: its MQTT user name." };
        var replace = new Option<bool>("--replace") { Description = "Issue a new secret for a VIN that has one; the old secret stops working." };
        var add = new Command("add", "Issue a terminal's secret and print it once.") { database, postgres, vin, replace };
        add.SetAction(async (parse, cancellationToken) =>
        {
            var devices = Open(parse.GetValue(database)!, parse.GetValue(postgres));
            try
            {
                var (device, secret) = await devices.AddAsync(parse.GetValue(vin)!, parse.GetValue(replace), cancellationToken);
                await stderr.WriteLineAsync($"Added device {device.Vin}: it connects with user name {device.Vin} and this secret as password. It is shown once:");
                await stdout.WriteLineAsync(secret);
                return CliApp.Success;
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                await stderr.WriteLineAsync(ex.Message);
                return CliApp.UsageError;
            }
        });

        var vins = new Option<string>("--vins") { Description = "File of VINs, one per line (- for standard input), such as `simulator vins` prints.", Required = true };
        var output = new Option<FileInfo>("--out", "-o") { Description = "Where to write the VIN,secret lines (created, readable by its owner only; never overwritten).", Required = true };
        var addMany = new Command("add-many", "Issue the secrets of many terminals in one transaction and write them, VIN,secret per line, to a new file (what `simulator load --device-secrets` reads).")
        {
            database, postgres, vins, output, replace,
        };
        addMany.SetAction(async (parse, cancellationToken) =>
        {
            var target = parse.GetValue(output)!;
            if (target.Exists)
            {
                await stderr.WriteLineAsync($"{target.FullName} exists; secrets are written to a new file only.");
                return CliApp.UsageError;
            }
            List<string> list;
            try
            {
                using var reader = new StreamReader(CliApp.OpenInput(parse.GetValue(vins)!, stdin));
                list = [];
                while (await reader.ReadLineAsync(cancellationToken) is { } line)
                {
                    if (line.Trim() is { Length: > 0 } vin && vin[0] != '#')
                        list.Add(vin);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync(ex.Message);
                return CliApp.UsageError;
            }
            if (list.Count == 0 || list.Distinct(StringComparer.Ordinal).Count() != list.Count)
            {
                await stderr.WriteLineAsync(list.Count == 0 ? "--vins holds no VIN." : "--vins holds a VIN twice.");
                return CliApp.UsageError;
            }

            var devices = Open(parse.GetValue(database)!, parse.GetValue(postgres));
            IReadOnlyList<(DeviceCredentialInfo Device, string Secret)> issued;
            try
            {
                issued = await devices.AddManyAsync(list, parse.GetValue(replace), cancellationToken);
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                await stderr.WriteLineAsync($"{ex.Message} No secret was issued.");
                return CliApp.UsageError;
            }

            var text = new System.Text.StringBuilder("# VIN,secret: MQTT user name and password of each terminal; keep this file secret.\n");
            foreach (var (device, secret) in issued)
                text.Append(device.Vin).Append(',').Append(secret).Append('\n');
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            await using (var file = new StreamWriter(target.FullName, options))
                await file.WriteAsync(text, cancellationToken);
            await stderr.WriteLineAsync($"Added {issued.Count} devices; their secrets are in {target.FullName}.");
            return CliApp.Success;
        });

        var list = new Command("list", "List the terminals' credentials (never their secrets).") { database, postgres };
        list.SetAction(async (parse, cancellationToken) =>
        {
            var devices = Open(parse.GetValue(database)!, parse.GetValue(postgres));
            foreach (var device in await devices.ListAsync(cancellationToken))
            {
                var state = device.RevokedUtc is { } r ? $"revoked {r:yyyy-MM-dd'T'HH:mm:ss'Z'}" : "active";
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{device.Vin}\t{state}\tcreated {device.CreatedUtc:yyyy-MM-dd'T'HH:mm:ss'Z'}"));
            }
            return CliApp.Success;
        });

        var revoke = new Command("revoke", "Revoke a terminal's secret; its connections are refused from then on.") { database, postgres, vin };
        revoke.SetAction(async (parse, cancellationToken) =>
        {
            var devices = Open(parse.GetValue(database)!, parse.GetValue(postgres));
            if (await devices.RevokeAsync(parse.GetValue(vin)!, cancellationToken))
            {
                await stdout.WriteLineAsync($"Revoked device {parse.GetValue(vin)}.");
                return CliApp.Success;
            }
            await stderr.WriteLineAsync($"No active device '{parse.GetValue(vin)}'.");
            return CliApp.UsageError;
        });

        return new Command("devices", "Add, list and revoke the MQTT credentials of terminals in a silo's database.") { add, addMany, list, revoke };
    }

    private static DeviceCredentialStore Open(string database, string? postgres) =>
        new(string.IsNullOrWhiteSpace(postgres) ? CaseDatabase.Sqlite(database) : CaseDatabase.Postgres(postgres), TimeProvider.System);
}
