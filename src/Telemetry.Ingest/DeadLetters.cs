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

    /// <summary>Returns one sentence per invalid setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(FilePath))
        {
            yield return $"{Section}:FilePath must name a file.";
        }
    }
}

/// <summary>Appends dead letters to a JSON Lines file; one line per message, flushed per write.</summary>
public sealed partial class FileDeadLetterSink : IDeadLetterSink, IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly FileStream _stream;

    public FileDeadLetterSink(IOptions<DeadLetterOptions> options, ILogger<FileDeadLetterSink> logger)
    {
        var path = System.IO.Path.GetFullPath(options.Value.FilePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
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
            await _stream.WriteAsync(line, cancellationToken);
            _stream.WriteByte((byte)'\n');
            await _stream.FlushAsync(cancellationToken);
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
    }
}
