using System.CommandLine;
using System.Globalization;
using Telemetry.Storage.Cases;

namespace Telemetry.Cli;

/// <summary>
/// <c>keys create|list|revoke</c>: the API keys in a silo's alert database (the SQLite file, or PostgreSQL with
/// <c>--postgres</c>). A created key is printed once, on standard output; only its hash is stored.
/// </summary>
internal static class KeysCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var database = new Option<string>("--database", "-d")
        {
            Description = "The silo's SQLite file (Telemetry:Alerts:DatabasePath).",
            DefaultValueFactory = _ => "data/telemetry.db",
        };
        var postgres = new Option<string?>("--postgres") { Description = "An Npgsql connection string instead of the SQLite file (Telemetry:Alerts:ConnectionString)." };

        var name = new Option<string>("--name", "-n") { Description = "Who or what the key is for.", Required = true };
        var role = new Option<string>("--role", "-r") { Description = "enforcement, fleet or admin.", Required = true };
        role.AcceptOnlyFromAmong([.. ApiRoles.All]);
        var scope = new Option<string[]>("--scope", "-s")
        {
            Description = "Role fleet: a fleet it may see (repeatable, at least one). Role enforcement: a region it may see (repeatable; none = all regions).",
            AllowMultipleArgumentsPerToken = true,
        };
        var create = new Command("create", "Create a key and print it once.") { database, postgres, name, role, scope };
        create.SetAction(async (parse, cancellationToken) =>
        {
            var keys = Open(parse.GetValue(database)!, parse.GetValue(postgres));
            try
            {
                var (info, secret) = await keys.CreateAsync(parse.GetValue(name)!, parse.GetValue(role)!, parse.GetValue(scope) ?? [], cancellationToken);
                await stderr.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"Created key {info.Id} ({info.Role}{Scope(info)}) for '{info.Name}'. It is shown once:"));
                await stdout.WriteLineAsync(secret);
                return CliApp.Success;
            }
            catch (ArgumentException ex)
            {
                await stderr.WriteLineAsync(ex.Message);
                return CliApp.UsageError;
            }
        });

        var list = new Command("list", "List the keys (never their secrets).") { database, postgres };
        list.SetAction(async (parse, cancellationToken) =>
        {
            var keys = Open(parse.GetValue(database)!, parse.GetValue(postgres));
            foreach (var key in await keys.ListAsync(cancellationToken))
            {
                var state = key.RevokedUtc is { } r ? $"revoked {r:yyyy-MM-dd'T'HH:mm:ss'Z'}" : "active";
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{key.Id}\t{key.Role}{Scope(key)}\t{state}\tcreated {key.CreatedUtc:yyyy-MM-dd'T'HH:mm:ss'Z'}\t{key.Name}"));
            }
            return CliApp.Success;
        });

        var id = new Argument<string>("id") { Description = "The key's id (first column of keys list)." };
        var revoke = new Command("revoke", "Revoke a key; requests with it are refused from then on.") { database, postgres, id };
        revoke.SetAction(async (parse, cancellationToken) =>
        {
            var keys = Open(parse.GetValue(database)!, parse.GetValue(postgres));
            if (await keys.RevokeAsync(parse.GetValue(id)!, cancellationToken))
            {
                await stdout.WriteLineAsync($"Revoked key {parse.GetValue(id)}.");
                return CliApp.Success;
            }
            await stderr.WriteLineAsync($"No active key '{parse.GetValue(id)}'.");
            return CliApp.UsageError;
        });

        return new Command("keys", "Create, list and revoke API keys in a silo's alert database.") { create, list, revoke };
    }

    private static ApiKeyStore Open(string database, string? postgres) =>
        new(string.IsNullOrWhiteSpace(postgres) ? CaseDatabase.Sqlite(database) : CaseDatabase.Postgres(postgres), TimeProvider.System);

    private static string Scope(ApiKeyInfo key) => key.Scope.Count == 0 ? "" : $" {string.Join(',', key.Scope)}";
}
