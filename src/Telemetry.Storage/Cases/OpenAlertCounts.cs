using System.Text;
using Dapper;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Cases;

/// <summary>Per-vehicle counts of open episodes, for the vehicle list of the API.</summary>
public static class OpenAlertCounts
{
    /// <summary>
    /// The number of open episodes of every vehicle that has one, within <paramref name="scope"/> (its
    /// <see cref="AlertFilter.ScopeFleets"/> and <see cref="AlertFilter.ScopeRegions"/>; null = everything). One
    /// grouped query over the open episodes.
    /// </summary>
    public static async Task<IReadOnlyDictionary<string, int>> CountOpenByVinAsync(this SqlAlertStore store, AlertFilter? scope,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        var where = new StringBuilder("status = @open");
        var parameters = new DynamicParameters(new { open = (int)AlertStatus.Open });
        SqlAlertStore.AppendScope(where, parameters, scope, store.Database.Kind);
        await using var connection = await store.Database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(string Vin, long Count)>(
            new CommandDefinition($"SELECT vin, COUNT(*) FROM alerts WHERE {where} GROUP BY vin", parameters, cancellationToken: cancellationToken));
        return rows.ToDictionary(r => r.Vin, r => (int)r.Count, StringComparer.Ordinal);
    }
}
