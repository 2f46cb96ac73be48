using BenchmarkDotNet.Attributes;
using Telemetry.Abstractions;
using Telemetry.Storage;
using Telemetry.Storage.Journal;

namespace Telemetry.Storage.Benchmarks;

/// <summary>
/// The journal record the vehicle grain writes per HJ 1239 frame under the <c>adaptive</c> policy
/// (10 seconds, every field present): <see cref="JournalTimeSeriesSink.WriteSamplesAsync"/> on a journal
/// that only counts the bytes it is given. The payload size is printed at the end of the run.
/// </summary>
[MemoryDiagnoser]
public class AdaptiveRecordBenchmarks
{
    private readonly CountingJournal _journal = new();
    private readonly SeriesKey _series = new("LGDCHA1G8MA127733", "fleet-7", "370100");
    private JournalTimeSeriesSink _sink = null!;
    private Sample[][] _frames = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _sink = new JournalTimeSeriesSink(_journal, new TimeSeriesOptions { Policy = "adaptive" });
        var start = new DateTime(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);
        // Ten minutes of frames, so that the 1-minute aggregates complete as they do in a run.
        _frames = [.. Enumerable.Range(0, 60).Select(f => Enumerable.Range(0, 10).Select(i => BenchmarkFrames.WithSupplementary(start.AddSeconds(f * 10 + i), i)).ToArray())];
    }

    [GlobalCleanup]
    public void Cleanup() =>
        Console.WriteLine($"// adaptive record: {(double)_journal.Bytes / _journal.Records:F0} bytes per frame of 10 samples");

    [Benchmark]
    public ValueTask FrameToAdaptiveRecord() => _sink.WriteSamplesAsync(_series, _frames[_next++ % _frames.Length]);

    /// <summary>A journal that keeps nothing: counts the records and bytes appended.</summary>
    private sealed class CountingJournal : IJournal
    {
        public long Records { get; private set; }

        public long Bytes { get; private set; }

        public long LastSequence => Records;

        public JournalStats Stats => new(0, 0, 1, Records, false, 0, 0);

        public ValueTask<long> AppendAsync(JournalRecordType type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
        {
            Records++;
            Bytes += payload.Length;
            return ValueTask.FromResult(Records);
        }

        public IAsyncEnumerable<JournalRecord> ReadAsync(long fromSequence, bool follow, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public long ReadCursor(string name) => 0;

        public ValueTask SaveCursorAsync(string name, long sequence, CancellationToken cancellationToken = default) => default;
    }
}
