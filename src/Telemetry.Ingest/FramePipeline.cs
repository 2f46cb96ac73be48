using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Protocol;
using Telemetry.Storage;
using Telemetry.Storage.Journal;

namespace Telemetry.Ingest;

/// <summary>What became of one MQTT message.</summary>
public enum IngestOutcome
{
    /// <summary>Decoded, its samples and alert changes durable in the journal: acknowledge it.</summary>
    Stored,

    /// <summary>Refused with a reason and dead-lettered with its bytes: acknowledge it.</summary>
    Rejected,

    /// <summary>Not durable (shutting down): leave it unacknowledged so the broker or the device sends it again.</summary>
    NotStored,
}

/// <summary>
/// The path of one terminal message, shared by the embedded broker's publish interception and the
/// external subscriber: check the topic and size, decode, refuse garbage without touching a grain,
/// archive the raw message in the journal and hand the batch to its vehicle grain, which returns once
/// the accepted samples and alert changes are durable in the journal. Messages of one VIN reach their
/// grain in the order they arrived; messages of different VINs run concurrently. A grain call that
/// keeps failing is retried a bounded number of times and then dead-lettered, never retried forever;
/// while the journal is full (disk cap) the message waits unacknowledged instead.
/// </summary>
public sealed partial class FramePipeline(
    IOptions<MqttIngestOptions> options,
    IOptions<TimeSeriesOptions> timeSeries,
    PayloadDecoder decoder,
    IGrainFactory grains,
    IDeadLetterSink deadLetters,
    IJournal journal,
    VehicleIndex vehicles,
    IVehicleRegistry registry,
    IngestMetrics metrics,
    TimeProvider time,
    ILogger<FramePipeline> logger,
    IngestDelay ingestDelay,
    TelemetryClock clock)
{
    private readonly MqttIngestOptions _options = options.Value;
    private readonly TimeSpan _retention = timeSeries.Value.Retention;
    private readonly Dictionary<string, Task> _tails = new(StringComparer.Ordinal);
    private readonly Lock _tailsGate = new();
    private long _inFlight;

    /// <summary>Messages being processed now.</summary>
    public long InFlight => Interlocked.Read(ref _inFlight);

    /// <summary>
    /// Processes one message. <paramref name="payload"/> must stay valid until the task completes.
    /// Never throws for bad input; throws <see cref="OperationCanceledException"/> only when
    /// <paramref name="cancellationToken"/> is cancelled. <paramref name="archive"/> false replays a
    /// message the journal already holds (recovery after a crash): not archived again, not counted as received.
    /// </summary>
    public async Task<IngestOutcome> ProcessAsync(string topic, ReadOnlyMemory<byte> payload, long payloadLength, DateTime receivedUtc, CancellationToken cancellationToken,
        bool archive = true)
    {
        var started = Stopwatch.GetTimestamp();
        if (archive)
        {
            metrics.Received();
        }
        Interlocked.Increment(ref _inFlight);
        Arrival? arrival = null;
        using var activity = IngestTracing.Source.StartActivity(archive ? "ingest message" : "replay message", ActivityKind.Consumer);
        activity?.SetTag("messaging.system", "mqtt");
        activity?.SetTag("messaging.destination.name", topic);
        activity?.SetTag("messaging.message.body.size", payloadLength);
        try
        {
            if (!TopicRoute.TryParse(topic, _options.TopicPrefix, out var route))
            {
                return await RejectAsync(topic, receivedUtc, payload, "badTopic", $"Topic '{topic}' is not {_options.TopicPrefix}/{{vin}}/{{format}}.", cancellationToken);
            }
            if (payloadLength > _options.MaxPayloadBytes)
            {
                return await RejectAsync(topic, receivedUtc, payload, "tooLarge",
                    $"Payload of {payloadLength} bytes exceeds {MqttIngestOptions.Section}:MaxPayloadBytes {_options.MaxPayloadBytes}; the first {payload.Length} bytes are kept.", cancellationToken);
            }
            activity?.SetTag("telemetry.vin", route.Vin);
            activity?.SetTag("telemetry.format", route.Format);
            // One payload may hold several concatenated frames: each is stored or rejected on its own.
            var frames = decoder.DecodeAll(route.Format, route.Vin, payload.Span, receivedUtc, registry.Find(route.Vin));
            activity?.SetTag("telemetry.frames", frames.Count);
            ValueTask archived = default;
            var stored = 0;
            for (var index = 0; index < frames.Count; index++)
            {
                var frame = frames[index];
                var bytes = frames.Count == 1 ? payload : payload.Slice(frame.Offset, frame.Length);
                var where = frames.Count == 1 ? "" : $" (frame {index + 1} of {frames.Count} in the payload, at byte {frame.Offset})";
                var (reason, message) = await CheckFrameAsync(frame, route, receivedUtc, where, live: archive);
                if (reason is null && frame.Batch is { } batch)
                {
                    if (archive)
                    {
                        // The raw message is archived beside the grain calls of its frames. The vehicle is tagged before
                        // each attempt to append it, and stays pending until every frame of it was evaluated, so that no
                        // save counts as covering the raw record before that (see VehicleIndex.SaveTag).
                        if (arrival is null)
                        {
                            arrival = new Arrival(vehicles, route.Vin);
                            archived = ArchiveAsync(topic, payload, receivedUtc, arrival, cancellationToken);
                        }
                        else
                        {
                            arrival.Hold();
                        }
                    }
                    if (await DispatchInOrderAsync(batch, cancellationToken) is not { } failure)
                    {
                        stored++;
                        if (archive)
                        {
                            metrics.Decoded(route.Format, Stopwatch.GetElapsedTime(started));
                        }
                        continue;
                    }
                    (reason, message) = ("processingFailed", failure + where);
                }
                // A replayed message (archive false) was archived because a frame of it was stored; its rejected frames were dead-lettered then.
                if (archive || frames.Count == 1)
                {
                    await RejectAsync(topic, receivedUtc, bytes, reason!, message!, cancellationToken);
                }
            }
            await archived;
            activity?.SetTag("telemetry.outcome", stored > 0 ? "stored" : "rejected");
            return stored > 0 ? IngestOutcome.Stored : IngestOutcome.Rejected;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            activity?.SetTag("telemetry.outcome", "notStored");
            return IngestOutcome.NotStored;
        }
        finally
        {
            arrival?.ReleaseAll();
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>
    /// Null reason when the frame may go to its grain; otherwise why it is refused. A live message (not a
    /// replay from the journal) also counts its signature checks and reports check-code failures.
    /// </summary>
    private async Task<(string? Reason, string? Message)> CheckFrameAsync(PayloadFrame frame, TopicRoute route, DateTime receivedUtc, string where, bool live)
    {
        if (!frame.Decoded)
        {
            if (live && frame.Rejection.Reason == RejectReason.BadCheckCode && vehicles.IsKnown(route.Vin))
            {
                // A known vehicle's terminal that keeps sending corrupt frames is a data-quality
                // finding (R9); garbage on an unknown VIN never activates a grain.
                await grains.GetVehicle(route.Vin).ReportCheckCodeFailure(receivedUtc);
            }
            return (frame.Rejection.Code, frame.Rejection.Message + where);
        }
        var batch = frame.Batch;
        if (live && frame.Signature.Signatures > 0)
        {
            metrics.SignaturesChecked(frame.Signature);
        }
        if (registry.RequireRegistered && registry.Find(batch.Vin) is null)
        {
            return ("unregistered", $"VIN {batch.Vin} is not in the vehicle registry and Telemetry:ReferenceData:RequireRegistered is on.");
        }
        if (OutsideTimeWindow(batch, receivedUtc) is { } window)
        {
            return (window.Reason, window.Message + where);
        }
        return (null, null);
    }

    private (string Reason, string Message)? OutsideTimeWindow(TelemetryBatch batch, DateTime receivedUtc)
    {
        if (batch.Samples.IsDefaultOrEmpty)
        {
            return null;
        }
        var oldest = DateTime.MaxValue;
        var newest = DateTime.MinValue;
        foreach (var sample in batch.Samples)
        {
            oldest = sample.TimeUtc < oldest ? sample.TimeUtc : oldest;
            newest = sample.TimeUtc > newest ? sample.TimeUtc : newest;
        }
        if (_retention > TimeSpan.Zero && oldest < receivedUtc - _retention)
        {
            return ("tooOld", $"Sample time {oldest:O} is older than {TimeSeriesOptions.Section}:Retention {_retention} before receipt; the time-series store would drop it.");
        }
        if (newest > receivedUtc + _options.MaxFutureSkew)
        {
            return ("inFuture", $"Sample time {newest:O} is more than {MqttIngestOptions.Section}:MaxFutureSkew {_options.MaxFutureSkew} ahead of receipt.");
        }
        return null;
    }

    /// <summary>The pending marks one message holds on its vehicle's <see cref="VehicleIndex.SaveTag"/>.</summary>
    private sealed class Arrival(VehicleIndex vehicles, string vin)
    {
        private readonly VehicleIndex.SaveTag _tag = vehicles.SaveTagOf(vin);
        private int _held;

        public void Hold()
        {
            _tag.Arriving(vehicles);
            Interlocked.Increment(ref _held);
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _held) >= 0)
                _tag.Arrived();
            else
                Interlocked.Increment(ref _held);
        }

        public void ReleaseAll()
        {
            while (Volatile.Read(ref _held) > 0)
                Release();
        }
    }

    // Pooled state machines (here and in the two dispatch methods): each runs once per frame and is awaited once.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ArchiveAsync(string topic, ReadOnlyMemory<byte> payload, DateTime receivedUtc, Arrival arrival, CancellationToken cancellationToken)
    {
        var length = ArchivedFrame.EncodedLength(topic, payload.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var written = ArchivedFrame.Encode(receivedUtc, topic, new ReadOnlySequence<byte>(payload), buffer);
            var delay = _options.RetryDelay;
            while (true)
            {
                // Tagged for this attempt: the record gets a position after the tag's pass. Not while waiting for
                // space, when no record exists: a pending mark held then would keep the vehicle's saves from letting
                // the grain-state cursor move, and so the journal from freeing the space this waits for.
                arrival.Hold();
                try
                {
                    await journal.AppendAsync(JournalRecordType.Frame, buffer.AsMemory(0, written), cancellationToken);
                    return;
                }
                catch (JournalFullException)
                {
                    arrival.Release();
                    // Disk cap reached: hold the message unacknowledged (the broker keeps the rest) until space frees.
                    metrics.WaitedForJournal();
                    ingestDelay.Stalled(clock.UtcNow);
                    await Task.Delay(delay, time, cancellationToken);
                    delay = Backoff(delay);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<string?> DispatchInOrderAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task? previous;
        lock (_tailsGate)
        {
            _tails.TryGetValue(batch.Vin, out previous);
            _tails[batch.Vin] = done.Task;
        }
        try
        {
            if (previous is not null)
            {
                await previous.WaitAsync(cancellationToken);
            }
            return await DispatchAsync(batch, cancellationToken);
        }
        finally
        {
            done.SetResult();
            lock (_tailsGate)
            {
                if (_tails.TryGetValue(batch.Vin, out var tail) && tail == done.Task)
                {
                    _tails.Remove(batch.Vin);
                }
            }
        }
    }

    /// <summary>Calls the grain; returns null when stored, or why it gave up after the bounded retries.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<string?> DispatchAsync(TelemetryBatch batch, CancellationToken cancellationToken)
    {
        var grain = grains.GetVehicle(batch.Vin);
        var delay = _options.RetryDelay;
        var attempt = 0;
        while (true)
        {
            try
            {
                await grain.Ingest(batch);
                return null;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (journal.Stats.IsFull)
                {
                    // Not this frame's fault: wait for space without using up its attempts. Meanwhile no
                    // frame is taken: the vehicles' clocks are held, so that this reads as no silence.
                    metrics.WaitedForJournal();
                    ingestDelay.Stalled(clock.UtcNow);
                }
                else if (ex is OrleansMessageRejectionException or SiloUnavailableException)
                {
                    // The silo that holds the grain is gone and the cluster has not declared it dead yet: once it
                    // has, the call activates the grain elsewhere. Not this frame's fault either.
                    metrics.WaitedForSilo();
                    Log.WaitingForSilo(logger, batch.Vin, delay, ex.Message);
                }
                else if (++attempt >= _options.MaxAttempts)
                {
                    metrics.Failed();
                    Log.GaveUp(logger, batch.Vin, attempt, ex);
                    return $"The vehicle grain failed {attempt} times: {ex.GetType().Name}: {ex.Message}";
                }
                else
                {
                    metrics.Retried();
                    Log.DispatchRetry(logger, batch.Vin, delay, ex);
                }
                await Task.Delay(delay, time, cancellationToken);
                delay = Backoff(delay);
            }
        }
    }

    private static TimeSpan Backoff(TimeSpan delay) => TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks));

    private async Task<IngestOutcome> RejectAsync(string topic, DateTime receivedUtc, ReadOnlyMemory<byte> payload, string reason, string message, CancellationToken cancellationToken)
    {
        metrics.Rejected(reason);
        Activity.Current?.AddEvent(new ActivityEvent("rejected", tags: new ActivityTagsCollection { ["telemetry.reason"] = reason }));
        Log.Rejected(logger, topic, reason, message);
        await deadLetters.WriteAsync(new DeadLetter(receivedUtc, topic, reason, message, payload.ToArray()), cancellationToken);
        return IngestOutcome.Rejected;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2004, Level = LogLevel.Debug, Message = "Rejected message on {Topic}: {Reason}: {Message}")]
        public static partial void Rejected(ILogger logger, string topic, string reason, string message);

        [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Storing a frame of {Vin} failed; retrying in {Delay}")]
        public static partial void DispatchRetry(ILogger logger, string vin, TimeSpan delay, Exception exception);

        [LoggerMessage(EventId = 2018, Level = LogLevel.Warning, Message = "Storing a frame of {Vin} waits for the cluster: the silo of its grain is unreachable ({Reason}); retrying in {Delay}")]
        public static partial void WaitingForSilo(ILogger logger, string vin, TimeSpan delay, string reason);

        [LoggerMessage(EventId = 2008, Level = LogLevel.Error, Message = "Storing a frame of {Vin} failed {Attempts} times; it is dead-lettered")]
        public static partial void GaveUp(ILogger logger, string vin, int attempts, Exception exception);
    }
}
