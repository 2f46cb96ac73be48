using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Telemetry.Detection;

namespace Telemetry.Grains;

// Hourly totals for compliance reports: the detector tells the accumulator of every sample the rules evaluate
// (accepted seconds only, each once, late ones in their own hour). At each save the totals gathered since the last one
// move into the outbox, which is saved with the detector's state, and only then are offered to the case database, which
// adds each numbered batch once. So what is stored and what the saved dedup state has counted go together, whatever
// moment a crash picks (see HourTotalsOutbox).
public sealed partial class VehicleGrain
{
    private HourTotalsAccumulator _hours = null!;
    private HourTotalsOutbox? _outbox;
    private ILogger _hoursLogger = null!;

    private void AttachHours(PhysicsOptions physics, ILogger log)
    {
        _hours = new HourTotalsAccumulator(_vin, physics);
        _hoursLogger = log;
        // Without a store (a host without the case database) nothing is gathered, so nothing is dropped either.
        if (ServiceProvider.GetService<IHourTotalsStore>() is { } store)
        {
            _outbox = new HourTotalsOutbox(_vin, store, TimeProvider.System);
            _outbox.Restore(state.State.PendingHours, state.State.HoursBatch);
            _detector.Observer = _hours;
        }
    }

    /// <summary>Before a save: the totals gathered since the last save go into the outbox, which is saved with the state.</summary>
    private void MoveHoursToOutbox()
    {
        if (_outbox is null)
            return;
        if (_hours.DirtyCount > 0)
            _outbox.Add(_hours.TakeDirty());
        state.State.PendingHours = _outbox.Pending;
        state.State.HoursBatch = _outbox.LastBatch;
    }

    /// <summary>
    /// After a save: offers the saved batches to the store. A failure (database down) keeps them, saved, for the next
    /// attempt and does not hold up ingest or the detector's state.
    /// </summary>
    private async Task StoreHoursAsync()
    {
        if (_outbox?.Pending is not { } pending)
            return;
        var hours = pending.Sum(p => p.Hours.Count);
        try
        {
            var (_, already) = await _outbox.StoreAsync();
            metrics.ReportHours(hours, stored: true);
            if (already > 0)
                Log.HourTotalsAlreadyStored(_hoursLogger, _vin, already);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            metrics.ReportHours(hours, stored: false);
            Log.HourTotalsFailed(_hoursLogger, _vin, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3050, Level = LogLevel.Warning, Message = "Vehicle {Vin}: storing the hourly totals failed; they are kept with the saved state and stored after the next save")]
        public static partial void HourTotalsFailed(ILogger logger, string vin, Exception exception);

        [LoggerMessage(EventId = 3051, Level = LogLevel.Information, Message = "Vehicle {Vin}: {Batches} batch(es) of hourly totals offered again after a restart were stored already and were not added twice")]
        public static partial void HourTotalsAlreadyStored(ILogger logger, string vin, int batches);
    }
}
