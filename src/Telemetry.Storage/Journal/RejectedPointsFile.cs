using System.Text.Json;

namespace Telemetry.Storage.Journal;

/// <summary>
/// Lines the time-series store rejected, kept for a person to look at: JSON Lines
/// (<c>{"timeUtc":...,"line":...,"error":...}</c>) in <c>{journal directory}/rejected-points.jsonl</c>.
/// When the file would pass its cap it is renamed to <c>rejected-points.jsonl.1</c> (replacing the previous
/// one) and a new file begun, so at most about twice the cap is kept.
/// </summary>
internal sealed class RejectedPointsFile(string path, long maxBytes, TimeProvider time)
{
    public const string FileName = "rejected-points.jsonl";

    /// <summary>The default cap of one file.</summary>
    public const long DefaultMaxBytes = 16L * 1024 * 1024;

    private readonly Lock _gate = new();

    public string Path { get; } = path;

    /// <summary>Appends one rejected line with the store's message and flushes it to the disk.</summary>
    public void Write(string line, string error)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("timeUtc", time.GetUtcNow().UtcDateTime);
            json.WriteString("line", line);
            json.WriteString("error", error);
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        lock (_gate)
        {
            var existing = new FileInfo(Path);
            if (existing.Exists && existing.Length > 0 && existing.Length + buffer.Length > maxBytes)
                File.Move(Path, Path + ".1", overwrite: true);
            using var file = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            buffer.Position = 0;
            buffer.CopyTo(file);
            file.Flush(flushToDisk: true);
        }
    }
}
