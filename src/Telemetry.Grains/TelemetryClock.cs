namespace Telemetry.Grains;

/// <summary>
/// The pipeline's clock: the arrival time ingest stamps on each frame and the "now" the vehicle
/// grains advance their detectors to. System time in production; a replay of recorded or
/// simulated traffic supplies its own, so that arrival-time rules (offline, clock skew) see the
/// arrival times of the recording. Orleans' own timers keep real time.
/// </summary>
public sealed class TelemetryClock(TimeProvider time)
{
    /// <summary>The system clock.</summary>
    public static TelemetryClock System { get; } = new(TimeProvider.System);

    /// <summary>Now, UTC.</summary>
    public DateTime UtcNow => time.GetUtcNow().UtcDateTime;
}
