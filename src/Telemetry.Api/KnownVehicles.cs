using Microsoft.Extensions.Logging;
using Telemetry.Grains;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>
/// The vehicles the API knows of: those this silo heard from (<see cref="VehicleIndex"/>) and, on a shared
/// PostgreSQL database, those any silo of the cluster heard from (<see cref="SqlVehicleArrivals"/>, read at most
/// every <see cref="ReadInterval"/>). So every silo of a cluster lists every vehicle and answers for a vehicle whose
/// frames another silo took. On SQLite, one silo's own file, only this silo's vehicles.
/// </summary>
public sealed partial class KnownVehicles(VehicleIndex local, SqlVehicleArrivals shared, TimeProvider time, ILogger<KnownVehicles> logger) : IDisposable
{
    /// <summary>How long a read of the shared table is reused.</summary>
    public static readonly TimeSpan ReadInterval = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _reading = new(1, 1);
    private IReadOnlyDictionary<string, DateTime> _shared = new Dictionary<string, DateTime>(StringComparer.Ordinal);
    private long _readAtTicks;

    /// <summary>True when the database is shared by the silos of a cluster (PostgreSQL).</summary>
    public bool IsShared => shared.IsShared;

    /// <summary>The vehicles known now. A failed read of the shared table falls back to the last one read (logged).</summary>
    public async ValueTask<View> ViewAsync(CancellationToken cancellationToken)
    {
        if (!IsShared)
            return new View(local, null);
        var now = time.GetUtcNow().UtcTicks;
        if (now - Volatile.Read(ref _readAtTicks) >= ReadInterval.Ticks)
        {
            await _reading.WaitAsync(cancellationToken);
            try
            {
                if (now - _readAtTicks >= ReadInterval.Ticks)
                {
                    try
                    {
                        _shared = await shared.ReadAsync(cancellationToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        LogReadFailed(logger, ex);
                    }
                    Volatile.Write(ref _readAtTicks, now);
                }
            }
            finally
            {
                _reading.Release();
            }
        }
        return new View(local, _shared);
    }

    /// <summary>
    /// True when any silo heard from <paramref name="vin"/>: this silo's index, else (on a shared database) one row
    /// looked up, not the whole table. A failed lookup counts as not heard (logged).
    /// </summary>
    public async ValueTask<bool> IsKnownAsync(string vin, CancellationToken cancellationToken)
    {
        if (local.IsKnown(vin))
            return true;
        if (!IsShared)
            return false;
        try
        {
            return await shared.FindAsync(vin, cancellationToken) is not null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogReadFailed(logger, ex);
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _reading.Dispose();

    [LoggerMessage(EventId = 2301, Level = LogLevel.Warning,
        Message = "Could not read the cluster's vehicle arrivals; listing this silo's vehicles and the last ones read")]
    private static partial void LogReadFailed(ILogger logger, Exception exception);

    /// <summary>This silo's vehicles merged with the cluster's (the later arrival wins).</summary>
    public sealed class View(VehicleIndex local, IReadOnlyDictionary<string, DateTime>? cluster)
    {
        /// <summary>True when any silo heard from the vehicle.</summary>
        public bool IsKnown(string vin) => local.IsKnown(vin) || (cluster?.ContainsKey(vin) ?? false);

        /// <summary>When the vehicle's latest frame arrived, or false when no silo heard from it.</summary>
        public bool TryGetLastArrival(string vin, out DateTime lastArrivalUtc)
        {
            var known = local.TryGetLastArrival(vin, out lastArrivalUtc);
            if (cluster is not null && cluster.TryGetValue(vin, out var elsewhere) && (!known || elsewhere > lastArrivalUtc))
            {
                lastArrivalUtc = elsewhere;
                known = true;
            }
            return known;
        }

        /// <summary>Every known vehicle once, with its latest arrival.</summary>
        public IEnumerable<(string Vin, DateTime LastArrivalUtc)> LastArrivals()
        {
            if (cluster is null)
                return local.LastArrivals();
            var merged = new Dictionary<string, DateTime>(cluster, StringComparer.Ordinal);
            foreach (var (vin, arrival) in local.LastArrivals())
            {
                if (!merged.TryGetValue(vin, out var other) || arrival > other)
                    merged[vin] = arrival;
            }
            return merged.Select(p => (p.Key, p.Value));
        }
    }
}
