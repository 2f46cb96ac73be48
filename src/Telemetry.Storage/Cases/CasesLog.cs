using Microsoft.Extensions.Logging;

namespace Telemetry.Storage;

/// <summary>Log messages of the alert database (event ids 4070-4079).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 4070, Level = LogLevel.Information,
        Message = "Alert database: {Provider} {Where} (schema migrated).")]
    public static partial void AlertDatabaseReady(ILogger logger, string provider, string where);

    [LoggerMessage(EventId = 4071, Level = LogLevel.Information,
        Message = "Imported {Records} alert records from {Path} into the alert database ({Skipped} unreadable lines skipped).")]
    public static partial void AlertFileImported(ILogger logger, int records, string path, int skipped);
}
