using Dapper;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Cases;

/// <summary>What an import into the registry changed.</summary>
/// <param name="Added">Vehicles that were not in the registry.</param>
/// <param name="Updated">Vehicles whose entry changed.</param>
/// <param name="Unchanged">Vehicles whose entry was already the same.</param>
/// <param name="Removed">Vehicles removed because a replacing import did not name them.</param>
public sealed record class RegistryImportResult(int Added, int Updated, int Unchanged, int Removed);

/// <summary>
/// The vehicle registry in the <see cref="CaseDatabase"/>: one row per VIN with its fleet, region, engine, reference
/// torque, emission stage, terminal profile and terminal public key. Every change raises a version number in the same
/// transaction, so a silo polling <see cref="VersionAsync"/> reloads only when something changed, and every silo on one
/// PostgreSQL sees the same registry. The rows are checked by the caller (the registry text parser); this store only
/// keeps them.
/// </summary>
public sealed class SqlVehicleRegistryStore(CaseDatabase database, TimeProvider time)
{
    /// <summary>The database the registry lives in.</summary>
    public CaseDatabase Database => database;

    /// <summary>
    /// Adds or updates <paramref name="vehicles"/> in one transaction (the last entry of a VIN named twice wins). With
    /// <paramref name="replace"/> every vehicle not named is removed, so the registry becomes exactly the import.
    /// </summary>
    public async Task<RegistryImportResult> ImportAsync(IReadOnlyCollection<VehicleInfo> vehicles, bool replace, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vehicles);
        var byVin = new Dictionary<string, VehicleInfo>(StringComparer.Ordinal);
        foreach (var v in vehicles)
            byVin[v.Vin] = v;
        var ticks = time.GetUtcNow().UtcDateTime.Ticks;
        await using var connection = await database.OpenAsync(cancellationToken);
        using var turn = await database.WriteTurnAsync(cancellationToken);
        await using var transaction = database.BeginWrite(connection);
        // Reading the version row under the write lock serialises importers on PostgreSQL as SQLite's IMMEDIATE does.
        await connection.ExecuteScalarAsync<long>("SELECT version FROM registry_version WHERE id = 1" + database.ForUpdate, transaction: transaction);
        var existing = (await connection.QueryAsync<Row>(SelectAll, transaction: transaction)).ToDictionary(r => r.Vin, r => r.ToInfo(), StringComparer.Ordinal);
        int added = 0, updated = 0, unchanged = 0, removed = 0;
        foreach (var v in byVin.Values)
        {
            if (existing.TryGetValue(v.Vin, out var old))
            {
                if (old == v)
                {
                    unchanged++;
                    continue;
                }
                updated++;
            }
            else
            {
                added++;
            }
            await connection.ExecuteAsync(
                """
                INSERT INTO vehicles (vin, fleet, region, engine_model, reference_torque_nm, emission_stage, terminal_profile, terminal_public_key, updated_ticks)
                VALUES (@Vin, @Fleet, @Region, @EngineModel, @ReferenceTorqueNm, @EmissionStage, @TerminalProfile, @TerminalPublicKey, @ticks)
                ON CONFLICT (vin) DO UPDATE SET fleet = excluded.fleet, region = excluded.region, engine_model = excluded.engine_model,
                    reference_torque_nm = excluded.reference_torque_nm, emission_stage = excluded.emission_stage,
                    terminal_profile = excluded.terminal_profile, terminal_public_key = excluded.terminal_public_key, updated_ticks = excluded.updated_ticks
                """,
                new { v.Vin, v.Fleet, v.Region, v.EngineModel, v.ReferenceTorqueNm, v.EmissionStage, v.TerminalProfile, v.TerminalPublicKey, ticks }, transaction);
        }
        if (replace)
        {
            foreach (var vin in existing.Keys.Where(vin => !byVin.ContainsKey(vin)))
            {
                removed += await connection.ExecuteAsync("DELETE FROM vehicles WHERE vin = @vin", new { vin }, transaction);
            }
        }
        if (added + updated + removed > 0)
            await connection.ExecuteAsync("UPDATE registry_version SET version = version + 1 WHERE id = 1", transaction: transaction);
        await transaction.CommitAsync(cancellationToken);
        return new RegistryImportResult(added, updated, unchanged, removed);
    }

    /// <summary>Every registered vehicle, by VIN.</summary>
    public async Task<IReadOnlyList<VehicleInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return [.. (await connection.QueryAsync<Row>(SelectAll + " ORDER BY vin")).Select(r => r.ToInfo())];
    }

    /// <summary>The registry and its version, read in one transaction (a reload never pairs a version with other rows).</summary>
    public async Task<(long Version, IReadOnlyList<VehicleInfo> Vehicles)> SnapshotAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var version = await connection.ExecuteScalarAsync<long>("SELECT version FROM registry_version WHERE id = 1", transaction: transaction);
        var rows = await connection.QueryAsync<Row>(SelectAll + " ORDER BY vin", transaction: transaction);
        await transaction.CommitAsync(cancellationToken);
        return (version, [.. rows.Select(r => r.ToInfo())]);
    }

    /// <summary>Removes <paramref name="vin"/> from the registry; false when it is not there.</summary>
    public async Task<bool> RemoveAsync(string vin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vin);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var turn = await database.WriteTurnAsync(cancellationToken);
        await using var transaction = database.BeginWrite(connection);
        var removed = await connection.ExecuteAsync("DELETE FROM vehicles WHERE vin = @vin", new { vin }, transaction);
        if (removed > 0)
            await connection.ExecuteAsync("UPDATE registry_version SET version = version + 1 WHERE id = 1", transaction: transaction);
        await transaction.CommitAsync(cancellationToken);
        return removed > 0;
    }

    /// <summary>A number that grows with every change of the registry.</summary>
    public async Task<long> VersionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>("SELECT version FROM registry_version WHERE id = 1");
    }

    private const string SelectAll =
        "SELECT vin, fleet, region, engine_model, reference_torque_nm, emission_stage, terminal_profile, terminal_public_key FROM vehicles";

    private sealed class Row
    {
        public string Vin { get; set; } = "";
        public string? Fleet { get; set; }
        public string? Region { get; set; }
        public string? Engine_Model { get; set; }
        public double? Reference_Torque_Nm { get; set; }
        public string? Emission_Stage { get; set; }
        public string? Terminal_Profile { get; set; }
        public string? Terminal_Public_Key { get; set; }

        public VehicleInfo ToInfo() => new()
        {
            Vin = Vin,
            Fleet = Fleet,
            Region = Region,
            EngineModel = Engine_Model,
            ReferenceTorqueNm = Reference_Torque_Nm,
            EmissionStage = Emission_Stage,
            TerminalProfile = Terminal_Profile,
            TerminalPublicKey = Terminal_Public_Key,
        };
    }
}
