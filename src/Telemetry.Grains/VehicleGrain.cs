using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Detection;

namespace Telemetry.Grains;

/// <summary>
/// The vehicle's hot path: deduplicates by sample time, runs every rule, appends new samples and
/// alert changes to the journal (through <see cref="ITimeSeriesSink"/>) and only then returns, so
/// ingest acknowledges a frame once it is durable. No timer per vehicle: the silo-wide sweep calls
/// <see cref="AdvanceClock"/> on silent vehicles that need it (see <see cref="VehicleIndex"/>).
/// The detector state is saved at once on an episode change, otherwise when it is older than
/// <see cref="VehicleGrainOptions.PersistInterval"/> or when the grain is deactivated; the journal
/// covers the rest after a crash (<see cref="RecoveredSeconds"/>). With clustered (Redis) storage a
/// durable reminder also wakes the grain on whichever silo holds it after a silo is lost.
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
    VehicleIndex vehicles,
    IngestDelay delay,
    RecoveredSeconds recovered,
    GrainMetrics metrics,
    TelemetryClock clock,
    ILogger<VehicleGrain> logger) : Grain, IVehicleGrain, IRemindable
{
    private const string ClockReminderName = "clock";
    private const long UnixEpochSeconds = 62_135_596_800;
    private readonly VehicleGrainOptions _options = grainOptions.Value;
    private readonly List<AlertChange> _changes = [];
    private VehicleDetector _detector = null!;
    private Sample? _lastSample;
    // Recent positions for the API's track, in memory only (12 bytes a fix, at most one hour).
    private readonly PositionTrack _track = new();
    private bool _dirty;
    private HashSet<long>? _journaled;
    private List<Sample>? _unwrittenSamples;
    private List<AlertChange>? _unwrittenChanges;
    private DateTime _lastPersistUtc;
    private string _vin = "";
    private VehicleIndex.SaveTag _saveTag = null!;

    // Lists of accepted samples, reused across calls of all grains (a list kept per grain would hold its
    // largest frame for the grain's life); a list that grew past a large frame is not kept.
    private static readonly ConcurrentQueue<List<Sample>> SpareLists = new();
    private const int MaxSpareLists = 1024;
    private const int MaxSpareCapacity = 64;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var vin = _vin = this.GetPrimaryKeyString();
        _detector = new VehicleDetector(vin, detectionOptions.Value, registry.Find(vin), zones);
        _saveTag = vehicles.SaveTagOf(vin);
        if (state.RecordExists && state.State.Detector is { } saved)
        {
            _detector.Restore(saved);
            state.State.Detector = null;
        }
        var journaled = recovered.Take(vin);
        if (journaled.Count > 0)
        {
            _journaled = [.. journaled];
        }
        _lastPersistUtc = Now;
        AttachHours(detectionOptions.Value.Physics, logger);
        // Batches of hourly totals saved before a crash or a move to another silo: stored now (once), not at the next save.
        await StoreHoursAsync();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Not with samples or changes the journal refused: the saved state would count them, and the frame
        // sent again would be dropped as a duplicate. Unsaved, the frame is evaluated again when it comes back.
        if (_dirty && _unwrittenSamples is null && _unwrittenChanges is null
            && (reason.ReasonCode != DeactivationReasonCode.ShuttingDown || _options.SaveOnShutdown))
        {
            await PersistAsync();
        }
    }

    // Pooled state machines: both methods run once per frame, and each would otherwise allocate its box when it awaits.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<IngestResult> Ingest(TelemetryBatch batch)
    {
        _changes.Clear();
        var accepted = RentList();
        try
        {
            return await IngestAsync(batch, accepted);
        }
        finally
        {
            ReturnList(accepted);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<IngestResult> IngestAsync(TelemetryBatch batch, List<Sample> accepted)
    {
        using var activity = GrainTracing.Source.StartActivity("vehicle ingest");
        // Before anything is evaluated or written: the journal's records of this frame are not covered by the saved
        // state until the next save (ingest tagged the vehicle before archiving the raw message; a replay did not).
        _saveTag.Unsaved(vehicles);
        _detector.Vehicle = registry.Find(batch.Vin) ?? _detector.Vehicle;
        _detector.IngestDelaySeconds = batch.ReceivedUtc == default ? 0 : delay.Allowance(batch.ReceivedUtc);
        var result = _detector.OnBatch(batch, _changes, accepted);
        if (activity is not null)
        {
            activity.SetTag("telemetry.vin", batch.Vin);
            activity.SetTag("telemetry.samples", batch.Samples.Length);
            activity.SetTag("telemetry.accepted", result.Accepted);
            activity.SetTag("telemetry.duplicates", result.Duplicates);
            activity.SetTag("telemetry.alert_changes", _changes.Count);
        }

        // The live feed first (latency); the durable records before this call returns.
        PublishLive(_changes);
        var toWrite = accepted;
        if (_journaled is { } journaled)
        {
            // After a crash the journal already holds these seconds (written after the last saved
            // state): they are evaluated again, but not stored twice.
            toWrite = accepted.FindAll(s => !journaled.Remove(s.TimeUtc.Ticks / TimeSpan.TicksPerSecond - UnixEpochSeconds));
            _journaled = journaled.Count == 0 ? null : journaled;
        }
        state.State.SamplesAccepted += result.Accepted;
        state.State.DuplicatesDropped += result.Duplicates;
        _dirty = true;
        await WriteAsync(toWrite, _changes);
        if (_options.UseReminders && !state.State.ClockReminder)
        {
            await this.RegisterOrUpdateReminder(ClockReminderName, _options.ReminderPeriod, _options.ReminderPeriod);
            state.State.ClockReminder = true;
            await PersistAsync(inIngest: true);
        }
        else if (_changes.Count > 0 || Now - _lastPersistUtc >= _options.PersistInterval || _hours.NeedsFlush)
        {
            await PersistAsync(inIngest: true);
        }

        foreach (var sample in accepted)
        {
            if (_lastSample is not { } last || sample.TimeUtc > last.TimeUtc)
            {
                _lastSample = sample;
            }
            _track.Add(sample);
        }
        vehicles.Update(batch.Vin, _detector.LastArrivalUtc ?? Now, _detector.NeedsClock || _dirty);
        if (batch.Kind == FrameKind.RealTime && batch.ReceivedUtc != default)
        {
            delay.Observe(batch.ReceivedUtc, VehicleDetector.NewestTime(batch.Samples.IsDefault ? [] : batch.Samples.AsSpan(), batch.FrameTimeUtc));
        }
        metrics.Record(result, _changes);
        return new IngestResult(result.Accepted, result.Duplicates, _changes.Count);
    }

    public async ValueTask ReportCheckCodeFailure(DateTime receivedUtc)
    {
        _changes.Clear();
        _saveTag.Unsaved(vehicles);
        _detector.OnCheckCodeFailure(receivedUtc, _changes);
        PublishLive(_changes);
        await WriteAsync([], _changes);
        metrics.Record(default, _changes);
        _dirty = true;
        if (_changes.Count > 0)
        {
            await PersistAsync();
        }
    }

    public ValueTask<VehicleStatus> GetStatus() => ValueTask.FromResult(new VehicleStatus
    {
        Vin = _vin,
        LastSampleUtc = _detector.LastSampleUtc,
        LastReceivedUtc = _detector.LastArrivalUtc,
        LastSample = _lastSample,
        SamplesAccepted = state.State.SamplesAccepted,
        DuplicatesDropped = state.State.DuplicatesDropped,
        OpenAlertIds = [.. _detector.OpenAlerts.Select(a => a.Id)],
        OpenEpisodes = [.. _detector.OpenAlerts.Select(a => a with { Evidence = [] })],
        Rules = _detector.RuleStatuses,
    });

    public ValueTask<System.Collections.Immutable.ImmutableArray<TrackPoint>> GetTrack(int seconds) => ValueTask.FromResult(_track.Recent(seconds));

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        await AdvanceClock(delay.HorizonUtc(Now));
        var silentFor = _detector.LastArrivalUtc is { } last ? Now - last : TimeSpan.MaxValue;
        if (_detector.OpenAlerts.Count > 0 || silentFor < _options.IdleRetention)
        {
            return;
        }
        // Parked for good (or never heard from): stop waking this grain until data comes again.
        var reminder = await this.GetReminder(reminderName);
        if (reminder is not null)
        {
            await this.UnregisterReminder(reminder);
        }
        state.State.ClockReminder = false;
        await PersistAsync();
    }

    private DateTime Now => clock.UtcNow;

    public async ValueTask AdvanceClock(DateTime nowUtc)
    {
        _changes.Clear();
        _detector.OnClock(nowUtc, _changes);
        if (_changes.Count > 0 || _unwrittenSamples is not null || _unwrittenChanges is not null)
        {
            _saveTag.Unsaved(vehicles);
            PublishLive(_changes);
            await WriteAsync([], _changes);
            metrics.Record(default, _changes);
            await PersistAsync();
        }
        else if (_dirty || _hours.DirtyCount > 0 || _saveTag.Since != 0)
        {
            // Silent, or unsaved for long: save now, so the journal need not cover this vehicle after a crash.
            await PersistAsync();
        }
        var vin = _vin;
        var silentFor = _detector.LastArrivalUtc is { } last ? nowUtc - last : TimeSpan.MaxValue;
        if (!_detector.NeedsClock || (silentFor >= _options.IdleRetention && _detector.OpenAlerts.Count == 0))
        {
            vehicles.Rest(vin);
            if (!_dirty && _unwrittenSamples is null && _unwrittenChanges is null)
            {
                // Parked and saved: free the memory now rather than after the collection age, so a
                // flood of vehicles that send once costs memory for seconds, not minutes.
                DeactivateOnIdle();
            }
        }
        else
        {
            vehicles.Update(vin, _detector.LastArrivalUtc ?? nowUtc, needsClock: true);
        }
    }

    /// <summary>Saves the detector state; <paramref name="inIngest"/>: inside the <see cref="Ingest"/> of one message, which the save covers.</summary>
    private async Task PersistAsync(bool inIngest = false)
    {
        MoveHoursToOutbox();
        state.State.Detector = _detector.Capture();
        await state.WriteStateAsync();
        // The snapshot is only needed for the write: do not keep a second copy of the detector in memory.
        state.State.Detector = null;
        // Every journal record of this vehicle so far is covered, but for raw messages archived that the grain has not yet seen.
        _saveTag.Saved(covering: inIngest ? 1 : 0);
        _dirty = false;
        _lastPersistUtc = Now;
        await StoreHoursAsync();
    }

    /// <summary>
    /// Writes samples and alert changes, and before them whatever an earlier call could not write.
    /// On failure (journal full, disk error) nothing is forgotten: the detector has already counted
    /// these samples, so the caller's retry of the same frame finds no new sample, writes what is
    /// kept here, and only then succeeds (and is acknowledged).
    /// </summary>
    private async Task WriteAsync(List<Sample> samples, List<AlertChange> changes)
    {
        var allSamples = samples;
        if (_unwrittenSamples is { } earlier)
        {
            earlier.AddRange(samples);
            allSamples = earlier;
        }
        var allChanges = changes;
        if (_unwrittenChanges is { } earlierChanges)
        {
            earlierChanges.AddRange(changes);
            allChanges = earlierChanges;
        }
        var samplesWritten = false;
        try
        {
            if (allSamples.Count > 0)
            {
                await sink.WriteSamplesAsync(SeriesKey.For(_vin, _detector.Vehicle), allSamples);
            }
            samplesWritten = true;
            _unwrittenSamples = null;
            await StoreAsync(allChanges);
            _unwrittenChanges = null;
        }
        catch (Exception ex)
        {
            Log.WriteFailed(logger, _vin, ex);
            if (!samplesWritten)
            {
                _unwrittenSamples = allSamples.Count == 0 ? null : ReferenceEquals(allSamples, _unwrittenSamples) ? allSamples : [.. allSamples];
            }
            _unwrittenChanges = allChanges.Count == 0 ? null : ReferenceEquals(allChanges, _unwrittenChanges) ? allChanges : [.. allChanges];
            throw;
        }
    }

    private static List<Sample> RentList() => SpareLists.TryDequeue(out var list) ? list : new List<Sample>(16);

    private static void ReturnList(List<Sample> list)
    {
        if (list.Capacity > MaxSpareCapacity || SpareLists.Count >= MaxSpareLists)
            return;
        list.Clear();
        SpareLists.Enqueue(list);
    }

    private void PublishLive(List<AlertChange> changes)
    {
        foreach (var change in changes)
        {
            feed.Publish(change);
        }
    }

    private async Task StoreAsync(List<AlertChange> changes)
    {
        foreach (var change in changes)
        {
            await alerts.UpsertAsync(change.Alert);
            await sink.WriteAlertAsync(change.Alert);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Vehicle {Vin}: storing a batch failed; it is kept and written before the next one, and the frame stays unacknowledged until then")]
        public static partial void WriteFailed(ILogger logger, string vin, Exception exception);
    }
}
