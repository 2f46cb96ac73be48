using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Telemetry.Storage.Cases;

/// <summary>
/// The relational database of alert episodes, cases, the audit trail, API keys, the vehicles' hourly totals, device credentials and the vehicle registry: SQLite (one file) or
/// PostgreSQL, with one schema written for both. <see cref="MigrateAsync"/> applies the migrations that are missing,
/// in order, each in a transaction, recorded in <c>schema_migrations</c>; several silos starting at once on one
/// PostgreSQL take turns through an advisory lock.
/// </summary>
public abstract class CaseDatabase
{
    private readonly Lazy<Task> _migrated;

    private protected CaseDatabase() => _migrated = new(() => MigrateCoreAsync(CancellationToken.None));

    /// <summary>The provider.</summary>
    public abstract AlertStoreKind Kind { get; }

    /// <summary>Where the data is, for the log: a file path or the host and database (never a password).</summary>
    public abstract string Description { get; }

    /// <summary>SQLite on <paramref name="path"/> (created with its directory when missing).</summary>
    public static CaseDatabase Sqlite(string path) => new SqliteCaseDatabase(path);

    /// <summary>PostgreSQL through <paramref name="connectionString"/>.</summary>
    public static CaseDatabase Postgres(string connectionString) => new PostgresCaseDatabase(connectionString);

    /// <summary>The database the options name.</summary>
    public static CaseDatabase From(CaseDatabaseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Store == AlertStoreKind.Postgres ? Postgres(options.ConnectionString) : Sqlite(options.DatabasePath);
    }

    /// <summary>An open connection, the schema migrated.</summary>
    public async Task<DbConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        await MigrateAsync(cancellationToken);
        return await OpenRawAsync(cancellationToken);
    }

    /// <summary>Applies the missing migrations (once per process; later calls wait for the first).</summary>
    public Task MigrateAsync(CancellationToken cancellationToken = default) => _migrated.Value.WaitAsync(cancellationToken);

    /// <summary>A transaction that holds its write lock from the start (SQLite IMMEDIATE; PostgreSQL row locks via <see cref="ForUpdate"/>).</summary>
    internal abstract DbTransaction BeginWrite(DbConnection connection);

    /// <summary>
    /// Waits, without holding a thread, until this process may begin a write transaction; dispose the result after the
    /// transaction. SQLite has one writer at a time, and a connection that finds the write lock taken waits in SQLite's
    /// busy handler, which sleeps on the caller's thread: with grains writing alerts and hourly totals, that blocked the
    /// silo's threads for seconds under load. So this process's writers queue here instead. PostgreSQL: at once.
    /// </summary>
    internal virtual ValueTask<IDisposable?> WriteTurnAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult<IDisposable?>(null);

    /// <summary>The clause that locks the rows a select reads until the transaction ends ("" on SQLite, which locks the database).</summary>
    internal abstract string ForUpdate { get; }

    /// <summary>The SQL of each migration for this provider, in order; the index + 1 is the version.</summary>
    internal abstract IReadOnlyList<string> Migrations { get; }

    private protected abstract Task<DbConnection> OpenRawAsync(CancellationToken cancellationToken);

    private protected virtual Task LockMigrationsAsync(DbConnection connection, DbTransaction transaction) => Task.CompletedTask;

    private async Task MigrateCoreAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenRawAsync(cancellationToken);
        using var turn = await WriteTurnAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        await LockMigrationsAsync(connection, transaction);
        await connection.ExecuteAsync("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ticks BIGINT NOT NULL)",
            transaction: transaction);
        var applied = (await connection.QueryAsync<long>("SELECT version FROM schema_migrations", transaction: transaction)).ToHashSet();
        for (var i = 0; i < Migrations.Count; i++)
        {
            var version = i + 1;
            if (applied.Contains(version))
                continue;
            await connection.ExecuteAsync(Migrations[i], transaction: transaction);
            await connection.ExecuteAsync("INSERT INTO schema_migrations (version, applied_ticks) VALUES (@version, @ticks)",
                new { version, ticks = DateTime.UtcNow.Ticks }, transaction);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    // The tables, written once: only the auto-numbered key and the append-only guard differ by provider.
    private const string Tables = """
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            vin TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            rule_lower TEXT NOT NULL,
            severity INTEGER NOT NULL,
            status INTEGER NOT NULL,
            fleet TEXT NULL,
            region TEXT NULL,
            zone TEXT NULL,
            start_ticks BIGINT NOT NULL,
            revision INTEGER NOT NULL,
            body TEXT NOT NULL,
            evidence TEXT NOT NULL,
            case_state INTEGER NOT NULL DEFAULT 0,
            assignee TEXT NULL,
            close_reason INTEGER NULL,
            case_updated_ticks BIGINT NULL
        );
        CREATE INDEX alerts_start ON alerts (start_ticks DESC, id);
        CREATE INDEX alerts_vin ON alerts (vin, start_ticks DESC);
        CREATE INDEX alerts_fleet ON alerts (fleet, start_ticks DESC);
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            scope TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            created_ticks BIGINT NOT NULL,
            revoked_ticks BIGINT NULL
        );
        CREATE TABLE imported_files (
            path TEXT NOT NULL,
            length BIGINT NOT NULL,
            imported_ticks BIGINT NOT NULL,
            records INTEGER NOT NULL,
            PRIMARY KEY (path, length)
        );
        """;

    // Migration 2: per-vehicle per-hour totals of accepted samples (compliance reports), the same on both providers.
    private const string VehicleHours = """
        CREATE TABLE vehicle_hours (
            vin TEXT NOT NULL,
            hour_ticks BIGINT NOT NULL,
            samples BIGINT NOT NULL,
            minute_mask BIGINT NOT NULL,
            running_seconds BIGINT NOT NULL,
            gated_seconds BIGINT NOT NULL,
            distance_km DOUBLE PRECISION NOT NULL,
            mil_on_distance_km DOUBLE PRECISION NOT NULL,
            odometer_min_km DOUBLE PRECISION NULL,
            odometer_max_km DOUBLE PRECISION NULL,
            fuel_l DOUBLE PRECISION NOT NULL,
            nox_g DOUBLE PRECISION NOT NULL,
            work_percent_rpm_s DOUBLE PRECISION NOT NULL,
            paired_nox_g DOUBLE PRECISION NOT NULL,
            paired_work_percent_rpm_s DOUBLE PRECISION NOT NULL,
            urea_l DOUBLE PRECISION NOT NULL,
            urea_fuel_l DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (vin, hour_ticks)
        );
        """;

    // Migration 3: the MQTT credentials of terminals (DeviceCredentialStore), the same on both providers.
    private const string DeviceCredentialsTable = """
        CREATE TABLE device_credentials (
            vin TEXT PRIMARY KEY,
            secret_hash TEXT NOT NULL,
            created_ticks BIGINT NOT NULL,
            revoked_ticks BIGINT NULL
        );
        """;

    // Migration 4: the vehicle registry (SqlVehicleRegistryStore) and its change counter, the same on both providers.
    private const string VehiclesTable = """
        CREATE TABLE vehicles (
            vin TEXT PRIMARY KEY,
            fleet TEXT NULL,
            region TEXT NULL,
            engine_model TEXT NULL,
            reference_torque_nm DOUBLE PRECISION NULL,
            emission_stage TEXT NULL,
            terminal_profile TEXT NULL,
            terminal_public_key TEXT NULL,
            updated_ticks BIGINT NOT NULL
        );
        CREATE TABLE registry_version (
            id INTEGER PRIMARY KEY,
            version BIGINT NOT NULL
        );
        INSERT INTO registry_version (id, version) VALUES (1, 0);
        """;

    // Migration 5: the highest batch of hourly totals added per vehicle (SqlHourTotalsStore.AddBatchAsync), the same on both providers.
    private const string HourBatchesTable = """
        CREATE TABLE vehicle_hour_batches (
            vin TEXT PRIMARY KEY,
            batch BIGINT NOT NULL
        );
        """;

    // Migration 6: when each vehicle's latest frame arrived, as any silo of a cluster heard it (SqlVehicleArrivals), the same on both providers.
    private const string VehicleArrivalsTable = """
        CREATE TABLE vehicle_arrivals (
            vin TEXT PRIMARY KEY,
            last_arrival_ticks BIGINT NOT NULL
        );
        """;

    private const string AuditColumns = """
            alert_id TEXT NOT NULL,
            at_ticks BIGINT NOT NULL,
            actor TEXT NOT NULL,
            action INTEGER NOT NULL,
            detail TEXT NULL
        );
        CREATE INDEX alert_audit_alert ON alert_audit (alert_id, seq);
        """;

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001:Types that own disposable fields should be disposable",
        Justification = "The write gate is a SemaphoreSlim whose wait handle is never asked for: it holds no resource to release.")]
    private sealed class SqliteCaseDatabase(string path) : CaseDatabase
    {
        private readonly string _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.GetFullPath(path),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        public override AlertStoreKind Kind => AlertStoreKind.Sqlite;

        public override string Description => Path.GetFullPath(path);

        internal override string ForUpdate => "";

        internal override IReadOnlyList<string> Migrations { get; } =
        [
            Tables + "CREATE TABLE alert_audit (seq INTEGER PRIMARY KEY AUTOINCREMENT," + AuditColumns + """
            CREATE TRIGGER alert_audit_no_update BEFORE UPDATE ON alert_audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
            CREATE TRIGGER alert_audit_no_delete BEFORE DELETE ON alert_audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
            """,
            VehicleHours,
            DeviceCredentialsTable,
            VehiclesTable,
            HourBatchesTable,
            VehicleArrivalsTable,
        ];

        internal override DbTransaction BeginWrite(DbConnection connection) =>
            ((SqliteConnection)connection).BeginTransaction(deferred: false);

        private readonly SemaphoreSlim _writer = new(1, 1);

        internal override async ValueTask<IDisposable?> WriteTurnAsync(CancellationToken cancellationToken = default)
        {
            await _writer.WaitAsync(cancellationToken);
            return new Turn(_writer);
        }

        private sealed class Turn(SemaphoreSlim writer) : IDisposable
        {
            private int _released;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _released, 1) == 0)
                    writer.Release();
            }
        }

        private protected override async Task<DbConnection> OpenRawAsync(CancellationToken cancellationToken)
        {
            var directory = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(directory))
                Directory.CreateDirectory(directory);
            var connection = new SqliteConnection(_connectionString);
            await connection.OpenAsync(cancellationToken);
            // WAL: readers never wait for the writer; NORMAL sync is durable at each checkpoint and never corrupts.
            await connection.ExecuteAsync("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;");
            return connection;
        }
    }

    private sealed class PostgresCaseDatabase(string connectionString) : CaseDatabase
    {
        private readonly NpgsqlDataSource _source = NpgsqlDataSource.Create(connectionString);

        public override AlertStoreKind Kind => AlertStoreKind.Postgres;

        public override string Description
        {
            get
            {
                var builder = new NpgsqlConnectionStringBuilder(connectionString);
                return $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
            }
        }

        internal override string ForUpdate => " FOR UPDATE";

        internal override IReadOnlyList<string> Migrations { get; } =
        [
            Tables + "CREATE TABLE alert_audit (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY," + AuditColumns + """
            CREATE FUNCTION alert_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
            CREATE TRIGGER alert_audit_no_change BEFORE UPDATE OR DELETE ON alert_audit
            FOR EACH ROW EXECUTE FUNCTION alert_audit_append_only();
            CREATE TRIGGER alert_audit_no_truncate BEFORE TRUNCATE ON alert_audit
            FOR EACH STATEMENT EXECUTE FUNCTION alert_audit_append_only();
            """,
            VehicleHours,
            DeviceCredentialsTable,
            VehiclesTable,
            HourBatchesTable,
            VehicleArrivalsTable,
        ];

        internal override DbTransaction BeginWrite(DbConnection connection) =>
            connection.BeginTransaction(IsolationLevel.ReadCommitted);

        private protected override async Task<DbConnection> OpenRawAsync(CancellationToken cancellationToken) =>
            await _source.OpenConnectionAsync(cancellationToken);

        // One migrator at a time across silos (the key is arbitrary, fixed for this schema).
        private protected override Task LockMigrationsAsync(DbConnection connection, DbTransaction transaction) =>
            connection.ExecuteAsync("SELECT pg_advisory_xact_lock(7431902211)", transaction: transaction);
    }
}
