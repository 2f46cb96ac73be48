using System.Diagnostics.Metrics;

namespace Telemetry.Storage;

/// <summary>
/// OpenTelemetry instruments of the storage adapters, on the meter <see cref="MeterName"/>
/// (<c>AddMeter(StorageMetrics.MeterName)</c>). The write instruments (<c>telemetry.storage.points.*</c>,
/// <c>telemetry.storage.write.*</c>) and the shipper's counters carry a <c>sink</c> tag: <c>influx</c> or
/// <c>file</c>; the journal's instruments are <c>telemetry.storage.journal.*</c>.
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
    private readonly Counter<long> _journalAppended;
    private readonly Counter<long> _journalAppendedBytes;
    private readonly Counter<long> _journalCommits;
    private readonly Histogram<double> _journalFsync;
    private readonly Counter<long> _journalFull;
    private readonly Counter<long> _journalCorrupt;
    private readonly Counter<long> _journalSegmentsDeleted;
    private readonly Counter<long> _shippedLines;
    private readonly Counter<long> _shippedRequests;
    private readonly Counter<long> _shipperRetries;
    private readonly Counter<long> _shipperRejected;
    private readonly Counter<long> _shipperDropped;
    private readonly Counter<long> _detailGaveWay;
    private readonly Sources<long> _journalBytes = new();
    private readonly Sources<long> _lagRecords = new();
    private readonly Sources<double> _lagSeconds = new();

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

        _journalAppended = _meter.CreateCounter<long>("telemetry.storage.journal.appended", "{record}",
            "Records appended to the journal and durable (their appends completed).");
        _journalAppendedBytes = _meter.CreateCounter<long>("telemetry.storage.journal.appended.bytes", "By",
            "Bytes appended to the journal, record headers included.");
        _journalCommits = _meter.CreateCounter<long>("telemetry.storage.journal.commits", "{commit}",
            "Group commits: one write and (with fsync on) one fsync for every record queued at the time.");
        _journalFsync = _meter.CreateHistogram<double>("telemetry.storage.journal.fsync.duration", "s",
            "Duration of one fsync of a group commit.");
        _meter.CreateObservableGauge("telemetry.storage.journal.size", () => _journalBytes.Sum(), "By",
            "Bytes of the journal's segment files on disk.");
        _journalFull = _meter.CreateCounter<long>("telemetry.storage.journal.full.rejections", "{record}",
            "Appends refused because the journal reached its disk cap and no shipped segment could be deleted.");
        _journalCorrupt = _meter.CreateCounter<long>("telemetry.storage.journal.corrupt", "{record}",
            "Records found damaged: a torn tail cut on open (reason=torn_tail), a record skipped by a reader (reason=checksum|header), or a detail block that does not read (reason=detail).");
        _journalSegmentsDeleted = _meter.CreateCounter<long>("telemetry.storage.journal.segments.deleted", "{segment}",
            "Shipped segments deleted, by reason: retention or cap.");
        _shippedLines = _meter.CreateCounter<long>("telemetry.storage.shipper.lines", "{line}",
            "Line-protocol lines the shipper delivered to the time-series store.");
        _shippedRequests = _meter.CreateCounter<long>("telemetry.storage.shipper.requests", "{request}",
            "Write requests of the shipper the store accepted.");
        _shipperRetries = _meter.CreateCounter<long>("telemetry.storage.shipper.retries", "{attempt}",
            "Shipper write attempts repeated after a transient failure (server down, 5xx, 408, 429, timeout).");
        _shipperRejected = _meter.CreateCounter<long>("telemetry.storage.shipper.rejected", "{point}",
            "Lines the store rejected (4xx) that the shipper set aside in the rejected-points file.");
        _shipperDropped = _meter.CreateCounter<long>("telemetry.storage.shipper.dropped", "{point}",
            "Lines the shipper gave up on; always 0: it retries transient failures for as long as it takes.");
        _detailGaveWay = _meter.CreateCounter<long>("telemetry.storage.shipper.detail.early", "{record}",
            "Journal records the adaptive policy's detail shipper passed before AdaptiveDetailDelay because the journal held over 3/4 of its cap.");
        _meter.CreateObservableGauge("telemetry.storage.shipper.lag.records", () => _lagRecords.Sum(), "{record}",
            "Journal records not yet shipped: the newest sequence minus the shipper's cursor, plus one.");
        _meter.CreateObservableGauge("telemetry.storage.shipper.lag.seconds", () => _lagSeconds.Sum(), "s",
            "Age of the oldest journal record not yet shipped (0 when the shipper is caught up).");
    }

    internal IDisposable ObserveJournal(Func<long> bytesOnDisk) => _journalBytes.Add(bytesOnDisk);

    internal IDisposable ObserveShipper(Func<long> lagRecords, Func<double> lagSeconds) =>
        new Both(_lagRecords.Add(lagRecords), _lagSeconds.Add(lagSeconds));

    internal void JournalCommitted(int records, long bytes)
    {
        _journalAppended.Add(records);
        _journalAppendedBytes.Add(bytes);
        _journalCommits.Add(1);
    }

    internal void JournalFsync(TimeSpan elapsed) => _journalFsync.Record(elapsed.TotalSeconds);

    internal void JournalFull() => _journalFull.Add(1);

    internal void JournalCorrupt(string reason, long records) => _journalCorrupt.Add(records, new KeyValuePair<string, object?>("reason", reason));

    internal void JournalSegmentDeleted(string reason) => _journalSegmentsDeleted.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal void Shipped(string sink, int lines)
    {
        var tag = new KeyValuePair<string, object?>("sink", sink);
        _shippedLines.Add(lines, tag);
        _shippedRequests.Add(1, tag);
    }

    internal void DetailGaveWay(long records = 1) => _detailGaveWay.Add(records);

    internal void ShipperRetried(string sink) => _shipperRetries.Add(1, new KeyValuePair<string, object?>("sink", sink));

    internal void ShipperRejected(string sink, int lines) => _shipperRejected.Add(lines, new KeyValuePair<string, object?>("sink", sink));

    /// <summary>Publishes the dropped, retried and rejected counters at zero, so that dashboards and alerts find the series.</summary>
    internal void ShipperStarted(string sink)
    {
        var tag = new KeyValuePair<string, object?>("sink", sink);
        _shipperDropped.Add(0, tag);
        _shipperRetries.Add(0, tag);
        _shipperRejected.Add(0, tag);
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

    /// <summary>The callbacks of one observable gauge; each registration adds its value.</summary>
    private sealed class Sources<T>
        where T : struct, System.Numerics.INumber<T>
    {
        private readonly System.Collections.Concurrent.ConcurrentDictionary<object, Func<T>> _sources = new();

        public Removal Add(Func<T> source)
        {
            var key = new object();
            _sources[key] = source;
            return new Removal(() => _sources.TryRemove(key, out _));
        }

        public T Sum()
        {
            var sum = T.Zero;
            foreach (var source in _sources.Values)
                sum += source();
            return sum;
        }
    }

    private sealed class Removal(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }

    private sealed class Both(IDisposable first, IDisposable second) : IDisposable
    {
        public void Dispose()
        {
            first.Dispose();
            second.Dispose();
        }
    }
}
