using System.Collections.Immutable;
using Telemetry.Detection;

namespace Telemetry.Grains;

/// <summary>One vehicle, keyed by VIN: holds its recent state and runs detection on sample time.</summary>
public interface IVehicleGrain : IGrainWithStringKey
{
    /// <summary>Takes one decoded frame. Completes when its new samples and alert changes are written.</summary>
    ValueTask<IngestResult> Ingest(TelemetryBatch batch);

    /// <summary>
    /// Tells the vehicle that a frame on its own topic failed its check code: a terminal that keeps
    /// sending corrupt frames is a data-quality finding (R9).
    /// </summary>
    ValueTask ReportCheckCodeFailure(DateTime receivedUtc);

    /// <summary>
    /// Advances the detector's clock to <paramref name="nowUtc"/> without data (offline detection,
    /// episodes closing after their hysteresis). The grain's own timer does this with the
    /// <see cref="TelemetryClock"/>; a replay of recorded traffic drives it explicitly.
    /// </summary>
    ValueTask AdvanceClock(DateTime nowUtc);

    /// <summary>What the grain knows about its vehicle now.</summary>
    ValueTask<VehicleStatus> GetStatus();

    /// <summary>
    /// Positions of the last <paramref name="seconds"/> before the newest one, oldest first: one per 20 s of
    /// sample time, at most the last hour, kept in memory while the grain is active (see <see cref="PositionTrack"/>).
    /// </summary>
    ValueTask<ImmutableArray<TrackPoint>> GetTrack(int seconds);
}

/// <summary>What one <see cref="IVehicleGrain.Ingest"/> call did.</summary>
[GenerateSerializer, Immutable]
public readonly record struct IngestResult(
    [property: Id(0)] int Accepted,
    [property: Id(1)] int Duplicates,
    [property: Id(2)] int AlertChanges);

/// <summary>Live state of a vehicle for the API.</summary>
[GenerateSerializer, Immutable]
public sealed record class VehicleStatus
{
    [Id(0)] public required string Vin { get; init; }
    [Id(1)] public DateTime? LastSampleUtc { get; init; }
    [Id(2)] public DateTime? LastReceivedUtc { get; init; }
    [Id(3)] public Sample? LastSample { get; init; }
    [Id(4)] public long SamplesAccepted { get; init; }
    [Id(5)] public long DuplicatesDropped { get; init; }
    [Id(6)] public IReadOnlyList<string> OpenAlertIds { get; init; } = [];
    /// <summary>Whether each rule runs for this vehicle, and which inputs a silent rule lacks.</summary>
    [Id(7)] public IReadOnlyList<Detection.RuleStatus> Rules { get; init; } = [];
    /// <summary>The open episodes of the live timeline, without evidence.</summary>
    [Id(8)] public IReadOnlyList<Alert> OpenEpisodes { get; init; } = [];
}
