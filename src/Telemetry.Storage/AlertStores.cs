using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;

namespace Telemetry.Storage;

/// <summary>Alert episodes by id, where the highest revision wins; the query logic of both stores.</summary>
internal sealed class AlertIndex
{
    private readonly Dictionary<string, Alert> _byId = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    public int Count
    {
        get
        {
            lock (_gate)
                return _byId.Count;
        }
    }

    /// <summary>True when <paramref name="alert"/> would replace what is stored (same or higher revision, or new).</summary>
    public bool Accepts(Alert alert)
    {
        lock (_gate)
            return !_byId.TryGetValue(alert.Id, out var existing) || existing.Revision <= alert.Revision;
    }

    /// <summary>Stores <paramref name="alert"/> unless a higher revision is stored; true when stored.</summary>
    public bool Upsert(Alert alert)
    {
        lock (_gate)
        {
            if (_byId.TryGetValue(alert.Id, out var existing) && existing.Revision > alert.Revision)
                return false;
            _byId[alert.Id] = alert;
            return true;
        }
    }

    public Alert? Get(string id)
    {
        lock (_gate)
            return _byId.GetValueOrDefault(id);
    }

    public IReadOnlyList<Alert> Query(AlertQuery query)
    {
        Alert[] all;
        lock (_gate)
            all = [.. _byId.Values];
        if (query.Limit <= 0)
            return [];
        return
        [
            .. all.Where(a => Matches(a, query))
                .OrderByDescending(a => a.StartUtc)
                .ThenBy(a => a.Id, StringComparer.Ordinal)
                .Take(query.Limit),
        ];
    }

    private static bool Matches(Alert alert, AlertQuery query) =>
        (query.Vin is null || string.Equals(alert.Vin, query.Vin, StringComparison.Ordinal)) &&
        (query.RuleId is null || AlertQuery.MatchesRule(alert.RuleId, query.RuleId)) &&
        (query.Status is null || alert.Status == query.Status) &&
        (query.Fleets is null || (alert.Fleet is not null && query.Fleets.Contains(alert.Fleet))) &&
        (query.SinceUtc is null || alert.StartUtc >= query.SinceUtc.Value);
}

/// <summary>
/// Alert episodes kept in memory only (lost at stop). Upserts follow the revision rule of
/// <see cref="IAlertStore"/>; queries filter by VIN, rule, status, fleets and start time (at or after
/// <see cref="AlertQuery.SinceUtc"/>), newest start first, at most <see cref="AlertQuery.Limit"/>.
/// </summary>
public sealed class InMemoryAlertStore : IAlertStore
{
    private readonly AlertIndex _index = new();

    /// <inheritdoc />
    public ValueTask UpsertAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        _index.Upsert(alert);
        return default;
    }

    /// <inheritdoc />
    public ValueTask<Alert?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ValueTask.FromResult(_index.Get(id));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Alert>> QueryAsync(AlertQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ValueTask.FromResult(_index.Query(query));
    }
}

/// <summary>
/// The alert store of local mode: an append-only JSON Lines file of alert records
/// (<see cref="TelemetryJson"/>) and an in-memory index by id in which the highest revision wins.
/// The file is read back at construction, so episodes survive a restart; an unreadable line (such as
/// one cut short by a crash) is logged and skipped. An upsert completes after its record was flushed
/// to the operating system. Queries behave as those of <see cref="InMemoryAlertStore"/>.
/// </summary>
public sealed class FileAlertStore : IAlertStore, IDisposable
{
    private readonly AlertIndex _index = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly FileStream _stream;

    /// <summary>Opens (or creates) the file named by <see cref="AlertStoreOptions.FilePath"/> and loads it.</summary>
    public FileAlertStore(IOptions<AlertStoreOptions> options, ILogger<FileAlertStore> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        FilePath = Path.GetFullPath(options.Value.FilePath);
        var directory = Path.GetDirectoryName(FilePath);
        if (!string.IsNullOrEmpty(directory))
            Directory.CreateDirectory(directory);
        var lines = Load(logger);
        _stream = new FileStream(FilePath, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.Asynchronous);
        EndPartialLine();
        Log.AlertStoreLoaded(logger, FilePath, _index.Count, lines);
    }

    /// <summary>Absolute path of the JSON Lines file.</summary>
    public string FilePath { get; }

    /// <inheritdoc />
    public async ValueTask UpsertAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        if (alert.Evidence.IsDefault)
            alert = alert with { Evidence = [] };
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            // Only writers change the index and they take turns: the check holds until the write.
            if (!_index.Accepts(alert))
                return;
            var record = JsonSerializer.SerializeToUtf8Bytes(alert, TelemetryJson.Options);
            await _stream.WriteAsync(record, CancellationToken.None);
            await _stream.WriteAsync("\n"u8.ToArray(), CancellationToken.None);
            await _stream.FlushAsync(CancellationToken.None);
            _index.Upsert(alert);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <inheritdoc />
    public ValueTask<Alert?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return ValueTask.FromResult(_index.Get(id));
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<Alert>> QueryAsync(AlertQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return ValueTask.FromResult(_index.Query(query));
    }

    public void Dispose()
    {
        _writeLock.Wait();
        try
        {
            _stream.Dispose();
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private int Load(ILogger logger)
    {
        if (!File.Exists(FilePath))
            return 0;
        var number = 0;
        foreach (var line in File.ReadLines(FilePath, Encoding.UTF8))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                var alert = JsonSerializer.Deserialize<Alert>(line, TelemetryJson.Options)
                    ?? throw new JsonException("The record is null.");
                _index.Upsert(alert);
            }
            catch (JsonException ex)
            {
                Log.AlertRecordSkipped(logger, ex, FilePath, number);
            }
        }

        return number;
    }

    /// <summary>After a crash in the middle of a record, starts the next record on a new line.</summary>
    private void EndPartialLine()
    {
        if (_stream.Length == 0)
            return;
        using var reader = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        reader.Seek(-1, SeekOrigin.End);
        if (reader.ReadByte() != '\n')
        {
            _stream.WriteByte((byte)'\n');
            _stream.Flush();
        }
    }
}
