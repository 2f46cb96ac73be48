using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Telemetry.Detection;

namespace Telemetry.Grains;

// Hourly totals for compliance reports: the detector tells the accumulator of every sample the rules evaluate
// (accepted seconds only, each once, late ones in their own hour); the totals are stored in the case database
// just before the detector's state is saved, so what is stored and what the saved state has counted go together.
public sealed partial class VehicleGrain
{
    private HourTotalsAccumulator _hours = null!;
    private IHourTotalsStore? _hoursStore;
    private ILogger _hoursLogger = null!;

    private void AttachHours(PhysicsOptions physics, ILogger log)
    {
        _hours = new HourTotalsAccumulator(_vin, physics);
        _hoursStore = ServiceProvider.GetService<IHourTotalsStore>();
        _hoursLogger = log;
        // Without a store (a host without the case database) nothing is gathered, so nothing is dropped either.
        if (_hoursStore is not null)
            _detector.Observer = _hours;
    }

    /// <summary>
    /// Adds the hours gathered since the last store to the stored totals. A failure (database down) keeps them for the
    /// next attempt and does not hold up ingest or the detector's state.
    /// </summary>
    private async Task FlushHoursAsync()
    {
        if (_hours.DirtyCount == 0 || _hoursStore is not { } store)
            return;
        var taken = _hours.TakeDirty();
        try
        {
            await store.AddAsync([.. taken]);
            metrics.ReportHours(taken.Count, stored: true);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _hours.Return(taken);
            metrics.ReportHours(taken.Count, stored: false);
            Log.HourTotalsFailed(_hoursLogger, _vin, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3050, Level = LogLevel.Warning, Message = "Vehicle {Vin}: storing the hourly totals failed; they are kept and stored with the next save")]
        public static partial void HourTotalsFailed(ILogger logger, string vin, Exception exception);
    }
}
