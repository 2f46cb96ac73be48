using System.CommandLine;
using System.Globalization;
using Telemetry.Storage.Cases;

namespace Telemetry.Cli;

/// <summary>
/// <c>devices add|list|revoke</c>: the MQTT credentials of terminals in a silo's database (the SQLite file, or PostgreSQL
/// with <c>--postgres</c>). A terminal connects to the embedded broker with its VIN as user name and the secret
/// <c>add</c> prints once, on standard output; only a salted hash of it is stored.
/// </summary>
internal static class DevicesCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
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

        return new Command("devices", "Add, list and revoke the MQTT credentials of terminals in a silo's database.") { add, list, revoke };
    }

    private static DeviceCredentialStore Open(string database, string? postgres) =>
        new(string.IsNullOrWhiteSpace(postgres) ? CaseDatabase.Sqlite(database) : CaseDatabase.Postgres(postgres), TimeProvider.System);
}
