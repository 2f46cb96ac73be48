using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Detection;

namespace Telemetry.Grains;

/// <summary>
/// The vehicle's hot path: deduplicates by sample time, runs every rule, writes new samples and
/// alert changes, and only then returns, so ingest acknowledges a frame after it is stored.
/// </summary>
public sealed partial class VehicleGrain(
    IOptions<DetectionOptions> detectionOptions,
    ITimeSeriesSink sink,
    IAlertStore alerts,
    IAlertFeed feed,
    IVehicleRegistry registry,
    IZoneIndex zones,
    GrainMetrics metrics,
    TimeProvider time,
    ILogger<VehicleGrain> logger) : Grain, IVehicleGrain
{
    private readonly List<AlertChange> _changes = [];
    private readonly List<Sample> _accepted = [];
    private readonly HashSet<string> _openAlerts = new(StringComparer.Ordinal);
    private VehicleDetector _detector = null!;
    private Sample? _lastSample;
    private DateTime? _lastReceivedUtc;
    private long _samplesAccepted;
    private long _duplicates;

    /// <summary>How often the grain advances the detector's clock while no data arrives.</summary>
    public static readonly TimeSpan ClockPeriod = TimeSpan.FromSeconds(30);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var vin = this.GetPrimaryKeyString();
        _detector = new VehicleDetector(vin, detectionOptions.Value, registry.Find(vin), zones);
        this.RegisterGrainTimer(OnClockAsync, new GrainTimerCreationOptions(ClockPeriod, ClockPeriod) { KeepAlive = false });
        return Task.CompletedTask;
    }

    public async ValueTask<IngestResult> Ingest(TelemetryBatch batch)
    {
        _changes.Clear();
        _accepted.Clear();
        _detector.Vehicle = registry.Find(batch.Vin) ?? _detector.Vehicle;
        var result = _detector.OnBatch(batch, _changes, _accepted);
        _lastReceivedUtc = batch.ReceivedUtc;

        try
        {
            if (_accepted.Count > 0)
            {
                await sink.WriteSamplesAsync(batch.Vin, _accepted);
            }
            await PublishAsync(_changes);
        }
        catch (Exception ex)
        {
            // The detector already counted these samples as seen. Dropping this activation makes the
            // broker's redelivery of the unacknowledged frame meet a fresh detector, so nothing is lost.
            Log.WriteFailed(logger, batch.Vin, ex);
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
        _samplesAccepted += result.Accepted;
        _duplicates += result.Duplicates;
        metrics.Record(result, _changes);
        return new IngestResult(result.Accepted, result.Duplicates, _changes.Count);
    }

    public ValueTask<VehicleStatus> GetStatus() => ValueTask.FromResult(new VehicleStatus
    {
        Vin = this.GetPrimaryKeyString(),
        LastSampleUtc = _lastSample?.TimeUtc,
        LastReceivedUtc = _lastReceivedUtc,
        LastSample = _lastSample,
        SamplesAccepted = _samplesAccepted,
        DuplicatesDropped = _duplicates,
        OpenAlertIds = [.. _openAlerts],
    });

    private async Task OnClockAsync(CancellationToken cancellationToken)
    {
        _changes.Clear();
        _detector.OnClock(time.GetUtcNow().UtcDateTime, _changes);
        if (_changes.Count > 0)
        {
            await PublishAsync(_changes);
            metrics.Record(default, _changes);
        }
    }

    private async Task PublishAsync(List<AlertChange> changes)
    {
        foreach (var change in changes)
        {
            await alerts.UpsertAsync(change.Alert);
            await sink.WriteAlertAsync(change.Alert);
            if (change.Kind == AlertChangeKind.Closed)
            {
                _openAlerts.Remove(change.Alert.Id);
            }
            else
            {
                _openAlerts.Add(change.Alert.Id);
            }
            feed.Publish(change);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Vehicle {Vin}: writing a batch failed; the frame stays unacknowledged for redelivery")]
        public static partial void WriteFailed(ILogger logger, string vin, Exception exception);
    }
}
