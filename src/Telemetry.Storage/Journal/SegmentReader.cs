using Microsoft.Win32.SafeHandles;

namespace Telemetry.Storage.Journal;

/// <summary>What <see cref="SegmentReader.ReadNext"/> found.</summary>
internal enum ReadOutcome
{
    /// <summary>An intact record.</summary>
    Record,

    /// <summary>No further durable record in this segment (yet).</summary>
    End,

    /// <summary>A record whose checksum or sequence did not match; it was skipped by its length.</summary>
    Corrupt,

    /// <summary>A header that cannot be framed (bad length, or a record running past the end of the file): the rest of the segment is unreadable.</summary>
    Unreadable,
}

/// <summary>Reads the records of one segment file in order, through a buffer of its own.</summary>
internal sealed class SegmentReader : IDisposable
{
    private readonly SafeFileHandle _handle;
    private byte[] _buffer = new byte[256 * 1024];
    private long _bufferStart;
    private int _bufferCount;
    private long _offset;

    public SegmentReader(FileJournal.Segment segment)
    {
        Segment = segment;
        Expected = segment.FirstSequence;
        LastGoodNext = Expected;
        _handle = File.OpenHandle(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
    }

    public FileJournal.Segment Segment { get; }

    /// <summary>The sequence the next record should have.</summary>
    public long Expected { get; private set; }

    /// <summary>The file offset after the last intact record read.</summary>
    public long LastGoodEnd { get; private set; }

    /// <summary>The sequence after the last intact record read.</summary>
    public long LastGoodNext { get; private set; }

    /// <summary>
    /// Reads the next record if its sequence is at most <paramref name="last"/> (the newest durable one).
    /// The payload of <paramref name="record"/> stays valid until the next call.
    /// </summary>
    public ReadOutcome ReadNext(long last, out JournalRecord record)
    {
        record = default;
        if (Expected > last || !Ensure(_offset, JournalRecordFormat.HeaderBytes))
            return ReadOutcome.End;
        var start = (int)(_offset - _bufferStart);
        var length = JournalRecordFormat.PayloadLength(_buffer.AsSpan(start));
        if (length < 0)
            return ReadOutcome.Unreadable;
        var size = JournalRecordFormat.SizeOf(length);
        if (!Ensure(_offset, size))
            return ReadOutcome.Unreadable;
        start = (int)(_offset - _bufferStart);
        var bytes = _buffer.AsSpan(start, size);
        if (!JournalRecordFormat.TryRead(bytes, out var type, out var sequence, out var ticks) || sequence != Expected)
        {
            _offset += size;
            Expected++;
            return ReadOutcome.Corrupt;
        }

        _offset += size;
        Expected++;
        LastGoodEnd = _offset;
        LastGoodNext = Expected;
        record = new JournalRecord(sequence, type, new DateTime(ticks, DateTimeKind.Utc),
            _buffer.AsMemory(start + JournalRecordFormat.HeaderBytes, length));
        return ReadOutcome.Record;
    }

    public void Dispose() => _handle.Dispose();

    /// <summary>Brings bytes [offset, offset + count) of the file into the buffer; false when the file is shorter.</summary>
    private bool Ensure(long offset, int count)
    {
        if (offset >= _bufferStart && offset + count <= _bufferStart + _bufferCount)
            return true;
        if (count > _buffer.Length)
            _buffer = new byte[Math.Max(count, _buffer.Length * 2)];
        _bufferStart = offset;
        _bufferCount = 0;
        while (_bufferCount < count)
        {
            var read = RandomAccess.Read(_handle, _buffer.AsSpan(_bufferCount), offset + _bufferCount);
            if (read == 0)
                return false;
            _bufferCount += read;
        }

        return true;
    }
}
