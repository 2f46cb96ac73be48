using System.Diagnostics.Metrics;

namespace Telemetry.Storage;

/// <summary>
/// OpenTelemetry instruments of the storage adapters, on the meter <see cref="MeterName"/>
/// (<c>AddMeter(StorageMetrics.MeterName)</c>). Every instrument carries a <c>sink</c> tag:
/// <c>influx</c> or <c>file</c>.
/// </summary>
public sealed class StorageMetrics : IDisposable
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "Telemetry.Storage";

    private readonly Meter _meter;
    private readonly Counter<long> _pointsWritten;
    private readonly Counter<long> _batches;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _retries;
    private readonly Histogram<double> _duration;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/>, or on a new meter when null.</summary>
    public StorageMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _pointsWritten = _meter.CreateCounter<long>("telemetry.storage.points.written", "{point}",
            "Points the time-series store accepted.");
        _batches = _meter.CreateCounter<long>("telemetry.storage.write.batches", "{batch}",
            "Write requests (or file appends) the store accepted.");
        _failures = _meter.CreateCounter<long>("telemetry.storage.write.failures", "{batch}",
            "Write requests that failed after every retry; their callers saw the error.");
        _retries = _meter.CreateCounter<long>("telemetry.storage.write.retries", "{attempt}",
            "Write attempts repeated after a transient failure.");
        _duration = _meter.CreateHistogram<double>("telemetry.storage.write.duration", "s",
            "Time from sending a write until the store accepted it, retries included.");
    }

    internal void Written(string sink, int points, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("sink", sink);
        _pointsWritten.Add(points, tag);
        _batches.Add(1, tag);
        _duration.Record(elapsed.TotalSeconds, tag);
    }

    internal void Failed(string sink) => _failures.Add(1, new KeyValuePair<string, object?>("sink", sink));

    internal void Retried(string sink) => _retries.Add(1, new KeyValuePair<string, object?>("sink", sink));

    internal Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();
}
