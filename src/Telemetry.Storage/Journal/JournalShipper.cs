using System.Diagnostics;
using System.Text;
using InfluxDB.Client.Core.Exceptions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Telemetry.Storage.Journal;

/// <summary>
/// Drains the <see cref="JournalRecordType.Points"/> records of the journal to the time-series store:
/// InfluxDB v2 write API (gzip) when <see cref="TimeSeriesOptions.InfluxUrl"/> is set, otherwise the day
/// files of <see cref="LineProtocolFileSink"/>. <see cref="JournalRecordType.Frame"/> records are skipped.
/// </summary>
/// <remarks>
/// <para>Lines are gathered into requests of up to <see cref="TimeSeriesOptions.BatchSize"/> lines (a
/// request is sent when full, or once its first record has waited <see cref="TimeSeriesOptions.FlushInterval"/>,
/// or at once when no record is ready and the interval is zero); up to
/// <see cref="TimeSeriesOptions.MaxConcurrentWrites"/> are in flight. The cursor <see cref="CursorName"/>
/// moves only over the contiguous prefix of completed requests, so a crash re-sends at most the requests
/// that were in flight (at-least-once).</para>
/// <para>Transient failures (connection errors, timeouts, 5xx, 408, 429, and 401/403/404, which a fix of
/// the configuration or the server cures) are retried with exponential backoff from
/// <see cref="TimeSeriesOptions.RetryDelay"/>, capped at 30 s, for as long as it takes: nothing is dropped.
/// A request the store rejects as bad data (400, 413, 422) is split in halves until the rejected lines
/// are found; those go to <c>rejected-points.jsonl</c> in the journal directory, every other line is written.</para>
/// </remarks>
public sealed class JournalShipper : BackgroundService
{
    /// <summary>The name of the shipper's cursor in the journal.</summary>
    public const string CursorName = "shipper";

    /// <summary>The cursor of the detail shipper of the <c>adaptive</c> policy.</summary>
    public const string DetailCursorName = "shipper-detail";

    private static readonly byte[] DetailPrefix = Encoding.ASCII.GetBytes(AdaptiveFields.DetailMeasurement + ",");
    private static readonly byte[] SamplePrefix = Encoding.ASCII.GetBytes(SamplePoints.SampleMeasurement);

    /// <summary>
    /// Share of <see cref="JournalOptions.MaxBytes"/> above which the detail shipper gives way: it passes
    /// records the main shipper has read without waiting for <see cref="TimeSeriesOptions.AdaptiveDetailDelay"/>,
    /// so that the journal can free them and ingest goes on.
    /// </summary>
    public const double DetailGiveWayShare = 0.75;

    private static readonly TimeSpan GiveWayLogInterval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MinRetryDelay = TimeSpan.FromMilliseconds(10);

    private readonly IJournal _journal;
    private readonly TimeSeriesOptions _options;
    private readonly ILineBatchWriter _writer;
    private readonly string _sink;
    private readonly string _target;
    private readonly RejectedPointsFile _rejected;
    private readonly ILogger _logger;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _saveLock = new(1, 1);
    private readonly Lock _gate = new();
    private readonly LinkedList<ShipRequest> _inFlight = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<LineBlock> _spareBlocks = new();
    private readonly IDisposable? _gauges;
    private readonly bool _detail;
    private readonly string _cursorName;
    private readonly AdaptiveShipping? _adaptive;
    private long _cursor;
    private long _savedCursor;
    private long _gatheringOldestTicks;
    private readonly long _giveWayBytes;
    private readonly LineBlock _rendered = new(16 * 1024, 64);
    private byte[] _lineBuffer = [];
    private long _gaveWayRecords;
    private DateTime _gaveWayLoggedUtc;

    /// <summary>Creates the shipper for the target named by <paramref name="options"/>.</summary>
    public JournalShipper(IJournal journal, IOptions<TimeSeriesOptions> options, IOptions<JournalOptions> journalOptions,
        ILoggerFactory loggers, StorageMetrics metrics, AdaptiveShipping? adaptive = null)
        : this(journal, Value(options), Target(Value(options), loggers, metrics),
            Path.Combine(Path.GetFullPath(Value(journalOptions).Directory), RejectedPointsFile.FileName),
            RejectedPointsFile.DefaultMaxBytes, loggers.CreateLogger<JournalShipper>(), metrics, TimeProvider.System,
            Value(options).IsAdaptive ? adaptive : null, detail: false)
    {
    }

    /// <summary>
    /// The detail shipper of the <c>adaptive</c> policy: follows the journal on its own cursor
    /// <see cref="DetailCursorName"/>, <see cref="TimeSeriesOptions.AdaptiveDetailDelay"/> behind the main
    /// shipper, and sends the full-resolution fields of the seconds around the alert episodes the main
    /// shipper has read (as <c>hdv</c> points); the rest of the detail lines are left to the aggregates.
    /// </summary>
    public static JournalShipper CreateDetail(IJournal journal, IOptions<TimeSeriesOptions> options, IOptions<JournalOptions> journalOptions,
        ILoggerFactory loggers, StorageMetrics metrics, AdaptiveShipping adaptive)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        // With the file store the detail gets its own day files (detail/hdv-*.lp): two writers never share a file.
        var settings = Value(options);
        var target = Target(settings.UsesInflux ? settings : settings.WithFileDirectory(Path.Combine(settings.FileDirectory, "detail")), loggers, metrics);
        return new JournalShipper(journal, Value(options), target with { Sink = target.Sink + "-detail", Description = target.Description + ", full-resolution detail around alert episodes" },
            Path.Combine(Path.GetFullPath(Value(journalOptions).Directory), RejectedPointsFile.FileName),
            RejectedPointsFile.DefaultMaxBytes, loggers.CreateLogger<JournalShipper>(), metrics, TimeProvider.System, adaptive, detail: true,
            giveWayBytes: (long)(Value(journalOptions).MaxBytes * DetailGiveWayShare));
    }

    internal JournalShipper(IJournal journal, TimeSeriesOptions options, ShipperTarget target, string rejectedPath, long rejectedMaxBytes,
        ILogger logger, StorageMetrics metrics, TimeProvider time, AdaptiveShipping? adaptive = null, bool detail = false,
        long giveWayBytes = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(journal);
        if (detail)
            ArgumentNullException.ThrowIfNull(adaptive);
        _journal = journal;
        _options = options;
        _adaptive = adaptive;
        _detail = detail;
        _cursorName = detail ? DetailCursorName : CursorName;
        _giveWayBytes = giveWayBytes;
        _writer = target.Writer;
        _sink = target.Sink;
        _target = target.Description;
        _rejected = new RejectedPointsFile(rejectedPath, rejectedMaxBytes, time);
        _logger = logger;
        _metrics = metrics;
        _time = time;
        _slots = new SemaphoreSlim(options.MaxConcurrentWrites, options.MaxConcurrentWrites);
        // The detail shipper lags by design: the lag gauges are the main shipper's.
        _gauges = detail ? null : metrics.ObserveShipper(LagRecords, LagSeconds);
    }

    /// <summary>The position up to which every record was shipped (the first sequence not yet shipped).</summary>
    public long Cursor => Interlocked.Read(ref _cursor);

    /// <summary>Records the detail shipper passed before <see cref="TimeSeriesOptions.AdaptiveDetailDelay"/> because the journal was short of space.</summary>
    public long GaveWayRecords => Interlocked.Read(ref _gaveWayRecords);

    /// <summary>The file that holds the lines the store rejected.</summary>
    public string RejectedPointsPath => _rejected.Path;

    public override void Dispose()
    {
        base.Dispose();
        _gauges?.Dispose();
        while (_spareBlocks.TryDequeue(out var block))
            block.Dispose();
        _rendered.Dispose();
        _writer.Dispose();
        _slots.Dispose();
        _saveLock.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var cursor = Math.Max(1, _journal.ReadCursor(_cursorName));
        if (_detail && _journal.ReadCursor(_cursorName) == 0)
            cursor = Math.Max(1, _journal.ReadCursor(CursorName)); // first start: from where the main shipper is
        // Saved at once, so that the journal keeps every record the shipper has not shipped yet.
        await _journal.SaveCursorAsync(_cursorName, cursor, stoppingToken);
        _cursor = _savedCursor = cursor;
        _metrics.ShipperStarted(_sink);
        if (_detail)
            _metrics.DetailGaveWay(0); // published at zero, so that an alert can watch it
        Log.ShipperStarted(_logger, cursor, _target, _options.BatchSize, _options.MaxConcurrentWrites);
        var batch = new Gathering(cursor);
        try
        {
            await using var records = _journal.ReadAsync(cursor, follow: true, stoppingToken).GetAsyncEnumerator(stoppingToken);
            while (true)
            {
                if (!await NextAsync(records, batch, stoppingToken))
                    break;
                await AddAsync(batch, records.Current, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Requests still in flight end with the stopping token; their records are shipped again next time.
            for (var i = 0; i < _options.MaxConcurrentWrites; i++)
                await _slots.WaitAsync(CancellationToken.None);
            await SaveCursorAsync();
            batch.Lines.Dispose();
            Log.ShipperStopped(_logger, Cursor);
        }
    }

    /// <summary>
    /// Moves to the next record. Gathered records are sent once the first of them has waited the flush interval,
    /// whether more records keep coming or not: a steady trickle (a small fleet, a record every few
    /// milliseconds) reaches the store within about that interval instead of once <see cref="TimeSeriesOptions.BatchSize"/>
    /// lines have gathered. With no flush interval they are sent whenever no record is ready.
    /// </summary>
    private async Task<bool> NextAsync(IAsyncEnumerator<JournalRecord> records, Gathering batch, CancellationToken cancellationToken)
    {
        var move = records.MoveNextAsync();
        if (batch.Records == 0)
            return await move;
        var left = _options.FlushInterval - _time.GetElapsedTime(batch.StartedTimestamp);
        if (move.IsCompleted)
        {
            if (_options.FlushInterval > TimeSpan.Zero && left <= TimeSpan.Zero)
                await DispatchAsync(batch, cancellationToken);
            return await move;
        }
        var moving = move.AsTask();
        if (left > TimeSpan.Zero)
            await Task.WhenAny(moving, Task.Delay(left, _time, cancellationToken));
        if (!moving.IsCompleted)
            await DispatchAsync(batch, cancellationToken);
        return await moving;
    }

    private async Task AddAsync(Gathering batch, JournalRecord record, CancellationToken cancellationToken)
    {
        if (_detail)
            await WaitUntilDetailIsDueAsync(batch, record, cancellationToken);
        if (batch.Records == 0)
        {
            Volatile.Write(ref _gatheringOldestTicks, record.AppendedUtc.Ticks);
            batch.StartedTimestamp = _time.GetTimestamp();
        }
        batch.Records++;
        if (record.Type is not (JournalRecordType.Points or JournalRecordType.PointsWithDetail))
        {
            batch.End = record.Sequence + 1;
        }
        else if (_detail && record.Type == JournalRecordType.PointsWithDetail)
        {
            // The binary detail: the lines of the seconds around an episode are rendered here, the rest never are.
            var count = RenderDetail(record.Payload.Span, out var malformed);
            if (malformed && DetailBlock.TrySplit(record.Payload.Span, out _))
                Malformed(record); // a bad split is the main shipper's to count
            for (var i = 0; i < count; i++)
            {
                if (batch.Lines.Count == _options.BatchSize)
                    await DispatchMidRecordAsync(batch, record, cancellationToken);

                batch.Lines.Add(_rendered.Slice(i, 1).Span);
            }

            batch.End = record.Sequence + 1;
        }
        else
        {
            // Line protocol: a Points record, or what follows the detail of a PointsWithDetail one. The detail
            // shipper finds the hdv_detail lines of journals written before the detail was binary.
            if (!_detail && record.Type == JournalRecordType.PointsWithDetail && !DetailBlock.TrySplit(record.Payload.Span, out _))
                Malformed(record); // its lines cannot be found
            var payload = DetailBlock.Text(record.Type, record.Payload);
            var lines = LineRanges(payload.Span);
            if (batch.Lines.Count > 0 && batch.Lines.Count + lines.Count > _options.BatchSize)
                await DispatchMidRecordAsync(batch, record, cancellationToken);

            // A record larger than a request is split; the cursor passes it only with its last part.
            foreach (var (start, length) in lines)
            {
                if (!Selects(payload.Span.Slice(start, length)))
                    continue;
                if (batch.Lines.Count == _options.BatchSize)
                    await DispatchMidRecordAsync(batch, record, cancellationToken);

                var line = payload.Span.Slice(start, length);
                if (_detail)
                    batch.Lines.Add(SamplePrefix, line[(DetailPrefix.Length - 1)..]); // sent as hdv
                else
                    batch.Lines.Add(line);
            }

            batch.End = record.Sequence + 1;
        }

        if (!_detail)
            _adaptive?.MarkRead(record.Sequence, record.AppendedUtc);

        if (batch.Lines.Count >= _options.BatchSize || batch.Records >= _options.BatchSize)
            await DispatchAsync(batch, cancellationToken);
    }

    /// <summary>Sends what is gathered before going on with <paramref name="record"/>, which the next request then starts with.</summary>
    private async Task DispatchMidRecordAsync(Gathering batch, JournalRecord record, CancellationToken cancellationToken)
    {
        await DispatchAsync(batch, cancellationToken);
        Volatile.Write(ref _gatheringOldestTicks, record.AppendedUtc.Ticks);
        batch.StartedTimestamp = _time.GetTimestamp();
        batch.Records = 1;
    }

    /// <summary>
    /// Renders, into <see cref="_rendered"/>, the <c>hdv</c> lines of the samples of a detail block that lie
    /// within <see cref="TimeSeriesOptions.AdaptiveWindow"/> of a known episode; returns how many.
    /// </summary>
    private int RenderDetail(ReadOnlySpan<byte> payload, out bool malformed)
    {
        _rendered.Clear();
        var reader = DetailBlock.Read(payload);
        malformed = !reader.Valid;
        if (malformed)
            return 0;
        var vin = reader.Vin;
        var head = reader.Head;
        if (_lineBuffer.Length < head.Length + Utf8SampleLine.MaxFieldBytes)
            _lineBuffer = new byte[head.Length + Utf8SampleLine.MaxFieldBytes];
        while (reader.Next(out var seconds, out var mask, out var values))
        {
            if (!_adaptive!.Covers(vin, seconds, _options.AdaptiveWindow))
                continue;
            var length = Utf8SampleLine.WriteDetail(_lineBuffer, head, mask, values, seconds);
            if (length > 0)
                _rendered.Add(_lineBuffer.AsSpan(0, length));
        }

        malformed = !reader.Valid;
        return _rendered.Count;
    }

    /// <summary>A record whose checksum held but whose detail block does not read: counted and logged, never shipped wrong.</summary>
    private void Malformed(JournalRecord record)
    {
        _metrics.JournalCorrupt("detail", 1);
        Log.DetailMalformed(_logger, record.Sequence);
    }

    /// <summary>
    /// Whether this shipper sends <paramref name="line"/>. The main shipper sends every line but the detail
    /// lines of the <c>adaptive</c> policy (and notes the alert episodes it passes); the detail shipper sends
    /// only detail lines of seconds within <see cref="TimeSeriesOptions.AdaptiveWindow"/> of an episode.
    /// </summary>
    private bool Selects(ReadOnlySpan<byte> line)
    {
        var isDetail = line.StartsWith(DetailPrefix);
        if (!_detail)
        {
            if (!isDetail)
                _adaptive?.TryRegister(line);
            return !isDetail;
        }

        if (!isDetail)
            return false;
        var vinStart = DetailPrefix.Length + "vin=".Length;
        var vinLength = line[vinStart..].IndexOfAny((byte)',', (byte)' ');
        var space = line.LastIndexOf((byte)' ');
        if (vinLength <= 0 || space < 0 || !System.Buffers.Text.Utf8Parser.TryParse(line[(space + 1)..], out long second, out _))
            return false;
        return _adaptive!.Covers(line.Slice(vinStart, vinLength), second, _options.AdaptiveWindow);
    }

    /// <summary>
    /// Holds the detail shipper until <paramref name="record"/> is <see cref="TimeSeriesOptions.AdaptiveDetailDelay"/>
    /// old and the main shipper has read everything appended within that delay after it (so every episode
    /// detected in that time is known). What is gathered meanwhile is sent. While the journal holds more
    /// than <see cref="DetailGiveWayShare"/> of its cap the record is passed as soon as the main shipper has
    /// read it: holding it would fill the journal and stop ingest, so the episodes found later than that
    /// lose the part of their window before it (counted and logged).
    /// </summary>
    private async Task WaitUntilDetailIsDueAsync(Gathering batch, JournalRecord record, CancellationToken cancellationToken)
    {
        var due = record.AppendedUtc + _options.AdaptiveDetailDelay;
        while (true)
        {
            var now = _time.GetUtcNow().UtcDateTime;
            var mainCaughtUp = _adaptive!.ReadSequence >= _journal.LastSequence;
            if (_adaptive.ReadAppendedUtc >= due || (mainCaughtUp && now >= due))
                return;
            if (_adaptive.ReadSequence >= record.Sequence && _journal.Stats.BytesOnDisk >= _giveWayBytes)
            {
                GiveWay(record, now);
                return;
            }

            if (batch.Lines.Count > 0)
                await DispatchAsync(batch, cancellationToken);
            var wait = due - now;
            await Task.Delay(wait < TimeSpan.FromMilliseconds(50) ? TimeSpan.FromMilliseconds(50) : wait > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : wait, _time, cancellationToken);
        }
    }

    private void GiveWay(JournalRecord record, DateTime now)
    {
        var count = Interlocked.Increment(ref _gaveWayRecords);
        _metrics.DetailGaveWay();
        if (now - _gaveWayLoggedUtc < GiveWayLogInterval)
            return;
        _gaveWayLoggedUtc = now;
        var stats = _journal.Stats;
        Log.DetailGaveWay(_logger, stats.BytesOnDisk, _giveWayBytes, now - record.AppendedUtc, _options.AdaptiveDetailDelay, count);
    }

    /// <summary>Where each non-empty line of a record's payload is (a trailing <c>\r</c> left out).</summary>
    private static List<(int Start, int Length)> LineRanges(ReadOnlySpan<byte> payload)
    {
        var lines = new List<(int, int)>(Math.Max(1, payload.Length / 400));
        var offset = 0;
        while (offset < payload.Length)
        {
            var end = payload[offset..].IndexOf((byte)'\n');
            var length = end < 0 ? payload.Length - offset : end;
            var trimmed = length > 0 && payload[offset + length - 1] == '\r' ? length - 1 : length;
            if (trimmed > 0)
                lines.Add((offset, trimmed));
            offset += length + 1;
        }

        return lines;
    }

    private async Task DispatchAsync(Gathering batch, CancellationToken cancellationToken)
    {
        await _slots.WaitAsync(cancellationToken);
        // The gathered block goes with the request and comes back when it is sent: no copy, and in a steady
        // run no allocation (MaxConcurrentWrites + 1 blocks, each as large as the largest request).
        var request = new ShipRequest(batch.Lines, batch.End, new DateTime(Volatile.Read(ref _gatheringOldestTicks), DateTimeKind.Utc));
        batch.Lines = _spareBlocks.TryDequeue(out var spare) ? spare : new LineBlock();
        lock (_gate)
            _inFlight.AddLast(request);
        batch.Records = 0;
        Volatile.Write(ref _gatheringOldestTicks, 0);
        _ = Task.Run(() => SendAsync(request, cancellationToken), CancellationToken.None);
    }

    private async Task SendAsync(ShipRequest request, CancellationToken cancellationToken)
    {
        try
        {
            if (request.Lines.Count > 0)
                await WriteIsolatingAsync(request.Lines, 0, request.Lines.Count, cancellationToken);
            request.Done = true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping: not shipped, the cursor stays before it.
        }
        finally
        {
            request.Lines.Clear();
            _spareBlocks.Enqueue(request.Lines);
            _slots.Release();
        }

        if (request.Done)
            await AdvanceAsync();
    }

    /// <summary>Writes <paramref name="count"/> lines from <paramref name="first"/>, retrying transient failures until they pass and splitting rejected requests.</summary>
    private async Task WriteIsolatingAsync(LineBlock lines, int first, int count, CancellationToken cancellationToken)
    {
        var attempt = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Exception failure;
            var started = Stopwatch.GetTimestamp();
            try
            {
                await _writer.WriteAsync(lines.Slice(first, count), count, cancellationToken);
                _metrics.Shipped(_sink, count);
                _metrics.Written(_sink, count, Stopwatch.GetElapsedTime(started));
                return;
            }
            catch (Exception ex) when (IsRejection(ex) && !cancellationToken.IsCancellationRequested)
            {
                if (count > 1)
                {
                    var half = count / 2;
                    await WriteIsolatingAsync(lines, first, half, cancellationToken);
                    await WriteIsolatingAsync(lines, first + half, count - half, cancellationToken);
                    return;
                }

                try
                {
                    var line = lines.Line(first);
                    _rejected.Write(line, ex.Message);
                    _metrics.ShipperRejected(_sink, 1);
                    Log.ShipperRejected(_logger, ex.Message, _rejected.Path, line);
                    return;
                }
                catch (Exception fileError) when (fileError is IOException or UnauthorizedAccessException)
                {
                    failure = fileError; // cannot set it aside yet: keep it and try again
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                failure = ex;
            }

            attempt++;
            var delay = Backoff(attempt);
            _metrics.ShipperRetried(_sink);
            Log.ShipperRetrying(_logger, failure, count, attempt, delay);
            await Task.Delay(delay, _time, cancellationToken);
        }
    }

    private TimeSpan Backoff(int attempt)
    {
        var first = _options.RetryDelay < MinRetryDelay ? MinRetryDelay : _options.RetryDelay;
        var ticks = first.Ticks * Math.Pow(2, Math.Min(attempt - 1, 30));
        var capped = Math.Min(ticks, MaxRetryDelay.Ticks);
        return TimeSpan.FromTicks((long)(capped * (0.8 + 0.4 * Random.Shared.NextDouble())));
    }

    /// <summary>The store refused the data itself: sending it again would fail again.</summary>
    internal static bool IsRejection(Exception exception) =>
        exception is HttpException { Status: 400 or 413 or 422 };

    private async Task AdvanceAsync()
    {
        lock (_gate)
        {
            while (_inFlight.First is { Value.Done: true } head)
            {
                Interlocked.Exchange(ref _cursor, head.Value.End);
                _inFlight.RemoveFirst();
            }
        }

        await SaveCursorAsync();
    }

    private async Task SaveCursorAsync()
    {
        await _saveLock.WaitAsync(CancellationToken.None);
        try
        {
            var cursor = Cursor;
            if (cursor > _savedCursor)
            {
                await _journal.SaveCursorAsync(_cursorName, cursor, CancellationToken.None);
                _savedCursor = cursor;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            Log.ShipperCursorFailed(_logger, ex);
        }
        finally
        {
            _saveLock.Release();
        }
    }

    private long LagRecords()
    {
        var cursor = Cursor;
        return cursor == 0 ? 0 : Math.Max(0, _journal.LastSequence - cursor + 1);
    }

    private double LagSeconds()
    {
        long oldest;
        lock (_gate)
            oldest = _inFlight.First?.Value.OldestAppendedUtc.Ticks ?? Volatile.Read(ref _gatheringOldestTicks);
        if (oldest == 0)
            return 0;
        return Math.Max(0, (_time.GetUtcNow().UtcDateTime - new DateTime(oldest, DateTimeKind.Utc)).TotalSeconds);
    }

    private static T Value<T>(IOptions<T> options)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Value;
    }

    private static ShipperTarget Target(TimeSeriesOptions options, ILoggerFactory loggers, StorageMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(loggers);
        return options.UsesInflux
            ? ShipperTarget.Influx(options)
            : ShipperTarget.Files(new LineProtocolFileSink(Options.Create(options), loggers.CreateLogger<LineProtocolFileSink>(), metrics));
    }

    /// <summary>Records read but not sent yet.</summary>
    private sealed class Gathering(long end)
    {
        public LineBlock Lines { get; set; } = new();

        public int Records { get; set; }

        /// <summary>The cursor after the last whole record gathered.</summary>
        public long End { get; set; } = end;

        /// <summary>When the first record of this request was gathered (<see cref="TimeProvider.GetTimestamp"/>).</summary>
        public long StartedTimestamp { get; set; }
    }

    private sealed class ShipRequest(LineBlock lines, long end, DateTime oldestAppendedUtc)
    {
        public LineBlock Lines { get; } = lines;

        /// <summary>The cursor once this request and every one before it are done.</summary>
        public long End { get; } = end;

        public DateTime OldestAppendedUtc { get; } = oldestAppendedUtc;

        public volatile bool Done;
    }
}

/// <summary>Where the shipper writes: a line writer, the <c>sink</c> tag of its metrics and a description for the log.</summary>
internal sealed record class ShipperTarget(ILineBatchWriter Writer, string Sink, string Description)
{
    public static ShipperTarget Influx(TimeSeriesOptions options) =>
        new(new InfluxLineBatchWriter(options, gzip: true), InfluxTimeSeriesSink.SinkName,
            $"InfluxDB at {options.InfluxUrl}, org {options.Org}, bucket {options.Bucket} (compression {options.Compression})");

    public static ShipperTarget Files(LineProtocolFileSink files) =>
        new(new LineProtocolFileBatchWriter(files), LineProtocolFileSink.SinkName, $"line-protocol files in {files.Directory}");
}
