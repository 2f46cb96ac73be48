using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Detection;

namespace Telemetry.Grains;

/// <summary>
/// The vehicle's hot path: deduplicates by sample time, runs every rule, writes new samples and
/// alert changes, and only then returns, so ingest acknowledges a frame after it is stored.
/// The detector state is persisted (at once on an episode change, otherwise at most
/// <see cref="VehicleGrainOptions.PersistInterval"/> late), and a durable reminder wakes the
/// grain after a silo restart so offline terminals are still detected.
/// </summary>
public sealed partial class VehicleGrain(
    [PersistentState("vehicle", VehicleGrainOptions.StorageName)] IPersistentState<VehicleGrainState> state,
    IOptions<DetectionOptions> detectionOptions,
    IOptions<VehicleGrainOptions> grainOptions,
    ITimeSeriesSink sink,
    IAlertStore alerts,
    IAlertFeed feed,
    IVehicleRegistry registry,
    IZoneIndex zones,
    GrainMetrics metrics,
    TelemetryClock clock,
    ILogger<VehicleGrain> logger) : Grain, IVehicleGrain, IRemindable
{
    private const string ClockReminderName = "clock";
    private readonly VehicleGrainOptions _options = grainOptions.Value;
    private readonly List<AlertChange> _changes = [];
    private readonly List<Sample> _accepted = [];
    private VehicleDetector _detector = null!;
    private Sample? _lastSample;
    private bool _dirty;
    private DateTime _lastPersistUtc;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var vin = this.GetPrimaryKeyString();
        _detector = new VehicleDetector(vin, detectionOptions.Value, registry.Find(vin), zones);
        if (state.RecordExists && state.State.Detector is { } saved)
        {
            _detector.Restore(saved);
        }
        _lastPersistUtc = Now;
        this.RegisterGrainTimer(OnClockAsync, new GrainTimerCreationOptions(_options.ClockPeriod, _options.ClockPeriod) { KeepAlive = false });
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_dirty && (reason.ReasonCode != DeactivationReasonCode.ShuttingDown || _options.SaveOnShutdown))
        {
            await PersistAsync();
        }
    }

    public async ValueTask<IngestResult> Ingest(TelemetryBatch batch)
    {
        _changes.Clear();
        _accepted.Clear();
        _detector.Vehicle = registry.Find(batch.Vin) ?? _detector.Vehicle;
        var result = _detector.OnBatch(batch, _changes, _accepted);

        try
        {
            if (_accepted.Count > 0)
            {
                await sink.WriteSamplesAsync(batch.Vin, _accepted);
            }
            await PublishAsync(_changes);
            state.State.SamplesAccepted += result.Accepted;
            state.State.DuplicatesDropped += result.Duplicates;
            _dirty = true;
            if (!state.State.ClockReminder)
            {
                await this.RegisterOrUpdateReminder(ClockReminderName, _options.ReminderPeriod, _options.ReminderPeriod);
                state.State.ClockReminder = true;
                await PersistAsync();
            }
            else if (_changes.Count > 0 || Now - _lastPersistUtc >= _options.PersistInterval)
            {
                await PersistAsync();
            }
        }
        catch (Exception ex)
        {
            // The detector already counted these samples as seen. Dropping this activation makes the
            // broker's redelivery of the unacknowledged frame meet the last saved detector, so
            // nothing is lost.
            Log.WriteFailed(logger, batch.Vin, ex);
            _dirty = false;
            DeactivateOnIdle();
            throw;
        }

        foreach (var sample in _accepted)
        {
            if (_lastSample is not { } last || sample.TimeUtc > last.TimeUtc)
            {
                _lastSample = sample;
            }
        }
        metrics.Record(result, _changes);
        return new IngestResult(result.Accepted, result.Duplicates, _changes.Count);
    }

    public async ValueTask ReportCheckCodeFailure(DateTime receivedUtc)
    {
        _changes.Clear();
        _detector.OnCheckCodeFailure(receivedUtc, _changes);
        await PublishAsync(_changes);
        metrics.Record(default, _changes);
        _dirty = true;
        if (_changes.Count > 0)
        {
            await PersistAsync();
        }
    }

    public ValueTask<VehicleStatus> GetStatus() => ValueTask.FromResult(new VehicleStatus
    {
        Vin = this.GetPrimaryKeyString(),
        LastSampleUtc = _detector.LastSampleUtc,
        LastReceivedUtc = _detector.LastArrivalUtc,
        LastSample = _lastSample,
        SamplesAccepted = state.State.SamplesAccepted,
        DuplicatesDropped = state.State.DuplicatesDropped,
        OpenAlertIds = [.. _detector.OpenAlerts.Select(a => a.Id)],
        Rules = _detector.RuleStatuses,
    });

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        await OnClockAsync(Now);
        var silentFor = _detector.LastArrivalUtc is { } last ? Now - last : TimeSpan.MaxValue;
        if (_detector.OpenAlerts.Count == 0 && silentFor >= _options.IdleRetention)
        {
            // Parked for good (or never heard from): stop waking this grain until data comes again.
            var reminder = await this.GetReminder(reminderName);
            if (reminder is not null)
            {
                await this.UnregisterReminder(reminder);
            }
            state.State.ClockReminder = false;
            await PersistAsync();
        }
    }

    private DateTime Now => clock.UtcNow;

    public async ValueTask AdvanceClock(DateTime nowUtc) => await OnClockAsync(nowUtc);

    private Task OnClockAsync(CancellationToken cancellationToken) => OnClockAsync(Now);

    private async Task OnClockAsync(DateTime nowUtc)
    {
        _changes.Clear();
        _detector.OnClock(nowUtc, _changes);
        if (_changes.Count > 0)
        {
            await PublishAsync(_changes);
            metrics.Record(default, _changes);
            await PersistAsync();
        }
        else if (_dirty && Now - _lastPersistUtc >= _options.PersistInterval)
        {
            await PersistAsync();
        }
    }

    private async Task PersistAsync()
    {
        state.State.Detector = _detector.Capture();
        await state.WriteStateAsync();
        _dirty = false;
        _lastPersistUtc = Now;
    }

    private async Task PublishAsync(List<AlertChange> changes)
    {
        foreach (var change in changes)
        {
            await alerts.UpsertAsync(change.Alert);
            await sink.WriteAlertAsync(change.Alert);
            feed.Publish(change);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Vehicle {Vin}: storing a batch failed; the frame stays unacknowledged for redelivery")]
        public static partial void WriteFailed(ILogger logger, string vin, Exception exception);
    }
}
