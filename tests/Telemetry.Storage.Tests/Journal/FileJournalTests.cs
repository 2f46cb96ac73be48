using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Storage.Journal;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Journal;

public sealed class FileJournalTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new();
    private readonly ListLogger<FileJournal> _log = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private JournalOptions Options(long segmentBytes = 64 * 1024, long maxBytes = 64L * 1024 * 1024, TimeSpan? retention = null) => new()
    {
        Directory = _dir.Path,
        SegmentBytes = segmentBytes,
        MaxBytes = maxBytes,
        Retention = retention ?? TimeSpan.FromDays(7),
        Fsync = true,
    };

    private FileJournal Open(JournalOptions? options = null, TimeProvider? time = null) =>
        new(options ?? Options(), _log, new StorageMetrics(), time ?? TimeProvider.System);

    private static byte[] Payload(int n, int size = 100)
    {
        var bytes = new byte[size];
        for (var i = 0; i < size; i++)
            bytes[i] = (byte)(n * 31 + i);
        BinaryPrimitives.WriteInt32LittleEndian(bytes, n);
        return bytes;
    }

    private static async Task<List<(long Sequence, JournalRecordType Type, byte[] Payload)>> ReadAll(FileJournal journal, long from = 1)
    {
        var records = new List<(long, JournalRecordType, byte[])>();
        await foreach (var record in journal.ReadAsync(from, follow: false, Ct))
            records.Add((record.Sequence, record.Type, record.Payload.ToArray()));
        return records;
    }

    private static async Task AppendMany(FileJournal journal, int count, int size = 100, int offset = 0)
    {
        for (var i = 0; i < count; i++)
            await journal.AppendAsync(JournalRecordType.Points, Payload(offset + i, size), Ct);
    }

    private string[] Segments() => [.. Directory.GetFiles(_dir.Path, "*.seg").Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Append_ManyConcurrentCallers_AllDurableAndReadableInOrder()
    {
        const int callers = 32, each = 150;
        var appended = new System.Collections.Concurrent.ConcurrentDictionary<long, byte[]>();
        await using (var journal = Open())
        {
            await Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
            {
                for (var i = 0; i < each; i++)
                {
                    var payload = Payload(c * 10_000 + i, 50 + i % 400);
                    var sequence = await journal.AppendAsync(i % 3 == 0 ? JournalRecordType.Frame : JournalRecordType.Points, payload, Ct);
                    Assert.True(appended.TryAdd(sequence, payload), $"sequence {sequence} was given twice");
                }
            }, Ct)));
            Assert.Equal(callers * each, journal.LastSequence);
        }

        await using var reopened = Open();
        var records = await ReadAll(reopened);
        Assert.Equal(Enumerable.Range(1, callers * each).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.All(records, r => Assert.Equal(appended[r.Sequence], r.Payload));
    }

    [Fact]
    public async Task Append_AfterReopen_ContinuesSequence()
    {
        await using (var journal = Open())
            await AppendMany(journal, 5);

        await using var reopened = Open();
        Assert.Equal(5, reopened.LastSequence);
        Assert.Equal(6, await reopened.AppendAsync(JournalRecordType.Frame, Payload(6), Ct));
        Assert.Equal(6, (await ReadAll(reopened)).Count);
    }

    [Fact]
    public async Task Append_AfterTornTail_ContinuesSequence()
    {
        await using (var journal = Open())
            await AppendMany(journal, 10);
        var segment = Assert.Single(Segments());
        var length = new FileInfo(segment).Length;
        using (var file = new FileStream(segment, FileMode.Open))
            file.SetLength(length - 7); // a crash in the middle of the last record

        await using var reopened = Open();

        Assert.Equal(9, reopened.LastSequence);
        Assert.True(reopened.Stats.TornTailBytes > 0);
        Assert.Contains(_log.Entries, e => e.Event.Id == 4031);
        Assert.Equal(10, await reopened.AppendAsync(JournalRecordType.Points, Payload(10), Ct));
        var records = await ReadAll(reopened);
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.Equal(Payload(2), records[2].Payload); // the third record appended
    }

    [Fact]
    public async Task Open_GarbageAfterTheLastRecord_IsCutWithNothingEarlierLost()
    {
        await using (var journal = Open())
            await AppendMany(journal, 4);
        var segment = Assert.Single(Segments());
        var intact = new FileInfo(segment).Length;
        using (var file = new FileStream(segment, FileMode.Append))
            file.Write(Encoding.ASCII.GetBytes("half a record of garbage that a crash left behind"));

        await using var reopened = Open();

        Assert.Equal(4, reopened.LastSequence);
        Assert.Equal(intact, new FileInfo(segment).Length);
        Assert.Equal([1L, 2, 3, 4], (await ReadAll(reopened)).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Read_FlippedByteInOldRecord_IsReportedAndSkipped()
    {
        await using (var journal = Open(Options(segmentBytes: 4096)))
            await AppendMany(journal, 60, size: 200); // several segments of 16 records
        var first = Segments()[0];
        using (var file = new FileStream(first, FileMode.Open))
        {
            // Record 2 starts after record 1 (25-byte header + 200 bytes); flip a byte of its payload.
            file.Position = 225 + 25 + 50;
            var b = file.ReadByte();
            file.Position--;
            file.WriteByte((byte)(b ^ 0x40));
        }

        await using var reopened = Open(Options(segmentBytes: 4096));
        var records = await ReadAll(reopened);

        Assert.Equal(Enumerable.Range(1, 60).Where(i => i != 2).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.Equal(1, reopened.Stats.CorruptRecords);
        Assert.Contains(_log.Entries, e => e.Event.Id == 4032 && e.Level == LogLevel.Error);
    }

    [Fact]
    public async Task Append_PastSegmentBytes_RotatesToSegmentsNamedByTheirFirstSequence()
    {
        await using var journal = Open(Options(segmentBytes: 4096));
        await AppendMany(journal, 40, size: 475); // 500 bytes a record: 8 per segment

        var names = Segments().Select(Path.GetFileNameWithoutExtension).Select(n => long.Parse(n!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal([1L, 9, 17, 25, 33], names);
        Assert.All(Segments(), s => Assert.True(new FileInfo(s).Length <= 4096));
        Assert.Equal(5, journal.Stats.Segments);
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (long)i), (await ReadAll(journal)).Select(r => r.Sequence));
    }

    [Fact]
    public async Task SaveCursor_DeletesOnlyShippedSegmentsOlderThanRetention()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        await using var journal = Open(Options(segmentBytes: 4096, retention: TimeSpan.FromHours(1)), time);
        await journal.SaveCursorAsync("shipper", 1, Ct);
        await journal.SaveCursorAsync("archive", 1, Ct);
        await AppendMany(journal, 40, size: 475); // segments 1, 9, 17, 25, 33

        await journal.SaveCursorAsync("shipper", 30, Ct);
        Assert.Equal(5, journal.Stats.Segments); // not old enough, and the archive cursor holds everything

        time.Advance(TimeSpan.FromHours(2));
        await journal.SaveCursorAsync("archive", 20, Ct);
        Assert.Equal(17, journal.Stats.OldestSequence); // 1..16 are below both cursors; 17..24 are not
        Assert.Equal(3, journal.Stats.Segments);

        await journal.SaveCursorAsync("archive", 41, Ct);
        Assert.Equal(25, journal.Stats.OldestSequence); // the shipper at 30 holds the segment of 25..32
        Assert.Equal(Enumerable.Range(25, 16).Select(i => (long)i), (await ReadAll(journal)).Select(r => r.Sequence));
    }

    [Fact]
    public async Task SaveCursor_SurvivesReopen()
    {
        await using (var journal = Open())
        {
            await AppendMany(journal, 3);
            await journal.SaveCursorAsync("shipper", 3, Ct);
            Assert.Equal(0, journal.ReadCursor("other"));
        }

        await using var reopened = Open();
        Assert.Equal(3, reopened.ReadCursor("shipper"));
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir.Path, "cursors"), "*.tmp"));
    }

    [Fact]
    public async Task Append_AtDiskCap_ThrowsJournalFull_AndSucceedsAfterTheCursorMoves()
    {
        var options = Options(segmentBytes: 4096, maxBytes: 4 * 4096);
        await using var journal = Open(options);
        await journal.SaveCursorAsync("shipper", 1, Ct);
        var appended = 0;
        var full = false;
        for (var i = 0; i < 100 && !full; i++)
        {
            try
            {
                await journal.AppendAsync(JournalRecordType.Points, Payload(i, 475), Ct);
                appended++;
            }
            catch (JournalFullException)
            {
                full = true;
            }
        }

        Assert.True(full, "the journal never refused an append");
        Assert.True(journal.Stats.IsFull);
        Assert.True(journal.Stats.BytesOnDisk <= options.MaxBytes);
        // The warning names the cursor that holds the journal, so an operator knows which reader to look at.
        Assert.Contains(_log.Entries, e => e.Event.Id == 4033 && e.Level == LogLevel.Warning
            && e.Message.Contains("the slowest cursor, shipper at 1,", StringComparison.Ordinal)
            && e.Message.Contains("time-series store is behind", StringComparison.Ordinal));
        await Assert.ThrowsAsync<JournalFullException>(async () => await journal.AppendAsync(JournalRecordType.Points, Payload(0, 475), Ct));

        await journal.SaveCursorAsync("shipper", appended + 1, Ct);

        var next = await journal.AppendAsync(JournalRecordType.Points, Payload(1000, 475), Ct);
        Assert.Equal(appended + 1, next);
        Assert.False(journal.Stats.IsFull);
    }

    [Fact]
    public async Task ReadAsync_Follow_SeesNewAppends()
    {
        await using var journal = Open(Options(segmentBytes: 4096));
        await AppendMany(journal, 3);
        var seen = new List<long>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var follower = Task.Run(async () =>
        {
            await foreach (var record in journal.ReadAsync(2, follow: true, stop.Token))
            {
                lock (seen)
                    seen.Add(record.Sequence);
                Assert.Equal(record.Sequence, BinaryPrimitives.ReadInt32LittleEndian(record.Payload.Span) + 1);
            }
        }, Ct);

        await Eventually.WaitAsync(() => { lock (seen) return seen.Count == 2; }, Patience, "the follower read 2 and 3", Ct);
        await AppendMany(journal, 50, size: 300, offset: 3); // across several segments

        await Eventually.WaitAsync(() => { lock (seen) return seen.Count == 52; }, Patience, "the follower read every new record", Ct);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => follower);
        Assert.Equal(Enumerable.Range(2, 52).Select(i => (long)i), seen);
    }

    [Fact]
    public async Task Open_SameDirectoryTwice_IsRefused()
    {
        await using var journal = Open();

        var error = Assert.Throws<IOException>(() => Open());
        Assert.Contains("in use", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Crc32C_KnownVector() =>
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));

    [Fact]
    public void JournalOptions_Defaults_AreValid_AndBadValuesNameTheirSetting()
    {
        var defaults = new JournalOptions();
        Assert.Empty(defaults.Validate());
        Assert.Equal("data/journal", defaults.Directory);
        Assert.Equal(64L * 1024 * 1024, defaults.SegmentBytes);
        Assert.Equal(10L * 1024 * 1024 * 1024, defaults.MaxBytes);
        Assert.True(defaults.Fsync);
        Assert.Equal(TimeSpan.FromDays(7), defaults.Retention);
        Assert.Equal(4 * 1024 * 1024, defaults.MaxBatchBytes);

        var errors = new JournalOptions { Directory = "", SegmentBytes = 10, Retention = TimeSpan.FromSeconds(-1), MaxBatchBytes = 1 }.Validate();
        Assert.Equal(
        [
            "Telemetry:Journal:Directory must not be empty.",
            "Telemetry:Journal:SegmentBytes 10 is outside 4096..4294967296.",
            "Telemetry:Journal:Retention -00:00:01 is negative.",
            "Telemetry:Journal:MaxBatchBytes 1 is outside 4096..268435456.",
        ], errors);
        Assert.Equal(["Telemetry:Journal:MaxBytes 4096 is less than twice Telemetry:Journal:SegmentBytes (4096)."],
            new JournalOptions { SegmentBytes = 4096, MaxBytes = 4096 }.Validate());
    }

    public void Dispose() => _dir.Dispose();
}
