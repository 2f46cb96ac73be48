using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;

namespace Telemetry.Storage;

/// <summary>
/// The time-series store of a machine without InfluxDB: appends the same line protocol that
/// <see cref="InfluxTimeSeriesSink"/> sends to <c>{FileDirectory}/hdv-{yyyy-MM-dd}.lp</c>, one file
/// per UTC day of the sample (alerts: of the episode start). The task of a write completes after
/// its lines were flushed to the operating system, so they survive a crash of the process.
/// Thread-safe; lines of one call are contiguous.
/// </summary>
public sealed class LineProtocolFileSink : ITimeSeriesSink, IDisposable
{
    internal const string SinkName = "file";

    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly StorageMetrics _metrics;
    private DateOnly _currentDay;
    private FileStream? _current;
    private bool _disposed;

    /// <summary>Creates the directory if needed and logs where the files are.</summary>
    public LineProtocolFileSink(IOptions<TimeSeriesOptions> options, ILogger<LineProtocolFileSink> logger, StorageMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _metrics = metrics;
        Directory = Path.GetFullPath(options.Value.FileDirectory);
        System.IO.Directory.CreateDirectory(Directory);
        Log.FileSinkStarted(logger, Directory);
    }

    /// <summary>Absolute path of the directory holding the files.</summary>
    public string Directory { get; }

    /// <summary>The file that holds points of <paramref name="day"/> (UTC).</summary>
    public string FileFor(DateOnly day) =>
        Path.Combine(Directory, string.Create(CultureInfo.InvariantCulture, $"hdv-{day:yyyy-MM-dd}.lp"));

    /// <inheritdoc />
    public async ValueTask WriteSamplesAsync(SeriesKey series, IReadOnlyList<Sample> samples, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(series.Vin);
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0)
            return;
        var lines = SamplePoints.ToLines(series, samples);
        var byDay = new List<(DateOnly Day, StringBuilder Text)>(1);
        for (var i = 0; i < samples.Count; i++)
        {
            var day = UtcDay(samples[i].TimeUtc);
            var index = byDay.FindIndex(d => d.Day == day);
            if (index < 0)
            {
                byDay.Add((day, new StringBuilder(lines.Length * 420)));
                index = byDay.Count - 1;
            }

            byDay[index].Text.Append(lines[i]).Append('\n');
        }

        await AppendAsync(byDay, lines.Length, cancellationToken);
    }

    /// <summary>
    /// Appends ready lines to the file of the UTC day of their timestamp (seconds, the last token of a
    /// line; a line without one goes to today's file), without counting them as written points.
    /// </summary>
    internal Task AppendLinesAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken)
    {
        var byDay = new List<(DateOnly Day, StringBuilder Text)>(1);
        foreach (var line in lines)
        {
            var day = DayOfLine(line);
            var index = byDay.FindIndex(d => d.Day == day);
            if (index < 0)
            {
                byDay.Add((day, new StringBuilder(lines.Count * 420)));
                index = byDay.Count - 1;
            }

            byDay[index].Text.Append(line).Append('\n');
        }

        return AppendAsync(byDay, lines.Count, cancellationToken, countWritten: false);
    }

    /// <inheritdoc />
    public ValueTask WriteAlertAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        var text = new StringBuilder(SamplePoints.ToLine(alert)).Append('\n');
        return new ValueTask(AppendAsync([(UtcDay(alert.StartUtc), text)], 1, cancellationToken));
    }

    public void Dispose()
    {
        _lock.Wait();
        try
        {
            _disposed = true;
            _current?.Dispose();
            _current = null;
        }
        finally
        {
            _lock.Release();
        }
    }

    private async Task AppendAsync(List<(DateOnly Day, StringBuilder Text)> byDay, int points, CancellationToken cancellationToken, bool countWritten = true)
    {
        var started = Stopwatch.GetTimestamp();
        await _lock.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // Once writing starts it finishes: a half-written call would be worse than a late one.
            foreach (var (day, text) in byDay)
            {
                var bytes = Utf8.GetBytes(text.ToString());
                if (day == _currentDay && _current is not null)
                {
                    await _current.WriteAsync(bytes, CancellationToken.None);
                    await _current.FlushAsync(CancellationToken.None);
                }
                else if (_current is null || day > _currentDay)
                {
                    // The newest day becomes the file kept open; older days (re-issued data) are opened per write.
                    if (_current is not null)
                        await _current.DisposeAsync();
                    _current = null;
                    _current = Open(day);
                    _currentDay = day;
                    await _current.WriteAsync(bytes, CancellationToken.None);
                    await _current.FlushAsync(CancellationToken.None);
                }
                else
                {
                    await using var older = Open(day);
                    await older.WriteAsync(bytes, CancellationToken.None);
                    await older.FlushAsync(CancellationToken.None);
                }
            }
        }
        finally
        {
            _lock.Release();
        }

        if (countWritten)
            _metrics.Written(SinkName, points, Stopwatch.GetElapsedTime(started));
    }

    private FileStream Open(DateOnly day) =>
        new(FileFor(day), FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 64 * 1024, FileOptions.Asynchronous);

    private static DateOnly DayOfLine(string line)
    {
        var space = line.LastIndexOf(' ');
        if (space >= 0 && long.TryParse(line.AsSpan(space + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds)
            && seconds is > -62135596800 and < 253402300800)
            return DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime);
        return DateOnly.FromDateTime(DateTime.UtcNow);
    }

    private static DateOnly UtcDay(DateTime time)
    {
        var utc = time.Kind switch
        {
            DateTimeKind.Local => time.ToUniversalTime(),
            DateTimeKind.Unspecified => DateTime.SpecifyKind(time, DateTimeKind.Utc),
            _ => time,
        };
        return DateOnly.FromDateTime(utc);
    }
}

/// <summary>The shipper's target when no InfluxDB is configured: the day files of <see cref="LineProtocolFileSink"/>.</summary>
internal sealed class LineProtocolFileBatchWriter(LineProtocolFileSink files) : ILineBatchWriter
{
    public Task WriteAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken) =>
        files.AppendLinesAsync(lines, cancellationToken);

    public void Dispose() => files.Dispose();
}
