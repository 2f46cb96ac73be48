namespace Telemetry.Storage.Journal;

/// <summary>What a journal record holds.</summary>
public enum JournalRecordType : byte
{
    /// <summary>A raw MQTT message as received (the archive); the shipper skips it.</summary>
    Frame = 1,

    /// <summary>UTF-8 line protocol, lines separated by <c>\n</c>; the shipper sends it to the time-series store.</summary>
    Points = 2,

    /// <summary>
    /// The <c>adaptive</c> policy's record of a vehicle's samples: the non-core fields in binary
    /// (<see cref="DetailBlock"/>), which the detail shipper renders around alert episodes only, then line
    /// protocol as in <see cref="Points"/>.
    /// </summary>
    PointsWithDetail = 3,
}

/// <summary>One record read back from the journal.</summary>
/// <param name="Sequence">Its sequence number (1, 2, 3, ...).</param>
/// <param name="Type">What it holds.</param>
/// <param name="AppendedUtc">When the journal wrote it (UTC).</param>
/// <param name="Payload">Its bytes; valid until the reader moves to the next record (copy what you keep).</param>
public readonly record struct JournalRecord(long Sequence, JournalRecordType Type, DateTime AppendedUtc, ReadOnlyMemory<byte> Payload);

/// <summary>The state of a journal at one moment.</summary>
/// <param name="BytesOnDisk">Bytes of every segment file.</param>
/// <param name="Segments">Number of segment files.</param>
/// <param name="OldestSequence">Sequence of the oldest record still on disk (when none is, <see cref="NewestSequence"/> + 1).</param>
/// <param name="NewestSequence">Sequence of the newest durable record (0 when none was ever appended).</param>
/// <param name="IsFull">True while appends are refused because the disk cap is reached.</param>
/// <param name="TornTailBytes">Bytes cut from the end of the newest segment when the journal was opened (a write cut short by a crash).</param>
/// <param name="CorruptRecords">Records whose checksum or header did not match when read since the journal was opened; they were skipped.</param>
public readonly record struct JournalStats(
    long BytesOnDisk,
    int Segments,
    long OldestSequence,
    long NewestSequence,
    bool IsFull,
    long TornTailBytes,
    long CorruptRecords);

/// <summary>
/// A durable append-only log of records numbered 1, 2, 3, ... Appends complete when the record is on
/// disk; named consumers keep their position in cursors, which hold back the deletion of old records.
/// </summary>
public interface IJournal
{
    /// <summary>
    /// Copies <paramref name="payload"/> before returning; the task completes when the record is durable
    /// (written, and fsynced when <see cref="JournalOptions.Fsync"/> is on) and yields its sequence number
    /// (1, 2, 3, ... never reused, survives restarts).
    /// </summary>
    /// <exception cref="JournalFullException">The disk cap is reached and no segment can be freed (thrown at once).</exception>
    ValueTask<long> AppendAsync(JournalRecordType type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>The newest durable sequence (0 when the journal is empty).</summary>
    long LastSequence { get; }

    /// <summary>
    /// Records with <c>Sequence &gt;= fromSequence</c> in order (records already deleted are not returned);
    /// with <paramref name="follow"/> it waits for new appends until cancelled or the journal is disposed.
    /// </summary>
    IAsyncEnumerable<JournalRecord> ReadAsync(long fromSequence, bool follow, CancellationToken cancellationToken = default);

    /// <summary>The saved position of consumer <paramref name="name"/>: the first sequence it has not consumed (0 when never saved).</summary>
    long ReadCursor(string name);

    /// <summary>
    /// Saves the position of consumer <paramref name="name"/> (the first sequence it has not consumed) atomically
    /// and durably. From then on it holds back the deletion of records at or after it.
    /// </summary>
    ValueTask SaveCursorAsync(string name, long sequence, CancellationToken cancellationToken = default);

    /// <summary>Bytes on disk, segments, oldest and newest sequence, and whether appends are refused.</summary>
    JournalStats Stats { get; }
}

/// <summary>The journal reached its disk cap (<see cref="JournalOptions.MaxBytes"/>) and no segment could be freed.</summary>
public sealed class JournalFullException : IOException
{
    public JournalFullException() : base("The journal is full.") { }

    public JournalFullException(string message) : base(message) { }

    public JournalFullException(string message, Exception? innerException) : base(message, innerException) { }
}
