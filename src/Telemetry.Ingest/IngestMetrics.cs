using System.Collections.Concurrent;
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
    private readonly Counter<long> _siloWaits;
    private readonly Counter<long> _acknowledged;
    private readonly Counter<long> _delivered;
    private readonly Counter<long> _deadLetterBytes;
    private readonly Counter<long> _deadLetterRotations;
    private readonly Counter<long> _signatures;
    private readonly Counter<long> _connections;
    private readonly Counter<long> _connectionsRefused;
    private readonly Counter<long> _brokerRefused;
    private readonly Counter<long> _readPauses;
    private readonly ConcurrentDictionary<string, long> _brokerTotals = new(StringComparer.Ordinal);
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
        _siloWaits = _meter.CreateCounter<long>("telemetry.ingest.silo_unavailable_waits", "{wait}",
            "Times a grain call waited, without using up its attempts, because the silo of the grain was unreachable and not yet declared dead.");
        _journalWaits = _meter.CreateCounter<long>("telemetry.ingest.journal_full_waits", "{wait}", "Times a message waited unacknowledged because the journal reached its disk cap.");
        _deadLetterBytes = _meter.CreateCounter<long>("telemetry.ingest.dead_letters.written", "By", "Bytes written to the dead-letter file.");
        _deadLetterRotations = _meter.CreateCounter<long>("telemetry.ingest.dead_letters.rotations", "{rotation}", "Times the dead-letter file reached its cap and was rotated (the oldest dead letters are then gone).");
        _acknowledged = _meter.CreateCounter<long>("telemetry.ingest.acknowledged", "{message}", "Messages acknowledged to an external broker (PUBACK sent).");
        _delivered = _meter.CreateCounter<long>("telemetry.ingest.delivered", "{message}", "Messages an external broker delivered to the subscriber, redeliveries included.");
        _signatures = _meter.CreateCounter<long>("telemetry.ingest.signatures", "{signature}",
            "SM2 signatures of signed frames, by result (verified, noKey, failed) and failure reason (mismatch, malformed, badKey).");
        _connections = _meter.CreateCounter<long>("telemetry.ingest.broker.connections", "{connection}",
            "Connections the embedded broker accepted, by kind (device: a VIN and its secret; anonymous: AllowAnonymous).");
        _connectionsRefused = _meter.CreateCounter<long>("telemetry.ingest.broker.connections_refused", "{connection}",
            "Connections the embedded broker refused, by reason (anonymous, unknownDevice, badSecret, revoked, credentialsUnavailable, clientIdTaken, tooManyConnections).");
        _brokerRefused = _meter.CreateCounter<long>("telemetry.ingest.broker.refused", "{packet}",
            "Packets the embedded broker refused and limits it enforced, by reason (foreignVin, outsidePrefix, retained, subscribe, packetTooLarge, sessionReplaced, revokedWhileConnected).");
        _readPauses = _meter.CreateCounter<long>("telemetry.ingest.read_pauses", "{pause}",
            "Times the subscriber stopped reading from the external broker because MaxInFlight messages were read ahead of processing (the broker holds the rest).");
        _latency = _meter.CreateHistogram<double>("telemetry.ingest.latency", "ms", "Time from receipt to durable in the journal (then acknowledged).");
    }

    /// <summary>Reports a gauge of messages in flight (being processed, not yet acknowledged).</summary>
    public void ObserveInFlight(Func<long> inFlight) =>
        _meter.CreateObservableGauge("telemetry.ingest.in_flight", inFlight, "{message}", "Messages being processed and not yet acknowledged.");

    /// <summary>Reports a gauge of the messages read from the external broker and not yet taken for processing.</summary>
    internal ReadAheadLimit ObserveReadAhead(ReadAheadLimit readAhead)
    {
        _meter.CreateObservableGauge("telemetry.ingest.read_ahead", () => readAhead.Waiting, "{message}",
            "Messages read from the external broker and not yet taken for processing (at most MaxInFlight).");
        return readAhead;
    }

    public void ReadPaused() => _readPauses.Add(1);

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

    /// <summary>Counts the signatures of one decoded frame: verified, not verified for want of a key, or failed by reason.</summary>
    public void SignaturesChecked(Telemetry.Protocol.SignatureOutcome outcome)
    {
        var result = outcome.Check == Telemetry.Abstractions.SignatureCheck.NoKey ? "noKey" : "verified";
        var good = outcome.Signatures - outcome.Failures;
        if (good > 0)
        {
            _signatures.Add(good, new KeyValuePair<string, object?>("result", result), new KeyValuePair<string, object?>("reason", "none"));
        }
        if (outcome.Failures > 0)
        {
            _signatures.Add(outcome.Failures, new KeyValuePair<string, object?>("result", "failed"),
                new KeyValuePair<string, object?>("reason", Telemetry.Protocol.Sm2Signatures.Code(outcome.Failure)));
        }
    }

    /// <summary>Counts a connection the embedded broker accepted: <c>device</c> or <c>anonymous</c>.</summary>
    public void BrokerConnected(string kind)
    {
        _brokerTotals.AddOrUpdate("connected:" + kind, 1, static (_, n) => n + 1);
        _connections.Add(1, new KeyValuePair<string, object?>("kind", kind));
    }

    /// <summary>Counts a connection the embedded broker refused, by reason.</summary>
    public void BrokerConnectionRefused(string reason)
    {
        _brokerTotals.AddOrUpdate("connection:" + reason, 1, static (_, n) => n + 1);
        _connectionsRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>Counts a packet the embedded broker refused, or a limit it enforced, by reason.</summary>
    public void BrokerRefused(string reason)
    {
        _brokerTotals.AddOrUpdate(reason, 1, static (_, n) => n + 1);
        _brokerRefused.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>
    /// This instance's broker counts since start (the meter's instruments add up every instance of the process): a
    /// refused packet by its reason, a refused connection as <c>connection:{reason}</c>, an accepted one as
    /// <c>connected:{kind}</c>.
    /// </summary>
    public long BrokerTotal(string key) => _brokerTotals.TryGetValue(key, out var n) ? n : 0;

    public void Retried() => _retries.Add(1);

    public void Failed() => _failed.Add(1);

    public void WaitedForJournal() => _journalWaits.Add(1);

    public void WaitedForSilo() => _siloWaits.Add(1);

    public void Acknowledged() => _acknowledged.Add(1);

    public void Delivered(bool duplicate) => _delivered.Add(1, new KeyValuePair<string, object?>("dup", duplicate));

    public void DeadLettered(long bytes) => _deadLetterBytes.Add(bytes);

    public void DeadLettersRotated() => _deadLetterRotations.Add(1);

    public void Dispose() => _meter.Dispose();
}
