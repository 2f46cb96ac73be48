namespace Telemetry.Storage.Cases;

/// <summary>Which store keeps alert episodes, their cases and the API keys.</summary>
public enum AlertStoreKind
{
    /// <summary>One SQLite file under the data directory (the default; nothing to install).</summary>
    Sqlite = 0,
    /// <summary>PostgreSQL, shared by every silo of a cluster.</summary>
    Postgres = 1,
}

/// <summary>Settings of the alert database (<c>Telemetry:Alerts</c>, next to <c>FilePath</c>).</summary>
public sealed class CaseDatabaseOptions
{
    /// <summary>Configuration section (shared with <see cref="AlertStoreOptions"/>).</summary>
    public const string Section = "Telemetry:Alerts";

    /// <summary><c>Sqlite</c> (default) or <c>Postgres</c>.</summary>
    public AlertStoreKind Store { get; set; } = AlertStoreKind.Sqlite;

    /// <summary>The SQLite file, relative to the working directory.</summary>
    public string DatabasePath { get; set; } = "data/telemetry.db";

    /// <summary>Npgsql connection string (<c>Host=...;Username=...;Database=...</c>) when <see cref="Store"/> is <c>Postgres</c>.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>What is wrong with these settings, one sentence per problem that names the setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(Store))
            errors.Add($"{Section}:Store '{Store}' is not Sqlite or Postgres.");
        if (Store == AlertStoreKind.Sqlite && string.IsNullOrWhiteSpace(DatabasePath))
            errors.Add($"{Section}:DatabasePath is empty; name the SQLite file (default data/telemetry.db).");
        if (Store == AlertStoreKind.Postgres && string.IsNullOrWhiteSpace(ConnectionString))
            errors.Add($"{Section}:ConnectionString is empty; Store=Postgres needs an Npgsql connection string such as Host=db;Username=telemetry;Database=telemetry.");
        return errors;
    }
}
