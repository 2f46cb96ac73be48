using System.Globalization;
using System.Text;
using Dapper;

namespace Telemetry.Storage.Cases;

/// <summary>
/// When each vehicle's latest frame arrived, as any silo heard it: the <c>vehicle_arrivals</c> table of a
/// <see cref="CaseDatabase"/>, one row per VIN. Each silo of a cluster knows only the vehicles whose frames its own
/// grains took; it shares them here (<see cref="ShareAsync"/>) so that every silo's API lists every vehicle
/// (<see cref="ReadAsync"/>). A row only moves forward in time, whichever silo writes last.
/// </summary>
public sealed class SqlVehicleArrivals(CaseDatabase database)
{
    /// <summary>Rows per statement: two parameters each, well inside both providers' limits.</summary>
    internal const int RowsPerStatement = 400;

    /// <summary>The database.</summary>
    public CaseDatabase Database { get; } = database;

    /// <summary>True when the silos of a cluster share this database (PostgreSQL); on SQLite each silo has its own file and nothing is shared.</summary>
    public bool IsShared => Database.Kind == AlertStoreKind.Postgres;

    /// <summary>Records the arrivals (each raises its vehicle's row, never lowers it), in one transaction.</summary>
    public async Task ShareAsync(IReadOnlyList<(string Vin, DateTime LastArrivalUtc)> arrivals, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(arrivals);
        if (arrivals.Count == 0)
            return;
        await using var connection = await Database.OpenAsync(cancellationToken);
        using var turn = await Database.WriteTurnAsync(cancellationToken);
        await using var transaction = Database.BeginWrite(connection);
        for (var first = 0; first < arrivals.Count; first += RowsPerStatement)
        {
            var count = Math.Min(RowsPerStatement, arrivals.Count - first);
            var sql = new StringBuilder("INSERT INTO vehicle_arrivals (vin, last_arrival_ticks) VALUES ", 64 + (count * 24));
            var parameters = new DynamicParameters();
            for (var i = 0; i < count; i++)
            {
                var (vin, arrival) = arrivals[first + i];
                ArgumentException.ThrowIfNullOrEmpty(vin);
                if (i > 0)
                    sql.Append(',');
                sql.Append(CultureInfo.InvariantCulture, $"(@v{i}, @t{i})");
                parameters.Add($"v{i}", vin);
                parameters.Add($"t{i}", arrival.ToUniversalTime().Ticks);
            }
            sql.Append("""
                 ON CONFLICT (vin) DO UPDATE SET last_arrival_ticks = excluded.last_arrival_ticks
                 WHERE vehicle_arrivals.last_arrival_ticks < excluded.last_arrival_ticks
                """);
            await connection.ExecuteAsync(new CommandDefinition(sql.ToString(), parameters, transaction, cancellationToken: cancellationToken));
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The latest arrival any silo shared for <paramref name="vin"/>, or null.</summary>
    public async Task<DateTime?> FindAsync(string vin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vin);
        await using var connection = await Database.OpenAsync(cancellationToken);
        var ticks = await connection.QuerySingleOrDefaultAsync<long?>(
            new CommandDefinition("SELECT last_arrival_ticks FROM vehicle_arrivals WHERE vin = @vin", new { vin }, cancellationToken: cancellationToken));
        return ticks is { } t && t >= 0 && t <= DateTime.MaxValue.Ticks ? new DateTime(t, DateTimeKind.Utc) : null;
    }

    /// <summary>Every vehicle any silo shared, with its latest arrival.</summary>
    public async Task<Dictionary<string, DateTime>> ReadAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await Database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Vin, long Ticks)>(
            new CommandDefinition("SELECT vin, last_arrival_ticks FROM vehicle_arrivals", cancellationToken: cancellationToken));
        var result = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        foreach (var (vin, ticks) in rows)
        {
            if (ticks >= 0 && ticks <= DateTime.MaxValue.Ticks)
                result[vin] = new DateTime(ticks, DateTimeKind.Utc);
        }
        return result;
    }
}
