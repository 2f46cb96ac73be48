using System.Text;

namespace Telemetry.Storage;

/// <summary>
/// Maps a snapshot of the silo's own counters to line protocol, so the platform-health dashboard works
/// from the time-series store alone (without Prometheus). Pure: the silo's periodic writer and the
/// dashboard tests use these lines.
/// </summary>
/// <remarks>
/// <para><c>telemetry_pipeline</c>, tag <c>host</c>; one float field per entry of <see cref="Fields"/> that the
/// snapshot holds. Counters are totals since the silo started (a restart starts again at 0: read them
/// with <c>non_negative_derivative</c>); gauges are the value at the snapshot.</para>
/// <para><c>telemetry_pipeline_rejected</c>, tags <c>host</c> and <c>reason</c>; field <c>count</c>: messages
/// rejected for that reason since start.</para>
/// </remarks>
public static class PipelinePoints
{
    /// <summary>Measurement of the pipeline counters and gauges.</summary>
    public const string Measurement = "telemetry_pipeline";

    /// <summary>Measurement of the rejected messages by reason.</summary>
    public const string RejectedMeasurement = "telemetry_pipeline_rejected";

    /// <summary>The fields of <see cref="Measurement"/>, each with its meaning (documented in the storage README).</summary>
    public static readonly IReadOnlyDictionary<string, string> Fields = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["received"] = "MQTT messages received (total)",
        ["decoded"] = "messages decoded (total)",
        ["rejected"] = "messages rejected, every reason (total)",
        ["failed"] = "messages whose grain failed every attempt (total)",
        ["samples_accepted"] = "samples accepted by vehicle grains (total)",
        ["samples_deduplicated"] = "samples dropped as already seen (total)",
        ["samples_late"] = "accepted samples older than the vehicle's newest (total)",
        ["alerts_opened"] = "alert episodes opened (total)",
        ["alerts_closed"] = "alert episodes closed (total)",
        ["open_episodes"] = "alert episodes open now in this silo's grains (gauge)",
        ["vehicles_online"] = "vehicles that sent a frame in the last 5 minutes (gauge)",
        ["grain_activations"] = "Orleans grain activations (gauge)",
        ["alert_latency_ms_mean"] = "mean time from the sample that opened an episode to its opening, over the interval (ms)",
        ["alert_latency_ms_max"] = "longest such time over the interval (ms)",
        ["journal_bytes"] = "bytes of the journal on disk (gauge)",
        ["shipper_lag_records"] = "journal records not yet shipped (gauge)",
        ["shipper_lag_seconds"] = "age of the oldest journal record not yet shipped (gauge, s)",
        ["shipped_lines"] = "lines the shipper delivered to the store (total)",
        ["points_written"] = "points the store accepted (total)",
        ["shipper_retries"] = "shipper write attempts repeated after a failure (total)",
        ["shipper_rejected"] = "lines the store rejected, set aside (total)",
        ["write_failures"] = "write requests that failed after every retry (total)",
    };

    /// <summary>
    /// The lines of one snapshot at <paramref name="timeUtc"/> (seconds): one <see cref="Measurement"/> line with
    /// the finite values of <paramref name="values"/> whose names are in <see cref="Fields"/>, and one
    /// <see cref="RejectedMeasurement"/> line per reason.
    /// </summary>
    public static IReadOnlyList<string> ToLines(string host, IReadOnlyDictionary<string, double> values,
        IReadOnlyDictionary<string, long> rejectedByReason, DateTime timeUtc)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(rejectedByReason);
        var seconds = LineProtocol.ToUnixSeconds(timeUtc);
        var lines = new List<string>(1 + rejectedByReason.Count);
        var builder = new StringBuilder(512);
        var line = new LineBuilder(builder).Begin(Measurement).Tag("host", host);
        var any = false;
        foreach (var (name, _) in Fields)
        {
            if (values.TryGetValue(name, out var value) && double.IsFinite(value))
            {
                line.Field(name, value);
                any = true;
            }
        }
        if (any)
        {
            line.End(seconds);
            lines.Add(builder.ToString());
        }
        foreach (var (reason, count) in rejectedByReason.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            builder.Clear();
            new LineBuilder(builder).Begin(RejectedMeasurement).Tag("host", host).Tag("reason", reason)
                .Field("count", (double)count).End(seconds);
            lines.Add(builder.ToString());
        }
        return lines;
    }
}
