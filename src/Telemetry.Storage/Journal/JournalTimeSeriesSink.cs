using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Journal;

/// <summary>
/// The time-series sink of the host: renders the line protocol of <see cref="SamplePoints"/> and appends
/// one <see cref="JournalRecordType.Points"/> record per call (lines joined by <c>\n</c>). The task
/// completes when the record is durable in the journal, so a caller may acknowledge upstream then;
/// <see cref="JournalShipper"/> delivers it to the time-series store afterwards.
/// </summary>
/// <remarks>
/// <para>When the journal is at its disk cap the call fails with <see cref="JournalFullException"/> at once:
/// the caller does not acknowledge and the broker keeps the message.</para>
/// <para>Under the <c>adaptive</c> policy (<see cref="TimeSeriesOptions.Policy"/>) the record is a
/// <see cref="JournalRecordType.PointsWithDetail"/> one: the other fields of the samples in binary
/// (<see cref="DetailBlock"/>), then each sample's core line and the 1-minute aggregates that the samples completed; <see cref="FlushIdleAggregatesAsync"/> writes those of
/// vehicles that went quiet.</para>
/// </remarks>
public sealed class JournalTimeSeriesSink(IJournal journal, TimeSeriesOptions? options = null, TimeProvider? time = null) : ITimeSeriesSink
{
    private readonly MinuteAggregates? _aggregates = options?.IsAdaptive == true ? new MinuteAggregates(time ?? TimeProvider.System) : null;
    private readonly Lock _heldGate = new();
    private readonly List<byte[]> _held = [];

    /// <summary>
    /// Under the <c>adaptive</c> policy, appends the aggregates of the minutes of vehicles idle for 90 s
    /// (every vehicle with <paramref name="all"/>, at stop) as one record; nothing otherwise.
    /// </summary>
    public ValueTask FlushIdleAggregatesAsync(bool all = false, CancellationToken cancellationToken = default)
    {
        if (_aggregates is null)
            return default;
        var buffer = RentBuffer();
        _aggregates.FlushIdle(buffer, all);
        if (buffer.WrittenCount == 0 && !HasHeldAggregates)
        {
            ReturnBuffer(buffer);
            return default;
        }

        return Append(buffer, aggregatesFrom: 0, cancellationToken);
    }

    private const int KeepBufferBytes = 256 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    /// <inheritdoc />
    public ValueTask WriteSamplesAsync(SeriesKey series, IReadOnlyList<Sample> samples, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(series.Vin);
        ArgumentNullException.ThrowIfNull(samples);
        cancellationToken.ThrowIfCancellationRequested();
        if (samples.Count == 0)
            return default;
        var buffer = RentBuffer();
        if (_aggregates is null)
        {
            SamplePoints.WriteLines(buffer, series, samples);
            return Append(buffer, aggregatesFrom: -1, cancellationToken);
        }

        var type = SamplePoints.WriteAdaptive(buffer, series, samples);
        var aggregatesFrom = buffer.WrittenCount;
        _aggregates.Add(series, samples, buffer);
        return Append(buffer, aggregatesFrom, cancellationToken, type);
    }

    /// <inheritdoc />
    public ValueTask WriteAlertAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        cancellationToken.ThrowIfCancellationRequested();
        var buffer = RentBuffer();
        var line = SamplePoints.ToLine(alert);
        var written = Encoding.UTF8.GetBytes(line, buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(line.Length)));
        buffer.Advance(written);
        return Append(buffer, aggregatesFrom: -1, cancellationToken);
    }

    /// <summary>Bytes of aggregate lines held from refused appends.</summary>
    internal long HeldAggregateBytes
    {
        get
        {
            lock (_heldGate)
                return _held.Sum(static lines => (long)lines.Length);
        }
    }

    /// <summary>True while aggregate lines of a refused append wait for the next one.</summary>
    internal bool HasHeldAggregates
    {
        get
        {
            lock (_heldGate)
                return _held.Count > 0;
        }
    }

    /// <summary>
    /// Appends the buffer as one record. The aggregate lines in it (from <paramref name="aggregatesFrom"/>
    /// on; none when negative) left <see cref="MinuteAggregates"/> for good, so when the journal refuses the
    /// record (disk cap, disk error) they are held here and go with the next record instead of being lost;
    /// the samples are the caller's to retry. Lines held from earlier go with this record unless the
    /// journal is full.
    /// </summary>
    private ValueTask Append(ArrayBufferWriter<byte> buffer, int aggregatesFrom, CancellationToken cancellationToken,
        JournalRecordType type = JournalRecordType.Points)
    {
        // The aggregate lines of this record, kept (in a pooled array) until the append is known to have succeeded.
        byte[]? aggregates = null;
        var aggregatesLength = 0;
        try
        {
            if (aggregatesFrom >= 0)
            {
                // Held lines ride along only when the journal has room: while it is full every frame in
                // process is retried, and copying them into each refused attempt costs what they weigh.
                // (The append is still attempted: that is what lets the journal free shipped segments.)
                if (!journal.Stats.IsFull)
                    aggregatesFrom = TakeHeld(buffer, aggregatesFrom);
                if (buffer.WrittenCount > aggregatesFrom)
                {
                    var lines = buffer.WrittenSpan[aggregatesFrom..].TrimStart((byte)'\n');
                    aggregates = ArrayPool<byte>.Shared.Rent(Math.Max(1, lines.Length));
                    lines.CopyTo(aggregates);
                    aggregatesLength = lines.Length;
                }
            }
            if (buffer.WrittenCount == 0)
                return default;

            // The journal copies the payload before AppendAsync returns: the buffer can be reused at once.
            ValueTask<long> append;
            try
            {
                append = journal.AppendAsync(type, buffer.WrittenMemory, cancellationToken);
            }
            catch when (aggregates is not null)
            {
                Hold(aggregates.AsSpan(0, aggregatesLength));
                throw;
            }
            if (append.IsCompletedSuccessfully)
            {
                _ = append.Result;
                return default;
            }

            if (aggregates is null)
                return Await(append);
            var pending = AwaitHolding(append, aggregates, aggregatesLength);
            aggregates = null; // returned to the pool by AwaitHolding
            return pending;
        }
        finally
        {
            if (aggregates is not null)
                ArrayPool<byte>.Shared.Return(aggregates);
            ReturnBuffer(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask Await(ValueTask<long> append) => await append;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitHolding(ValueTask<long> append, byte[] aggregates, int length)
    {
        try
        {
            await append;
        }
        catch
        {
            Hold(aggregates.AsSpan(0, length));
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(aggregates);
        }
    }

    /// <summary>Moves the held aggregate lines to the end of <paramref name="buffer"/>; returns where the aggregate lines now start.</summary>
    private int TakeHeld(ArrayBufferWriter<byte> buffer, int aggregatesFrom)
    {
        lock (_heldGate)
        {
            if (_held.Count == 0)
                return aggregatesFrom;
            var start = buffer.WrittenCount;
            foreach (var lines in _held)
            {
                var span = buffer.GetSpan(lines.Length + 1);
                var at = 0;
                if (buffer.WrittenCount > 0)
                    span[at++] = (byte)'\n';
                lines.CopyTo(span[at..]);
                buffer.Advance(at + lines.Length);
            }
            _held.Clear();
            // The lines held come after the ones this call rendered: all of them count as aggregates from the first.
            return Math.Min(aggregatesFrom, start);
        }
    }

    private void Hold(ReadOnlySpan<byte> aggregates)
    {
        if (aggregates.IsEmpty)
            return;
        var copy = aggregates.ToArray();
        lock (_heldGate)
            _held.Add(copy);
    }

    private static ArrayBufferWriter<byte> RentBuffer()
    {
        var buffer = t_buffer ?? new ArrayBufferWriter<byte>(16 * 1024);
        t_buffer = null;
        return buffer;
    }

    private static void ReturnBuffer(ArrayBufferWriter<byte> buffer)
    {
        if (buffer.Capacity > KeepBufferBytes)
            return;
        buffer.ResetWrittenCount();
        t_buffer = buffer;
    }
}
