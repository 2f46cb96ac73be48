using System.Diagnostics.Metrics;

namespace Telemetry.Ingest;

/// <summary>Counters a user needs to trust ingest (meter <c>Telemetry.Ingest</c>).</summary>
public sealed class IngestMetrics : IDisposable
{
    /// <summary>Meter name to enable in OpenTelemetry.</summary>
    public const string MeterName = "Telemetry.Ingest";

    private readonly Meter _meter;
    private readonly Counter<long> _received;
    private readonly Counter<long> _decoded;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _failed;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _journalWaits;
    private long _receivedTotal;
    private long _decodedTotal;
    private long _rejectedTotal;

    public IngestMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _received = _meter.CreateCounter<long>("telemetry.ingest.received", "{message}", "MQTT messages received from terminals.");
        _decoded = _meter.CreateCounter<long>("telemetry.ingest.decoded", "{message}", "Messages decoded and handed to their vehicle grain.");
        _rejected = _meter.CreateCounter<long>("telemetry.ingest.rejected", "{message}", "Messages rejected, by reason; each is dead-lettered.");
        _retries = _meter.CreateCounter<long>("telemetry.ingest.dispatch.retries", "{attempt}", "Grain calls retried because storing the frame failed.");
        _failed = _meter.CreateCounter<long>("telemetry.ingest.failed", "{message}", "Messages whose vehicle grain failed every attempt; each is dead-lettered as processingFailed.");
        _journalWaits = _meter.CreateCounter<long>("telemetry.ingest.journal_full_waits", "{wait}", "Times a message waited unacknowledged because the journal reached its disk cap.");
        _latency = _meter.CreateHistogram<double>("telemetry.ingest.latency", "ms", "Time from receipt to durable in the journal (then acknowledged).");
    }

    /// <summary>Totals since start, for the console status line.</summary>
    public (long Received, long Decoded, long Rejected) Totals =>
        (Interlocked.Read(ref _receivedTotal), Interlocked.Read(ref _decodedTotal), Interlocked.Read(ref _rejectedTotal));

    public void Received()
    {
        Interlocked.Increment(ref _receivedTotal);
        _received.Add(1);
    }

    public void Decoded(string format, TimeSpan latency)
    {
        Interlocked.Increment(ref _decodedTotal);
        _decoded.Add(1, new KeyValuePair<string, object?>("format", format));
        _latency.Record(latency.TotalMilliseconds);
    }

    public void Rejected(string reason)
    {
        Interlocked.Increment(ref _rejectedTotal);
        _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void Retried() => _retries.Add(1);

    public void Failed() => _failed.Add(1);

    public void WaitedForJournal() => _journalWaits.Add(1);

    public void Dispose() => _meter.Dispose();
}
