using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Storage.Journal;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Journal;

/// <summary><see cref="JournalShipper"/> against real servers: VictoriaMetrics, and a small HTTP server that rejects a marked line.</summary>
[Trait("Category", "Integration")]
public sealed class JournalShipperTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private JournalOptions JournalOptions => new() { Directory = _dir.File("journal"), SegmentBytes = 64 * 1024, Fsync = true };

    private FileJournal OpenJournal() => new(JournalOptions, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);

    private JournalShipper CreateShipper(FileJournal journal, Uri? url, StorageMetrics? metrics = null, int batchSize = 40, string compression = "fastest",
        TimeSpan? flushInterval = null) => new(
        journal,
        Options.Create(new TimeSeriesOptions
        {
            InfluxUrl = url?.ToString() ?? "",
            FileDirectory = _dir.File("timeseries"),
            BatchSize = batchSize,
            FlushInterval = flushInterval ?? TimeSpan.FromMilliseconds(20),
            RetryDelay = TimeSpan.FromMilliseconds(50),
            RequestTimeout = TimeSpan.FromSeconds(5),
            MaxConcurrentWrites = 4,
            Compression = compression,
        }),
        Options.Create(JournalOptions),
        NullLoggerFactory.Instance,
        metrics ?? new StorageMetrics());

    /// <summary>Frames of 10 samples for each vehicle, with an archived raw frame after each, as ingest would append them.</summary>
    private static async Task<int> JournalFleetAsync(FileJournal journal, IEnumerable<string> vins, int frames, DateTime start, int seed = 0)
    {
        var sink = new JournalTimeSeriesSink(journal);
        var values = 0;
        foreach (var vin in vins)
        {
            for (var f = 0; f < frames; f++)
            {
                var samples = Enumerable.Range(0, 10).Select(i => TestData.FullSample(start.AddSeconds(f * 10 + i), seed + i)).ToArray();
                await sink.WriteSamplesAsync(vin, samples, Ct);
                await journal.AppendAsync(JournalRecordType.Frame, Encoding.ASCII.GetBytes($"raw frame {vin} {f}"), Ct);
                values += samples.Sum(s => SampleFields.All.Count(field => Sample.Has(field.Get(s))) + 2);
            }
        }

        return values;
    }

    private static Task CaughtUpAsync(JournalShipper shipper, FileJournal journal) =>
        Eventually.WaitAsync(() => shipper.Cursor == journal.LastSequence + 1, Patience, "the shipper's cursor passed the last record", Ct);

    private static string Match(IEnumerable<string> vins) => $"{{__name__=~\"hdv_.*\",vin=~\"{string.Join('|', vins)}\"}}";

    [Theory]
    [InlineData(40, "fastest")] // whole 10-line records per request
    [InlineData(7, "fastest")] // records split across requests
    [InlineData(40, "optimal")]
    [InlineData(40, "none")]
    public async Task Shipper_WritesEveryLineExactlyOnce_AndResumesFromItsCursorAfterRestart(int batchSize, string compression)
    {
        await using var server = await VictoriaMetricsServer.StartAsync(deduplicate: false, Ct);
        var vins = Enumerable.Range(0, 3).Select(_ => TestData.NewVin("LJRNL")).ToArray();
        var start = TestData.RecentSecond(30);
        await using var journal = OpenJournal();

        var firstValues = await JournalFleetAsync(journal, vins, frames: 12, start);
        using (var shipper = CreateShipper(journal, server.Url, batchSize: batchSize, compression: compression))
        {
            await shipper.StartAsync(Ct);
            await CaughtUpAsync(shipper, journal);
            await shipper.StopAsync(Ct);
        }

        Assert.Equal(journal.LastSequence + 1, journal.ReadCursor(JournalShipper.CursorName));
        var first = await server.WaitForSampleCountAsync(Match(vins), firstValues, Patience, Ct);
        Assert.Equal(firstValues, VictoriaMetricsServer.CountSamples(first));

        // More records, then a new shipper on the same journal: it starts at its cursor and sends only the new ones.
        var moreValues = await JournalFleetAsync(journal, vins, frames: 5, start.AddMinutes(5), seed: 7);
        using (var shipper = CreateShipper(journal, server.Url, batchSize: batchSize, compression: compression))
        {
            await shipper.StartAsync(Ct);
            await CaughtUpAsync(shipper, journal);
            await shipper.StopAsync(Ct);
        }

        var all = await server.WaitForSampleCountAsync(Match(vins), firstValues + moreValues, Patience, Ct);
        Assert.Equal(firstValues + moreValues, VictoriaMetricsServer.CountSamples(all)); // no duplicates: nothing sent twice
        Assert.All(all, series => Assert.Equal(series.TimestampsMs.Count, series.TimestampsMs.Distinct().Count()));
    }

    [Fact]
    public async Task Shipper_ServerStoppedForAWhile_RetriesAndCatchesUpWithNothingLost()
    {
        await using var server = await VictoriaMetricsServer.StartAsync(Ct);
        var vins = Enumerable.Range(0, 2).Select(_ => TestData.NewVin("LJRDN")).ToArray();
        var start = TestData.RecentSecond(30);
        var metrics = new StorageMetrics();
        using var retries = new CounterProbe(metrics, "telemetry.storage.shipper.retries");
        await using var journal = OpenJournal();
        using var shipper = CreateShipper(journal, server.Url, metrics);
        await shipper.StartAsync(Ct);

        var values = await JournalFleetAsync(journal, vins, frames: 4, start);
        await CaughtUpAsync(shipper, journal);

        await server.StopAsync();
        values += await JournalFleetAsync(journal, vins, frames: 6, start.AddMinutes(2));
        await Eventually.WaitAsync(() => retries.Total >= 2, Patience, "the shipper retried against the stopped server", Ct);
        Assert.True(shipper.Cursor <= journal.LastSequence, "nothing was shipped while the server was down");

        await server.RestartAsync(Ct);
        await CaughtUpAsync(shipper, journal);
        await shipper.StopAsync(Ct);

        var stored = await server.WaitForSampleCountAsync(Match(vins), values, Patience, Ct);
        Assert.Equal(values, VictoriaMetricsServer.CountSamples(stored));
    }

    [Fact]
    public async Task Shipper_LineTheServerRejects_IsSetAsideAndTheRestOfTheRequestIsStored()
    {
        await using var server = new RejectingWriteServer("REJECTME");
        var metrics = new StorageMetrics();
        using var rejected = new CounterProbe(metrics, "telemetry.storage.shipper.rejected");
        await using var journal = OpenJournal();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var expected = new List<string>();
        for (var r = 0; r < 5; r++)
        {
            var lines = Enumerable.Range(0, 20).Select(i => string.Create(CultureInfo.InvariantCulture, $"hdv,vin=GOOD{r} speedKmh={i} {now - i}")).ToList();
            expected.AddRange(lines);
            if (r == 2)
                lines.Insert(7, $"hdv,vin=REJECTME speedKmh=oops {now}");
            await journal.AppendAsync(JournalRecordType.Points, Encoding.UTF8.GetBytes(string.Join('\n', lines)), Ct);
        }

        using var shipper = CreateShipper(journal, server.Url, metrics, batchSize: 100);
        await shipper.StartAsync(Ct);
        await CaughtUpAsync(shipper, journal);
        await shipper.StopAsync(Ct);

        Assert.Equal(expected.Order(StringComparer.Ordinal), server.Accepted.Order(StringComparer.Ordinal)); // every other line, once
        Assert.True(server.Rejections > 1, "the request was split to find the bad line");
        var entry = Assert.Single(File.ReadAllLines(shipper.RejectedPointsPath));
        using var json = JsonDocument.Parse(entry);
        Assert.Equal($"hdv,vin=REJECTME speedKmh=oops {now}", json.RootElement.GetProperty("line").GetString());
        Assert.Contains("unable to parse", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, rejected.Total);
        Assert.Equal(Path.Combine(_dir.File("journal"), "rejected-points.jsonl"), shipper.RejectedPointsPath);
    }

    [Fact]
    public void InfluxWriter_SendsTheJournalBytesThroughTheClientsWriteService()
    {
        using var writer = new InfluxLineBatchWriter(new TimeSeriesOptions { InfluxUrl = "http://127.0.0.1:8428/" }, gzip: true);

        // False would mean the InfluxDB.Client version changed: requests then go through WriteRecordAsync (slower, same data).
        Assert.True(writer.WritesBytes);
    }

    [Fact]
    public async Task Shipper_NoInfluxUrl_WritesTheDayFilesOfTheFileStore()
    {
        await using var journal = OpenJournal();
        var vin = TestData.NewVin("LJRFL");
        var day = new DateTime(2026, 3, 1, 23, 59, 50, DateTimeKind.Utc);
        var samples = Enumerable.Range(0, 20).Select(i => TestData.FullSample(day.AddSeconds(i))).ToArray();
        await new JournalTimeSeriesSink(journal).WriteSamplesAsync(vin, samples, Ct);

        using var shipper = CreateShipper(journal, url: null);
        await shipper.StartAsync(Ct);
        await CaughtUpAsync(shipper, journal);
        await shipper.StopAsync(Ct);

        var lines = SamplePoints.ToLines(vin, samples);
        Assert.Equal(lines[..10], TempDirectory.ReadLines(_dir.File("timeseries/hdv-2026-03-01.lp")));
        Assert.Equal(lines[10..], TempDirectory.ReadLines(_dir.File("timeseries/hdv-2026-03-02.lp")));
    }

    [Fact]
    public async Task Shipper_SteadyTrickleOfRecords_IsSentOnceTheFirstHasWaitedTheFlushInterval()
    {
        // A small fleet: a record every 10-20 ms (the delay and a group commit), far below a request's worth of lines.
        // Each record comes much sooner than the flush interval after the one before, yet what is gathered must not
        // wait for BatchSize lines.
        await using var journal = OpenJournal();
        var sink = new JournalTimeSeriesSink(journal);
        var vin = TestData.NewVin("LJRTR");
        var start = TestData.RecentSecond(600);
        using var shipper = CreateShipper(journal, url: null, batchSize: 100_000, flushInterval: TimeSpan.FromMilliseconds(300));
        await shipper.StartAsync(Ct);
        var first = journal.LastSequence + 1;
        var appended = 0;
        var shippedWhileComing = false;
        while (appended < 3_000 && !shippedWhileComing)
        {
            await sink.WriteSamplesAsync(vin, [TestData.FullSample(start.AddSeconds(appended++))], Ct);
            await Task.Delay(10, Ct);
            shippedWhileComing = shipper.Cursor > first;
        }
        await shipper.StopAsync(Ct);

        Assert.True(shippedWhileComing, $"nothing was shipped while {appended} records came, one every 10-20 ms");
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>Sums the measurements of one counter of a <see cref="StorageMetrics"/>.</summary>
    private sealed class CounterProbe : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public CounterProbe(StorageMetrics metrics, string instrument)
        {
            _listener.InstrumentPublished = (i, listener) =>
            {
                if (ReferenceEquals(i.Meter, metrics.Meter) && i.Name == instrument)
                    listener.EnableMeasurementEvents(i);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>
    /// A real HTTP server with the InfluxDB v2 write endpoint that answers 400 to any request holding a line
    /// with <c>marker</c> (as InfluxDB does for a line it cannot parse) and stores the lines of every other request.
    /// VictoriaMetrics accepts such lines with 204 and only logs them, so it cannot show this behaviour.
    /// </summary>
    private sealed class RejectingWriteServer : IAsyncDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly string _marker;
        private readonly Task _loop;
        private int _rejections;

        public RejectingWriteServer(string marker)
        {
            _marker = marker;
            for (var attempt = 0; ; attempt++)
            {
                var port = FreePort.Next();
                Url = new Uri($"http://127.0.0.1:{port}/");
                _listener.Prefixes.Clear();
                _listener.Prefixes.Add(Url.ToString());
                try
                {
                    _listener.Start();
                    break;
                }
                catch (HttpListenerException) when (attempt < 5)
                {
                }
            }

            _loop = Task.Run(ServeAsync);
        }

        public Uri Url { get; private set; }

        public ConcurrentQueue<string> Accepted { get; } = new();

        public int Rejections => Volatile.Read(ref _rejections);

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                using var response = context.Response;
                Stream body = context.Request.InputStream;
                if (string.Equals(context.Request.Headers["Content-Encoding"], "gzip", StringComparison.OrdinalIgnoreCase))
                    body = new GZipStream(body, CompressionMode.Decompress);
                string text;
                using (var reader = new StreamReader(body, Encoding.UTF8))
                    text = await reader.ReadToEndAsync();
                var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (lines.Any(l => l.Contains(_marker, StringComparison.Ordinal)))
                {
                    Interlocked.Increment(ref _rejections);
                    response.StatusCode = 400;
                    response.ContentType = "application/json";
                    var error = Encoding.UTF8.GetBytes("{\"code\":\"invalid\",\"message\":\"unable to parse 'speedKmh=oops': invalid number\"}");
                    await response.OutputStream.WriteAsync(error);
                }
                else
                {
                    foreach (var line in lines)
                        Accepted.Enqueue(line);
                    response.StatusCode = 204;
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Close();
            await _loop;
        }
    }
}
