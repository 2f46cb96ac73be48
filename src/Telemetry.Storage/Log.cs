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
}
