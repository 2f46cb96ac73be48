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
/// <para>Under the <c>adaptive</c> policy (<see cref="TimeSeriesOptions.Policy"/>) each sample gives its core
/// line and a detail line of its other fields (see <see cref="SamplePoints"/>), and the record also carries
/// the 1-minute aggregates that the samples completed; <see cref="FlushIdleAggregatesAsync"/> writes those of
/// vehicles that went quiet.</para>
/// </remarks>
public sealed class JournalTimeSeriesSink(IJournal journal, TimeSeriesOptions? options = null, TimeProvider? time = null) : ITimeSeriesSink
{
    private readonly MinuteAggregates? _aggregates = options?.IsAdaptive == true ? new MinuteAggregates(time ?? TimeProvider.System) : null;

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
        if (buffer.WrittenCount == 0)
        {
            ReturnBuffer(buffer);
            return default;
        }

        return Append(buffer, cancellationToken);
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
        }
        else
        {
            SamplePoints.WriteAdaptiveLines(buffer, series, samples);
            _aggregates.Add(series, samples, buffer);
        }

        return Append(buffer, cancellationToken);
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
        return Append(buffer, cancellationToken);
    }

    private ValueTask Append(ArrayBufferWriter<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            // The journal copies the payload before AppendAsync returns: the buffer can be reused at once.
            var append = journal.AppendAsync(JournalRecordType.Points, buffer.WrittenMemory, cancellationToken);
            if (append.IsCompletedSuccessfully)
            {
                _ = append.Result;
                return default;
            }

            return Await(append);
        }
        finally
        {
            ReturnBuffer(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask Await(ValueTask<long> append) => await append;

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
