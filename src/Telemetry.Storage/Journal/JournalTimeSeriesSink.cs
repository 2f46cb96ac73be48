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
/// When the journal is at its disk cap the call fails with <see cref="JournalFullException"/> at once:
/// the caller does not acknowledge and the broker keeps the message.
/// </remarks>
public sealed class JournalTimeSeriesSink(IJournal journal) : ITimeSeriesSink
{
    private const int KeepBuilderChars = 256 * 1024;

    [ThreadStatic]
    private static StringBuilder? t_builder;

    [ThreadStatic]
    private static Encoder? t_encoder;

    /// <inheritdoc />
    public ValueTask WriteSamplesAsync(SeriesKey series, IReadOnlyList<Sample> samples, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(series.Vin);
        ArgumentNullException.ThrowIfNull(samples);
        cancellationToken.ThrowIfCancellationRequested();
        if (samples.Count == 0)
            return default;
        var builder = RentBuilder();
        SamplePoints.AppendLines(builder, series, samples);
        if (builder.Length == 0)
        {
            ReturnBuilder(builder);
            return default;
        }

        return Append(builder, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteAlertAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        cancellationToken.ThrowIfCancellationRequested();
        var builder = RentBuilder();
        builder.Append(SamplePoints.ToLine(alert));
        return Append(builder, cancellationToken);
    }

    private ValueTask Append(StringBuilder builder, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(builder.Length));
        try
        {
            var encoder = t_encoder ??= Encoding.UTF8.GetEncoder();
            encoder.Reset();
            var written = 0;
            foreach (var chunk in builder.GetChunks())
                written += encoder.GetBytes(chunk.Span, buffer.AsSpan(written), flush: false);
            written += encoder.GetBytes([], buffer.AsSpan(written), flush: true);
            ReturnBuilder(builder);
            // The journal copies the payload before AppendAsync returns: the buffer can go back at once.
            var append = journal.AppendAsync(JournalRecordType.Points, buffer.AsMemory(0, written), cancellationToken);
            if (append.IsCompletedSuccessfully)
            {
                _ = append.Result;
                return default;
            }

            return Await(append);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask Await(ValueTask<long> append) => await append;

    private static StringBuilder RentBuilder()
    {
        var builder = t_builder ?? new StringBuilder(16 * 1024);
        t_builder = null;
        return builder;
    }

    private static void ReturnBuilder(StringBuilder builder)
    {
        if (builder.Capacity > KeepBuilderChars)
            return;
        builder.Clear();
        t_builder = builder;
    }
}
