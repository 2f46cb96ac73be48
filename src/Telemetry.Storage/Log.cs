using Microsoft.Extensions.Logging;

namespace Telemetry.Storage;

/// <summary>Log messages of the storage adapters (event ids 4000-4099).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4000, Level = LogLevel.Information,
        Message = "Time series go to InfluxDB at {Url}, org {Org}, bucket {Bucket} (batches of up to {BatchSize} points).")]
    public static partial void InfluxSinkStarted(ILogger logger, string url, string org, string bucket, int batchSize);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Warning,
        Message = "Time-series write of {Points} points failed (attempt {Attempt}); retrying in {Delay}.")]
    public static partial void WriteRetrying(ILogger logger, Exception? exception, int points, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Error,
        Message = "Time-series write of {Points} points from {Calls} calls failed after {Attempts} attempts; the callers get the error.")]
    public static partial void WriteFailed(ILogger logger, Exception exception, int points, int calls, int attempts);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Information,
        Message = "Time-series sink drained and stopped.")]
    public static partial void SinkStopped(ILogger logger);

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning,
        Message = "No InfluxDB configured (Telemetry:TimeSeries:InfluxUrl is empty): time series go to line-protocol files {Directory}/hdv-yyyy-MM-dd.lp (one per UTC day; import with `influx write --bucket hdv --precision s --file FILE`).")]
    public static partial void FileSinkStarted(ILogger logger, string directory);

    [LoggerMessage(EventId = 4020, Level = LogLevel.Information,
        Message = "Alert store: {Path} ({Alerts} episodes loaded from {Lines} records).")]
    public static partial void AlertStoreLoaded(ILogger logger, string path, int alerts, int lines);

    [LoggerMessage(EventId = 4021, Level = LogLevel.Warning,
        Message = "Alert store {Path}: record on line {Line} is unreadable and was skipped.")]
    public static partial void AlertRecordSkipped(ILogger logger, Exception exception, string path, int line);

    [LoggerMessage(EventId = 4022, Level = LogLevel.Warning,
        Message = "No alert file configured (Telemetry:Alerts:FilePath is empty): alerts are kept in memory and lost at stop.")]
    public static partial void AlertStoreInMemory(ILogger logger);

    [LoggerMessage(EventId = 4030, Level = LogLevel.Information,
        Message = "Journal {Directory}: {Segments} segments, {Bytes} bytes, sequences {Oldest}..{Newest} (fsync {Fsync}).")]
    public static partial void JournalOpened(ILogger logger, string directory, int segments, long bytes, long oldest, long newest, bool fsync);

    [LoggerMessage(EventId = 4031, Level = LogLevel.Warning,
        Message = "Journal segment {Path}: cut {Bytes} bytes of a torn or corrupt tail (a write cut short by a crash); the journal continues after sequence {LastSequence}.")]
    public static partial void TornTailCut(ILogger logger, string path, long bytes, long lastSequence);

    [LoggerMessage(EventId = 4032, Level = LogLevel.Error,
        Message = "Journal segment {Path}: record {Sequence} is damaged ({Reason}) and was skipped.")]
    public static partial void CorruptRecordSkipped(ILogger logger, string path, long sequence, string reason);

    [LoggerMessage(EventId = 4033, Level = LogLevel.Warning,
        Message = "Journal {Directory} is full ({MaxBytes} bytes, Telemetry:Journal:MaxBytes): {Refused} appends refused since the last warning; nothing from the slowest cursor, {CursorName} at {Cursor}, on can be deleted yet ({Why}). Ingest stops acknowledging until it moves on.")]
    public static partial void JournalFull(ILogger logger, string directory, long maxBytes, long refused, string cursorName, long cursor, string why);

    [LoggerMessage(EventId = 4034, Level = LogLevel.Information,
        Message = "Journal segment {Path} (sequences {First}..{Last}) deleted ({Reason}).")]
    public static partial void SegmentDeleted(ILogger logger, string path, long first, long last, string reason);

    [LoggerMessage(EventId = 4035, Level = LogLevel.Warning,
        Message = "Journal segment {Path} could not be deleted; trying again later.")]
    public static partial void SegmentDeleteFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 4036, Level = LogLevel.Critical,
        Message = "Journal {Directory} failed to write; every append fails until the process restarts and opens it again.")]
    public static partial void JournalFaulted(ILogger logger, Exception exception, string directory);

    [LoggerMessage(EventId = 4037, Level = LogLevel.Warning,
        Message = "Journal cursor file {Path} is unreadable; its consumer starts again at the oldest record.")]
    public static partial void CursorUnreadable(ILogger logger, string path);

    [LoggerMessage(EventId = 4038, Level = LogLevel.Information,
        Message = "Journal {Directory} closed at sequence {LastSequence}.")]
    public static partial void JournalClosed(ILogger logger, string directory, long lastSequence);

    [LoggerMessage(EventId = 4040, Level = LogLevel.Information,
        Message = "Shipper: journal records from sequence {Cursor} go to {Target} (requests of up to {BatchSize} lines, {InFlight} in flight).")]
    public static partial void ShipperStarted(ILogger logger, long cursor, string target, int batchSize, int inFlight);

    [LoggerMessage(EventId = 4041, Level = LogLevel.Warning,
        Message = "Shipper: write of {Lines} lines failed (attempt {Attempt}); retrying in {Delay}.")]
    public static partial void ShipperRetrying(ILogger logger, Exception exception, int lines, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 4042, Level = LogLevel.Warning,
        Message = "Shipper: the store rejected a line ({Error}); it was set aside in {Path}: {Line}")]
    public static partial void ShipperRejected(ILogger logger, string error, string path, string line);

    [LoggerMessage(EventId = 4043, Level = LogLevel.Information,
        Message = "Shipper stopped at cursor {Cursor}.")]
    public static partial void ShipperStopped(ILogger logger, long cursor);

    [LoggerMessage(EventId = 4044, Level = LogLevel.Error,
        Message = "Shipper: saving its cursor failed; it tries again after the next request.")]
    public static partial void ShipperCursorFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 4046, Level = LogLevel.Warning,
        Message = "Shipper: journal record {Sequence} passed its checksum but its detail block does not read; its unreadable part is skipped (counted in telemetry.storage.journal.corrupt, reason=detail).")]
    public static partial void DetailMalformed(ILogger logger, long sequence);

    [LoggerMessage(EventId = 4045, Level = LogLevel.Warning,
        Message = "Detail shipper: the journal holds {Bytes} bytes, over {GiveWayBytes} (3/4 of Telemetry:Journal:MaxBytes), so it ships {Behind} behind instead of Telemetry:TimeSeries:AdaptiveDetailDelay {Delay} and the journal can free space; an episode found later than that after its samples gets full resolution only from there on ({Records} records passed early so far). Raise Telemetry:Journal:MaxBytes to keep the whole window.")]
    public static partial void DetailGaveWay(ILogger logger, long bytes, long giveWayBytes, TimeSpan behind, TimeSpan delay, long records);
}
