using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Telemetry.Storage.Journal;

/// <summary>
/// The journal in segment files: <c>{Directory}/{first sequence:D20}.seg</c>, each a run of records
/// (<see cref="JournalRecordFormat"/>), and one file per named cursor in <c>{Directory}/cursors</c>.
/// </summary>
/// <remarks>
/// <para>Group commit: appends are queued; one writer thread writes every queued record (up to
/// <see cref="JournalOptions.MaxBatchBytes"/>) to the current segment with one write, flushes it to the
/// disk once (when <see cref="JournalOptions.Fsync"/> is on), then completes all their tasks.</para>
/// <para>On open, the newest segment is scanned and a torn or corrupt tail (a crash in the middle of a
/// write) is cut off; the sequence continues after the last intact record. Older segments are trusted;
/// a corrupt record found while reading is counted, logged and skipped.</para>
/// <para>A write or fsync error faults the journal: every later append fails with the error until the
/// process restarts and the journal is opened again (after a failed fsync the operating system may
/// have dropped the dirty pages, so carrying on could acknowledge records that are not on disk).</para>
/// </remarks>
public sealed class FileJournal : IJournal, IAsyncDisposable, IDisposable
{
    internal const string SegmentExtension = ".seg";
    internal const string CursorExtension = ".cursor";
    private const string CursorFolder = "cursors";
    private const string LockFileName = "journal.lock";
    private const int MaxPooledAppends = 1024;
    private static readonly TimeSpan FullWarningInterval = TimeSpan.FromSeconds(10);

    private readonly JournalOptions _options;
    private readonly ILogger _logger;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentQueue<PendingAppend> _pool = new();
    private readonly Lock _segmentsLock = new();
    private readonly List<Segment> _segments = [];
    private readonly ConcurrentDictionary<string, long> _cursors = new(StringComparer.Ordinal);
    private readonly Lock _cursorWriteLock = new();
    private readonly FileStream _lockFile;
    private readonly Thread _writer;
    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IDisposable _gauges;
    private FileStream _active;
    private TaskCompletionSource _committed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastSequence;
    private long _queuedBytes;
    private long _diskBytes;
    private long _tornTailBytes;
    private long _corruptRecords;
    private long _refusedSinceWarning;
    private long _lastFullWarning = long.MinValue;
    private int _full;
    private int _disposed;
    private Exception? _fault;

    /// <summary>Opens (or creates) the journal in <see cref="JournalOptions.Directory"/>.</summary>
    public FileJournal(IOptions<JournalOptions> options, ILogger<FileJournal> logger, StorageMetrics metrics)
        : this(Checked(options).Value, logger, metrics, TimeProvider.System)
    {
    }

    /// <summary>Opens (or creates) the journal in <see cref="JournalOptions.Directory"/> with an injected clock.</summary>
    public FileJournal(JournalOptions options, ILogger logger, StorageMetrics metrics, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(time);
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        _options = options;
        _logger = logger;
        _metrics = metrics;
        _time = time;
        Directory = Path.GetFullPath(options.Directory);
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, CursorFolder));
        try
        {
            // An exclusive lock: two processes appending to one journal would interleave records.
            _lockFile = new FileStream(Path.Combine(Directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new IOException($"The journal {Directory} is in use by another process (or another journal in this one).", ex);
        }

        try
        {
            LoadCursors();
            _active = OpenSegments();
        }
        catch
        {
            _lockFile.Dispose();
            throw;
        }

        Cleanup(reserve: 0);
        _gauges = metrics.ObserveJournal(() => Volatile.Read(ref _diskBytes));
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "journal writer" };
        _writer.Start();
        var stats = Stats;
        Log.JournalOpened(logger, Directory, stats.Segments, stats.BytesOnDisk, stats.OldestSequence, stats.NewestSequence, options.Fsync);
    }

    /// <summary>Absolute path of the journal's directory.</summary>
    public string Directory { get; }

    /// <inheritdoc />
    public long LastSequence => Volatile.Read(ref _lastSequence);

    /// <inheritdoc />
    public JournalStats Stats
    {
        get
        {
            lock (_segmentsLock)
            {
                var last = LastSequence;
                var oldest = _segments.Count > 0 ? Math.Min(_segments[0].FirstSequence, last + 1) : last + 1;
                return new JournalStats(Volatile.Read(ref _diskBytes), _segments.Count, oldest, last, Volatile.Read(ref _full) != 0,
                    Volatile.Read(ref _tornTailBytes), Volatile.Read(ref _corruptRecords));
            }
        }
    }

    /// <inheritdoc />
    public ValueTask<long> AppendAsync(JournalRecordType type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (type is not (JournalRecordType.Frame or JournalRecordType.Points or JournalRecordType.PointsWithDetail))
            throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown record type.");
        if (payload.Length > JournalRecordFormat.MaxPayloadBytes)
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, "A journal record holds at most 1 GiB.");
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Volatile.Read(ref _fault) is { } fault)
            throw new IOException($"The journal {Directory} failed to write and accepts no appends until it is opened again.", fault);

        var size = JournalRecordFormat.SizeOf(payload.Length);
        var queued = Interlocked.Add(ref _queuedBytes, size);
        if (Volatile.Read(ref _diskBytes) + queued > _options.MaxBytes)
        {
            Cleanup(reserve: queued);
            if (Volatile.Read(ref _diskBytes) + queued > _options.MaxBytes)
            {
                Interlocked.Add(ref _queuedBytes, -size);
                throw Refuse();
            }
        }

        if (Volatile.Read(ref _full) != 0)
            Volatile.Write(ref _full, 0);

        if (!_pool.TryDequeue(out var pending))
            pending = new PendingAppend(this);
        pending.Prepare(type, payload.Span);
        if (!_queue.Writer.TryWrite(pending))
        {
            Interlocked.Add(ref _queuedBytes, -size);
            pending.ReleasePayload();
            throw new ObjectDisposedException(nameof(FileJournal));
        }

        return new ValueTask<long>(pending, pending.Version);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<JournalRecord> ReadAsync(long fromSequence, bool follow, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var next = Math.Max(1, fromSequence);
        SegmentReader? reader = null;
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var signal = Volatile.Read(ref _committed);
                var last = LastSequence;
                if (next > last)
                {
                    if (!follow || Volatile.Read(ref _disposed) != 0)
                        yield break;
                    await signal.Task.WaitAsync(cancellationToken);
                    continue;
                }

                if (reader is null)
                {
                    reader = OpenReaderFor(next);
                    if (reader is null)
                    {
                        // Every segment that held `next` is gone (deleted or unreadable): go on at the oldest one left.
                        var oldest = Stats.OldestSequence;
                        if (oldest <= next)
                        {
                            if (!follow)
                                yield break;
                            await signal.Task.WaitAsync(cancellationToken);
                        }

                        next = Math.Max(next, oldest);
                        continue;
                    }
                }

                switch (reader.ReadNext(last, out var record))
                {
                    case ReadOutcome.Record:
                        if (record.Sequence >= next)
                        {
                            next = record.Sequence + 1;
                            yield return record;
                        }

                        break;
                    case ReadOutcome.Corrupt:
                        ReportCorrupt(reader.Segment.Path, reader.Expected - 1, "checksum");
                        next = Math.Max(next, reader.Expected);
                        break;
                    case ReadOutcome.Unreadable:
                        // The rest of this segment cannot be framed: go on at the next segment.
                        ReportCorrupt(reader.Segment.Path, reader.Expected, "header");
                        var following = NextSegmentAfter(reader.Segment.FirstSequence);
                        reader.Dispose();
                        reader = null;
                        if (following is null)
                        {
                            if (!follow)
                                yield break;
                            await signal.Task.WaitAsync(cancellationToken);
                        }
                        else
                        {
                            next = Math.Max(next, following.FirstSequence);
                        }

                        break;
                    case ReadOutcome.End:
                        // This segment has no more records: they continue in the next one (or are not committed yet).
                        var after = NextSegmentAfter(reader.Segment.FirstSequence);
                        if (after is null)
                        {
                            if (!follow)
                                yield break;
                            await signal.Task.WaitAsync(cancellationToken);
                            break;
                        }

                        next = Math.Max(next, after.FirstSequence);
                        reader.Dispose();
                        reader = null;
                        break;
                }
            }
        }
        finally
        {
            reader?.Dispose();
        }
    }

    /// <inheritdoc />
    public long ReadCursor(string name)
    {
        CheckCursorName(name);
        return _cursors.TryGetValue(name, out var value) ? value : 0;
    }

    /// <inheritdoc />
    public ValueTask SaveCursorAsync(string name, long sequence, CancellationToken cancellationToken = default)
    {
        CheckCursorName(name);
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        cancellationToken.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_cursorWriteLock)
        {
            var folder = Path.Combine(Directory, CursorFolder);
            var path = Path.Combine(folder, name + CursorExtension);
            var temporary = path + ".tmp";
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
            {
                file.Write(System.Text.Encoding.ASCII.GetBytes(sequence.ToString(CultureInfo.InvariantCulture) + "\n"));
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            DirectorySync.Flush(folder);
            _cursors[name] = sequence;
        }

        Cleanup(reserve: _options.SegmentBytes);
        return default;
    }

    /// <summary>Writes every queued append, then closes the files. Reads that follow the tail end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _queue.Writer.TryComplete();
        await _writerDone.Task;
        Close();
    }

    /// <summary>Synchronous form of <see cref="DisposeAsync"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _queue.Writer.TryComplete();
        _writer.Join();
        Close();
    }

    private void Close()
    {
        _gauges.Dispose();
        _lockFile.Dispose();
        Interlocked.Exchange(ref _committed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        Log.JournalClosed(_logger, Directory, LastSequence);
    }

    // ---- Opening ----

    private void LoadCursors()
    {
        foreach (var path in System.IO.Directory.EnumerateFiles(Path.Combine(Directory, CursorFolder)))
        {
            if (path.EndsWith(".tmp", StringComparison.Ordinal))
            {
                File.Delete(path); // a save cut short by a crash; the previous file still holds the cursor
                continue;
            }

            if (!path.EndsWith(CursorExtension, StringComparison.Ordinal))
                continue;
            var name = Path.GetFileNameWithoutExtension(path);
            if (long.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                _cursors[name] = value;
            }
            else
            {
                // Holding everything back is safe; the consumer reads again from the oldest record.
                Log.CursorUnreadable(_logger, path);
                _cursors[name] = 0;
            }
        }
    }

    private FileStream OpenSegments()
    {
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + SegmentExtension))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var first) && first > 0)
            {
                var info = new FileInfo(path);
                _segments.Add(new Segment(first, path) { Length = info.Length, LastWriteUtc = info.LastWriteTimeUtc, IsClosed = true });
            }
        }

        _segments.Sort((a, b) => a.FirstSequence.CompareTo(b.FirstSequence));
        if (_segments.Count == 0)
        {
            var segment = CreateSegment(1);
            _lastSequence = 0;
            _diskBytes = 0;
            return TakeStream(segment);
        }

        var newest = _segments[^1];
        newest.IsClosed = false;
        var (end, next) = ScanIntact(newest);
        if (end < newest.Length)
        {
            var cut = newest.Length - end;
            using (var file = new FileStream(newest.Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
            {
                file.SetLength(end);
                file.Flush(flushToDisk: true);
            }

            _tornTailBytes = cut;
            _metrics.JournalCorrupt("torn_tail", 1);
            Log.TornTailCut(_logger, newest.Path, cut, next - 1);
            newest.Length = end;
        }

        _lastSequence = next - 1;
        _diskBytes = _segments.Sum(s => s.Length);
        var stream = new FileStream(newest.Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        stream.Seek(0, SeekOrigin.End);
        return stream;
    }

    /// <summary>Where the intact records of <paramref name="segment"/> end, and the sequence after the last of them.</summary>
    private static (long End, long Next) ScanIntact(Segment segment)
    {
        using var reader = new SegmentReader(segment);
        while (reader.ReadNext(long.MaxValue, out _) == ReadOutcome.Record)
        {
        }

        return (reader.LastGoodEnd, reader.LastGoodNext);
    }

    private Segment CreateSegment(long first)
    {
        var path = Path.Combine(Directory, first.ToString("D20", CultureInfo.InvariantCulture) + SegmentExtension);
        var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        if (_options.Fsync)
            DirectorySync.Flush(Directory);
        var segment = new Segment(first, path) { Length = 0, LastWriteUtc = _time.GetUtcNow().UtcDateTime, Stream = stream };
        lock (_segmentsLock)
            _segments.Add(segment);
        return segment;
    }

    // ---- Writing ----

    private void WriteLoop()
    {
        var reader = _queue.Reader;
        var batch = new List<PendingAppend>();
        var buffer = new byte[Math.Min(_options.MaxBatchBytes, 1024 * 1024)];
        try
        {
            while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                var segment = ActiveSegment();
                var used = 0;
                var sequence = _lastSequence;
                var now = _time.GetUtcNow().UtcDateTime;
                while (reader.TryPeek(out var next))
                {
                    var size = JournalRecordFormat.SizeOf(next.Length);
                    if (batch.Count > 0 && used + size > _options.MaxBatchBytes)
                        break;
                    if (segment.Length + used + size > _options.SegmentBytes && segment.Length + used > 0)
                    {
                        if (batch.Count > 0)
                            break;
                        segment = Rotate(segment, sequence + 1);
                    }

                    reader.TryRead(out _);
                    if (buffer.Length < used + size)
                        Array.Resize(ref buffer, Math.Max(used + size, buffer.Length * 2));
                    JournalRecordFormat.Write(buffer.AsSpan(used, size), next.Type, ++sequence, now.Ticks, next.Payload);
                    next.ReleasePayload();
                    used += size;
                    batch.Add(next);
                }

                Commit(segment, buffer.AsSpan(0, used), batch, sequence, now);
                batch.Clear();
            }
        }
        catch (Exception ex)
        {
            Volatile.Write(ref _fault, ex);
            Log.JournalFaulted(_logger, ex, Directory);
            foreach (var pending in batch)
                pending.Fail(ex);
            while (reader.TryRead(out var pending))
            {
                pending.ReleasePayload();
                pending.Fail(new IOException($"The journal {Directory} failed to write.", ex));
            }
        }
        finally
        {
            _active.Dispose();
            _writerDone.TrySetResult();
        }
    }

    private void Commit(Segment segment, ReadOnlySpan<byte> bytes, List<PendingAppend> batch, long sequence, DateTime now)
    {
        _active.Write(bytes);
        if (_options.Fsync)
        {
            var started = Stopwatch.GetTimestamp();
            _active.Flush(flushToDisk: true);
            _metrics.JournalFsync(Stopwatch.GetElapsedTime(started));
        }

        segment.Length += bytes.Length;
        segment.LastWriteUtc = now;
        Interlocked.Add(ref _diskBytes, bytes.Length);
        Interlocked.Add(ref _queuedBytes, -bytes.Length);
        Volatile.Write(ref _lastSequence, sequence);
        _metrics.JournalCommitted(batch.Count, bytes.Length);
        Interlocked.Exchange(ref _committed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        var first = sequence - batch.Count + 1;
        for (var i = 0; i < batch.Count; i++)
            batch[i].Complete(first + i);
    }

    private Segment ActiveSegment()
    {
        lock (_segmentsLock)
            return _segments[^1];
    }

    private Segment Rotate(Segment current, long first)
    {
        _active.Dispose();
        // The age of a closed segment is the time of its last record, on the journal's clock.
        File.SetLastWriteTimeUtc(current.Path, current.LastWriteUtc);
        current.IsClosed = true;
        var segment = CreateSegment(first);
        _active = TakeStream(segment);
        Cleanup(reserve: _options.SegmentBytes);
        return segment;
    }

    private static FileStream TakeStream(Segment segment)
    {
        var stream = segment.Stream ?? throw new InvalidOperationException("The segment has no write stream.");
        segment.Stream = null;
        return stream;
    }

    private JournalFullException Refuse()
    {
        Volatile.Write(ref _full, 1);
        _metrics.JournalFull();
        var refused = Interlocked.Increment(ref _refusedSinceWarning);
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastFullWarning);
        if ((last == long.MinValue || _time.GetElapsedTime(last, now) >= FullWarningInterval)
            && Interlocked.CompareExchange(ref _lastFullWarning, now, last) == last)
        {
            Interlocked.Add(ref _refusedSinceWarning, -refused);
            var (name, position) = SlowestCursor();
            Log.JournalFull(_logger, Directory, _options.MaxBytes, refused, name, position, WhyHeld(name));
        }

        return new JournalFullException(string.Create(CultureInfo.InvariantCulture,
            $"The journal {Directory} holds {Volatile.Read(ref _diskBytes)} bytes of its cap of {_options.MaxBytes} and no shipped segment can be deleted."));
    }

    // ---- Deletion ----

    /// <summary>The saved cursor furthest behind, which keeps the journal from deleting anything after it.</summary>
    private (string Name, long Position) SlowestCursor()
    {
        var slowest = (Name: "none", Position: long.MaxValue);
        foreach (var (name, value) in _cursors)
        {
            if (value < slowest.Position || (value == slowest.Position && string.CompareOrdinal(name, slowest.Name) < 0))
                slowest = (name, value);
        }
        return slowest;
    }

    /// <summary>What an operator can do about the cursor <paramref name="name"/> holding the journal.</summary>
    private static string WhyHeld(string name) => name switch
    {
        JournalShipper.CursorName => "the time-series store is behind or unreachable",
        JournalShipper.DetailCursorName =>
            "the adaptive policy's detail shipper stays Telemetry:TimeSeries:AdaptiveDetailDelay behind and, over 3/4 of the cap, gives way only over what the main shipper has read: the time-series store is behind, or raise Telemetry:Journal:MaxBytes",
        _ => "its reader has not passed these records yet",
    };

    private long MinimumCursor()
    {
        var minimum = long.MaxValue;
        foreach (var value in _cursors.Values)
            minimum = Math.Min(minimum, value);
        return minimum;
    }

    /// <summary>
    /// Deletes the oldest closed segments whose records are all below every saved cursor and that are
    /// older than the retention or needed to keep <paramref name="reserve"/> more bytes under the cap.
    /// </summary>
    private void Cleanup(long reserve)
    {
        lock (_segmentsLock)
        {
            var minimum = MinimumCursor();
            var now = _time.GetUtcNow().UtcDateTime;
            while (_segments.Count > 1 && _segments[0].IsClosed)
            {
                var oldest = _segments[0];
                var lastInIt = _segments[1].FirstSequence - 1;
                if (lastInIt >= minimum)
                    break;
                var expired = now - oldest.LastWriteUtc > _options.Retention;
                var pressed = Volatile.Read(ref _diskBytes) + reserve > _options.MaxBytes;
                if (!expired && !pressed)
                    break;
                try
                {
                    File.Delete(oldest.Path);
                }
                catch (IOException ex)
                {
                    Log.SegmentDeleteFailed(_logger, ex, oldest.Path);
                    break;
                }

                _segments.RemoveAt(0);
                Interlocked.Add(ref _diskBytes, -oldest.Length);
                _metrics.JournalSegmentDeleted(expired ? "retention" : "cap");
                Log.SegmentDeleted(_logger, oldest.Path, oldest.FirstSequence, lastInIt, expired ? "retention" : "disk cap");
            }
        }
    }

    // ---- Reading ----

    private SegmentReader? OpenReaderFor(long sequence)
    {
        Segment? segment = null;
        lock (_segmentsLock)
        {
            for (var i = _segments.Count - 1; i >= 0; i--)
            {
                if (_segments[i].FirstSequence <= sequence)
                {
                    segment = _segments[i];
                    break;
                }
            }
        }

        if (segment is null)
            return null;
        try
        {
            return new SegmentReader(segment);
        }
        catch (FileNotFoundException)
        {
            return null; // deleted since the lookup
        }
    }

    private Segment? NextSegmentAfter(long firstSequence)
    {
        lock (_segmentsLock)
        {
            foreach (var segment in _segments)
            {
                if (segment.FirstSequence > firstSequence)
                    return segment;
            }
        }

        return null;
    }

    private void ReportCorrupt(string path, long sequence, string reason)
    {
        Interlocked.Increment(ref _corruptRecords);
        _metrics.JournalCorrupt(reason, 1);
        Log.CorruptRecordSkipped(_logger, path, sequence, reason);
    }

    private static void CheckCursorName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new ArgumentException($"Cursor name '{name}' may hold only ASCII letters, digits, '-', '_' and '.'.", nameof(name));
        }
    }

    private static IOptions<JournalOptions> Checked(IOptions<JournalOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options;
    }

    private void Return(PendingAppend pending)
    {
        if (_pool.Count < MaxPooledAppends)
            _pool.Enqueue(pending);
    }

    /// <summary>One segment file. Its length and last write change only on the writer thread.</summary>
    internal sealed class Segment(long firstSequence, string path)
    {
        public long FirstSequence { get; } = firstSequence;

        public string Path { get; } = path;

        public long Length
        {
            get => Volatile.Read(ref _length);
            set => Volatile.Write(ref _length, value);
        }

        public DateTime LastWriteUtc { get; set; }

        /// <summary>False for the segment being appended to.</summary>
        public bool IsClosed { get; set; }

        /// <summary>The write stream, handed from <see cref="CreateSegment"/> to the writer.</summary>
        public FileStream? Stream { get; set; }

        private long _length;
    }

    /// <summary>A queued append: the copied payload and the task source of its caller, pooled.</summary>
    private sealed class PendingAppend(FileJournal owner) : IValueTaskSource<long>
    {
        private ManualResetValueTaskSourceCore<long> _core = new() { RunContinuationsAsynchronously = true };
        private byte[] _payload = [];

        public JournalRecordType Type { get; private set; }

        public int Length { get; private set; }

        public ReadOnlySpan<byte> Payload => _payload.AsSpan(0, Length);

        public short Version => _core.Version;

        public void Prepare(JournalRecordType type, ReadOnlySpan<byte> payload)
        {
            Type = type;
            Length = payload.Length;
            _payload = payload.Length == 0 ? [] : ArrayPool<byte>.Shared.Rent(payload.Length);
            payload.CopyTo(_payload);
        }

        public void ReleasePayload()
        {
            if (_payload.Length > 0)
                ArrayPool<byte>.Shared.Return(_payload);
            _payload = [];
        }

        public void Complete(long sequence) => _core.SetResult(sequence);

        public void Fail(Exception exception) => _core.SetException(exception);

        public long GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                _core.Reset();
                owner.Return(this);
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
