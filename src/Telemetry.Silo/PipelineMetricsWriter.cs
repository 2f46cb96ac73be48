using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Ingest;
using Telemetry.Storage;
using Telemetry.Storage.Journal;

namespace Telemetry.Silo;

/// <summary><c>Telemetry:PipelineMetrics</c>: the silo's own counters written into the time-series store.</summary>
public sealed class PipelineMetricsOptions
{
    public const string Section = "Telemetry:PipelineMetrics";

    /// <summary>How often a snapshot is written (0 = never). Default 10 s.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The <c>host</c> tag; empty = the machine name and the API port.</summary>
    public string Host { get; set; } = "";

    public IEnumerable<string> Validate()
    {
        if (Interval < TimeSpan.Zero || Interval > TimeSpan.FromHours(1))
            yield return $"{Section}:Interval '{Interval}' must be between 0 (off) and 01:00:00.";
    }
}

/// <summary>
/// Listens to the project's meters (and Orleans' activation gauge) and keeps totals; every
/// <see cref="PipelineMetricsOptions.Interval"/> it writes them as <see cref="PipelinePoints.Measurement"/>
/// lines through the journal, so the shipper delivers them to the time-series store like the samples.
/// </summary>
/// <remarks>
/// A measurement costs one <see cref="Interlocked"/> add on a preallocated slot; only the rare
/// instruments (rejections by reason, alert changes, latency) look at their tags.
/// </remarks>
public sealed partial class PipelineMetricsWriter : BackgroundService
{
    private static readonly Dictionary<string, string> Counters = new(StringComparer.Ordinal)
    {
        ["telemetry.ingest.received"] = "received",
        ["telemetry.ingest.decoded"] = "decoded",
        ["telemetry.ingest.failed"] = "failed",
        ["telemetry.samples.accepted"] = "samples_accepted",
        ["telemetry.samples.deduplicated"] = "samples_deduplicated",
        ["telemetry.samples.late"] = "samples_late",
        ["telemetry.storage.shipper.lines"] = "shipped_lines",
        ["telemetry.storage.points.written"] = "points_written",
        ["telemetry.storage.shipper.retries"] = "shipper_retries",
        ["telemetry.storage.shipper.rejected"] = "shipper_rejected",
        ["telemetry.storage.write.failures"] = "write_failures",
        ["telemetry.alerts.open"] = "open_episodes",
    };

    private static readonly Dictionary<string, string> Gauges = new(StringComparer.Ordinal)
    {
        ["telemetry.storage.journal.size"] = "journal_bytes",
        ["telemetry.storage.shipper.lag.records"] = "shipper_lag_records",
        ["telemetry.storage.shipper.lag.seconds"] = "shipper_lag_seconds",
        ["telemetry.vehicles.online"] = "vehicles_online",
        ["orleans-catalog-activations"] = "grain_activations",
    };

    private readonly MeterListener _listener = new();
    private readonly Dictionary<string, Slot> _slots = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StrongBox> _rejected = new(StringComparer.Ordinal);
    private readonly Latency _latency = new();
    private readonly IOptions<PipelineMetricsOptions> _options;
    private readonly IServiceProvider _services;
    private readonly TimeProvider _time;
    private readonly ILogger<PipelineMetricsWriter> _logger;
    private long _rejectedTotal;
    private long _opened;
    private long _closed;
    private long _lastShippedTicks;
    private long _lastShipperRetryTicks;

    public PipelineMetricsWriter(IOptions<PipelineMetricsOptions> options, IServiceProvider services, TimeProvider time, ILogger<PipelineMetricsWriter> logger)
    {
        _options = options;
        _services = services;
        _time = time;
        _logger = logger;
        foreach (var field in Counters.Values.Concat(Gauges.Values))
            _slots[field] = new Slot();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            var name = instrument.Name;
            if (Counters.TryGetValue(name, out var field) || Gauges.TryGetValue(name, out field))
                listener.EnableMeasurementEvents(instrument, _slots[field]);
            else if (name is "telemetry.ingest.rejected" or "telemetry.alerts.changes" or "telemetry.alerts.latency" or "telemetry.storage.shipper.requests")
                listener.EnableMeasurementEvents(instrument, name);
        };
        _listener.SetMeasurementEventCallback<long>(OnMeasurement);
        _listener.SetMeasurementEventCallback<int>((i, m, t, s) => OnMeasurement(i, m, t, s));
        _listener.SetMeasurementEventCallback<double>(OnMeasurement);
        _listener.Start();
    }

    /// <summary>When the shipper last had a request accepted by the store (null: not yet).</summary>
    public DateTime? LastShippedUtc => Ticks(ref _lastShippedTicks);

    /// <summary>When the shipper last retried after a failed write (null: never).</summary>
    public DateTime? LastShipperFailureUtc => Ticks(ref _lastShipperRetryTicks);

    /// <summary>The current totals and gauges by field of <see cref="PipelinePoints.Fields"/>, and the rejections by reason.</summary>
    public (Dictionary<string, double> Values, Dictionary<string, long> RejectedByReason) Snapshot()
    {
        foreach (var field in Gauges.Values)
            _slots[field].Reset();
        _listener.RecordObservableInstruments();
        var values = _slots.ToDictionary(s => s.Key, s => s.Value.Value, StringComparer.Ordinal);
        values["rejected"] = Interlocked.Read(ref _rejectedTotal);
        values["alerts_opened"] = Interlocked.Read(ref _opened);
        values["alerts_closed"] = Interlocked.Read(ref _closed);
        var (mean, max) = _latency.TakeInterval();
        values["alert_latency_ms_mean"] = mean;
        values["alert_latency_ms_max"] = max;
        var rejected = _rejected.ToDictionary(r => r.Key, r => Interlocked.Read(ref r.Value.Count), StringComparer.Ordinal);
        return (values, rejected);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = _options.Value;
        var journal = _services.GetService<IJournal>();
        if (options.Interval <= TimeSpan.Zero || journal is null)
            return;
        var host = string.IsNullOrEmpty(options.Host) ? DefaultHost() : options.Host;
        using var timer = new PeriodicTimer(options.Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var (values, rejected) = Snapshot();
                var lines = PipelinePoints.ToLines(host, values, rejected, _time.GetUtcNow().UtcDateTime);
                if (lines.Count == 0)
                    continue;
                try
                {
                    await journal.AppendAsync(JournalRecordType.Points, Encoding.UTF8.GetBytes(string.Join('\n', lines)), stoppingToken);
                }
                catch (JournalFullException)
                {
                    // The journal is at its cap: terminal data has priority; the next snapshot has the totals.
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (ObjectDisposedException) when (stoppingToken.IsCancellationRequested)
        {
            // The journal closed first.
        }
        catch (Exception ex)
        {
            Log.WriterStopped(_logger, ex);
        }
    }

    public override void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }

    private string DefaultHost()
    {
        var urls = _services.GetService<IConfiguration>()?["Urls"] ?? "";
        var port = Uri.TryCreate(urls.Split(';')[0], UriKind.Absolute, out var uri) ? ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : "";
        return Environment.MachineName + port;
    }

    private void OnMeasurement<T>(Instrument instrument, T measurement, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
        where T : struct, IConvertible
    {
        if (state is Slot slot)
        {
            if (typeof(T) == typeof(long))
                slot.Add((long)(object)measurement);
            else
                slot.Add(measurement.ToDouble(null));
            return;
        }
        switch (state as string)
        {
            case "telemetry.ingest.rejected":
                Interlocked.Increment(ref _rejectedTotal);
                var reason = Tag(tags, "reason") ?? "unknown";
                Interlocked.Add(ref _rejected.GetOrAdd(reason, static _ => new StrongBox()).Count, (long)measurement.ToDouble(null));
                break;
            case "telemetry.alerts.changes":
                var kind = Tag(tags, "kind");
                if (kind == nameof(AlertChangeKind.Opened))
                    Interlocked.Increment(ref _opened);
                else if (kind == nameof(AlertChangeKind.Closed))
                    Interlocked.Increment(ref _closed);
                break;
            case "telemetry.alerts.latency":
                _latency.Record(measurement.ToDouble(null));
                break;
            case "telemetry.storage.shipper.requests":
                Interlocked.Exchange(ref _lastShippedTicks, _time.GetUtcNow().UtcTicks);
                break;
        }
        if (instrument.Name == "telemetry.storage.shipper.retries")
            Interlocked.Exchange(ref _lastShipperRetryTicks, _time.GetUtcNow().UtcTicks);
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
                return tag.Value?.ToString();
        }
        return null;
    }

    private static DateTime? Ticks(ref long ticks)
    {
        var value = Interlocked.Read(ref ticks);
        return value == 0 ? null : new DateTime(value, DateTimeKind.Utc);
    }

    /// <summary>A counter's total or a gauge's sum over its series: whole numbers by one atomic add, doubles kept as bits.</summary>
    private sealed class Slot
    {
        private long _whole;
        private long _bits;

        public double Value => Interlocked.Read(ref _whole) + BitConverter.Int64BitsToDouble(Interlocked.Read(ref _bits));

        public void Reset()
        {
            Interlocked.Exchange(ref _whole, 0);
            Interlocked.Exchange(ref _bits, 0);
        }

        public void Add(long value) => Interlocked.Add(ref _whole, value);

        public void Add(double value)
        {
            long seen, next;
            do
            {
                seen = Interlocked.Read(ref _bits);
                next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
            }
            while (Interlocked.CompareExchange(ref _bits, next, seen) != seen);
        }
    }

    private sealed class StrongBox
    {
        public long Count;
    }

    private sealed class Latency
    {
        private readonly Lock _lock = new();
        private double _sum;
        private double _max;
        private long _count;

        public void Record(double milliseconds)
        {
            lock (_lock)
            {
                _sum += milliseconds;
                _count++;
                _max = Math.Max(_max, milliseconds);
            }
        }

        /// <summary>Mean and max since the previous call; NaN when nothing was recorded (the field is then left out).</summary>
        public (double Mean, double Max) TakeInterval()
        {
            lock (_lock)
            {
                var result = _count == 0 ? (double.NaN, double.NaN) : (_sum / _count, _max);
                _sum = 0;
                _max = 0;
                _count = 0;
                return result;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1501, Level = LogLevel.Warning, Message = "The pipeline metrics writer stopped; telemetry_pipeline is no longer written")]
        public static partial void WriterStopped(ILogger logger, Exception exception);
    }
}
