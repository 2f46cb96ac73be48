using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Telemetry.Ingest;

/// <summary>A rejected message with everything needed to look at it again.</summary>
public sealed record class DeadLetter(
    DateTime ReceivedUtc,
    string Topic,
    string Reason,
    string Message,
    byte[] Payload);

/// <summary>Keeps rejected messages.</summary>
public interface IDeadLetterSink
{
    ValueTask WriteAsync(DeadLetter letter, CancellationToken cancellationToken = default);
}

/// <summary>Where dead letters go.</summary>
public sealed class DeadLetterOptions
{
    public const string Section = "Telemetry:DeadLetters";

    /// <summary>JSON Lines file of rejected messages (payload as base64).</summary>
    public string FilePath { get; set; } = "data/dead-letters.jsonl";

    /// <summary>
    /// When the file reaches this size it is renamed to <c>.1</c> (the previous <c>.1</c> is deleted)
    /// and a new one started, so dead letters take at most twice this much disk.
    /// </summary>
    public long MaxFileBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Returns one sentence per invalid setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(FilePath))
        {
            yield return $"{Section}:FilePath must name a file.";
        }
        if (MaxFileBytes < 64 * 1024)
        {
            yield return $"{Section}:MaxFileBytes {MaxFileBytes} must be at least 65536.";
        }
    }
}

/// <summary>
/// Appends dead letters to a JSON Lines file; one line per message, flushed per write. The file is
/// rotated at <see cref="DeadLetterOptions.MaxFileBytes"/> (one older file is kept), counted in
/// <c>telemetry.ingest.dead_letters.rotations</c>.
/// </summary>
public sealed partial class FileDeadLetterSink : IDeadLetterSink, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly long _maxBytes;
    private readonly IngestMetrics _metrics;
    private readonly ILogger _logger;
    private FileStream _stream;

    public FileDeadLetterSink(IOptions<DeadLetterOptions> options, IngestMetrics metrics, ILogger<FileDeadLetterSink> logger)
    {
        var path = System.IO.Path.GetFullPath(options.Value.FilePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _maxBytes = options.Value.MaxFileBytes;
        _metrics = metrics;
        _logger = logger;
        Path = path;
        Log.Writing(logger, path);
    }

    /// <summary>Absolute path of the file.</summary>
    public string Path { get; }

    public async ValueTask WriteAsync(DeadLetter letter, CancellationToken cancellationToken = default)
    {
        var line = JsonSerializer.SerializeToUtf8Bytes(letter, Json);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_stream.Length + line.Length + 1 > _maxBytes && _stream.Length > 0)
            {
                await _stream.DisposeAsync();
                File.Move(Path, Path + ".1", overwrite: true);
                _stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
                _metrics.DeadLettersRotated();
                Log.Rotated(_logger, Path, _maxBytes);
            }
            await _stream.WriteAsync(line, cancellationToken);
            _stream.WriteByte((byte)'\n');
            await _stream.FlushAsync(cancellationToken);
            _metrics.DeadLettered(line.Length + 1);
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _gate.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Rejected messages are kept in {Path}")]
        public static partial void Writing(ILogger logger, string path);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Warning, Message = "Dead-letter file {Path} reached {MaxBytes} bytes: the older half is now {Path}.1, the one before it is gone")]
        public static partial void Rotated(ILogger logger, string path, long maxBytes);
    }
}
