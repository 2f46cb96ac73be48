using System.Globalization;

namespace Telemetry.Storage.Journal;

/// <summary>The local durable log in front of the time-series store (<c>Telemetry:Journal</c>).</summary>
public sealed class JournalOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Telemetry:Journal";

    /// <summary>Directory of the segment files and cursors, relative to the working directory.</summary>
    public string Directory { get; set; } = "data/journal";

    /// <summary>A segment file is closed and a new one begun when the next record would take it past this size.</summary>
    public long SegmentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Disk cap of the whole journal; at the cap, appends are refused until shipped segments can be deleted.</summary>
    public long MaxBytes { get; set; } = 10L * 1024 * 1024 * 1024;

    /// <summary>Flush every group commit to the disk (fsync) before its appends complete; off: to the operating system only.</summary>
    public bool Fsync { get; set; } = true;

    /// <summary>How long shipped segments are kept as the raw-frame archive before they are deleted.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Most bytes written by one group commit (one write and one fsync).</summary>
    public int MaxBatchBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>What is wrong with these settings, one sentence per problem that names the setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Directory))
            errors.Add($"{Section}:Directory must not be empty.");
        else if (Directory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
            errors.Add($"{Section}:Directory '{Directory}' contains characters that are not allowed in a path.");
        if (SegmentBytes is < 4096 or > 4L * 1024 * 1024 * 1024)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:SegmentBytes {SegmentBytes} is outside 4096..4294967296."));
        else if (MaxBytes < 2 * SegmentBytes)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:MaxBytes {MaxBytes} is less than twice {Section}:SegmentBytes ({SegmentBytes})."));
        if (Retention < TimeSpan.Zero)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:Retention {Retention} is negative."));
        if (MaxBatchBytes is < 4096 or > 256 * 1024 * 1024)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:MaxBatchBytes {MaxBatchBytes} is outside 4096..268435456."));
        return errors;
    }
}
