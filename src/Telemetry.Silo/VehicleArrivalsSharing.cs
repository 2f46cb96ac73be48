using Telemetry.Grains;
using Telemetry.Storage.Cases;

namespace Telemetry.Silo;

/// <summary>
/// On a PostgreSQL alert database (a cluster), shares this silo's vehicle arrivals every <see cref="Period"/>
/// (<see cref="SqlVehicleArrivals"/>), so that every silo's API lists the vehicles whose frames another silo
/// took. A vehicle's row moves when its latest arrival moved on by <see cref="Step"/>: 100,000 trucks cost
/// about 1,700 row updates a second, not 10,000. On SQLite (one silo) it does nothing.
/// </summary>
public sealed partial class VehicleArrivalsSharing(VehicleIndex vehicles, SqlVehicleArrivals arrivals, TimeProvider time,
    ILogger<VehicleArrivalsSharing> logger) : BackgroundService
{
    /// <summary>How often arrivals are shared.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(10);

    /// <summary>How far a vehicle's latest arrival moves before its row is written again (well inside the 5 min online window).</summary>
    public static readonly TimeSpan Step = TimeSpan.FromMinutes(1);

    private bool _failing;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!arrivals.IsShared)
            return;
        using var timer = new PeriodicTimer(Period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await ShareAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>One pass: writes the arrivals not yet shared; on failure they are offered again next time.</summary>
    public async Task ShareAsync(CancellationToken cancellationToken)
    {
        var taken = vehicles.TakeUnshared(Step);
        if (taken.Count == 0)
            return;
        try
        {
            await arrivals.ShareAsync(taken, cancellationToken);
            if (_failing)
            {
                _failing = false;
                LogRecovered(logger, taken.Count);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            vehicles.Unshare(taken);
            if (!_failing)
            {
                _failing = true;
                LogFailed(logger, taken.Count, ex);
            }
        }
        catch (OperationCanceledException)
        {
            vehicles.Unshare(taken);
            throw;
        }
    }

    [LoggerMessage(EventId = 1406, Level = LogLevel.Warning,
        Message = "Sharing {Count} vehicle arrivals with the cluster failed; other silos' vehicle lists miss them until it works again")]
    private static partial void LogFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = 1407, Level = LogLevel.Information, Message = "Sharing vehicle arrivals with the cluster works again ({Count} shared)")]
    private static partial void LogRecovered(ILogger logger, int count);
}
