using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Telemetry.Abstractions;
using Telemetry.Storage.Journal;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Journal;

/// <summary>The <c>adaptive</c> storage policy end to end: journal sink, main and detail shipper, real VictoriaMetrics.</summary>
[Trait("Category", "Integration")]
public sealed class AdaptivePolicyTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dir = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static TimeSeriesOptions Adaptive(Uri url) => new()
    {
        InfluxUrl = url.ToString(),
        Policy = "adaptive",
        AdaptiveWindow = TimeSpan.FromMinutes(2),
        AdaptiveDetailDelay = TimeSpan.FromSeconds(1),
        BatchSize = 500,
        FlushInterval = TimeSpan.FromMilliseconds(20),
        RetryDelay = TimeSpan.FromMilliseconds(50),
    };

    private JournalShipper Shipper(FileJournal journal, TimeSeriesOptions options, AdaptiveShipping adaptive, bool detail, long giveWayBytes = long.MaxValue) => new(
        journal, options, ShipperTarget.Influx(options) with { Sink = detail ? "influxdb-detail" : "influxdb" },
        _dir.File(detail ? "rejected-detail.jsonl" : "rejected.jsonl"), RejectedPointsFile.DefaultMaxBytes,
        NullLogger.Instance, new StorageMetrics(), TimeProvider.System, adaptive, detail, giveWayBytes);

    /// <summary>Waits until both shippers passed the journal's last record, then stops them.</summary>
    private static async Task ShipAllAsync(FileJournal journal, JournalShipper main, JournalShipper detail)
    {
        await Eventually.WaitAsync(() => main.Cursor == journal.LastSequence + 1 && detail.Cursor == journal.LastSequence + 1,
            Patience, "both shippers passed the last record", Ct);
        await main.StopAsync(Ct);
        await detail.StopAsync(Ct);
    }

    /// <summary>Second <paramref name="s"/> of the run: field values vary within each minute, so a mean is checkable.</summary>
    private static Sample At(DateTime start, int s) => TestData.FullSample(start.AddSeconds(s), seed: s % 60);

    [Fact]
    public async Task Adaptive_CoreFieldsEverySecond_OthersAsMinuteAggregates_AndInFullOnlyAroundTheEpisode()
    {
        await using var server = await VictoriaMetricsServer.StartAsync(deduplicate: false, Ct);
        var options = Adaptive(server.Url);
        var withAlert = TestData.NewVin("LADPA");
        var quiet = TestData.NewVin("LADPB");
        var recent = TestData.RecentSecond(60);
        var start = new DateTime(recent.Ticks - recent.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc);
        const int Minutes = 40;
        await using var journal = new FileJournal(new JournalOptions { Directory = _dir.File("journal"), Fsync = false }, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);
        var sink = new JournalTimeSeriesSink(journal, options);

        // 10-sample frames of both vehicles, interleaved as ingest would write them; an episode of the
        // first vehicle from minute 20 for 60 s, written when it opened and when it closed.
        var episodeStart = start.AddMinutes(20);
        for (var frame = 0; frame < Minutes * 6; frame++)
        {
            foreach (var vin in new[] { withAlert, quiet })
                await sink.WriteSamplesAsync(vin, [.. Enumerable.Range(frame * 10, 10).Select(s => At(start, s))], Ct);
            if (frame == 20 * 6 + 1)
                await sink.WriteAlertAsync(TestData.Alert(withAlert, startUtc: episodeStart), Ct);
            if (frame == 21 * 6 + 1)
                await sink.WriteAlertAsync(TestData.Alert(withAlert, startUtc: episodeStart, revision: 2, status: AlertStatus.Closed) with
                {
                    EndUtc = episodeStart.AddSeconds(60),
                    LastHeldUtc = episodeStart.AddSeconds(60),
                }, Ct);
        }
        await sink.FlushIdleAggregatesAsync(all: true, Ct);

        var adaptive = new AdaptiveShipping();
        using var main = Shipper(journal, options, adaptive, detail: false);
        using var detail = Shipper(journal, options, adaptive, detail: true);
        await main.StartAsync(Ct);
        await detail.StartAsync(Ct);
        await ShipAllAsync(journal, main, detail);

        // Core fields: every second of both vehicles, once.
        var speed = await server.WaitForSampleCountAsync($"{{__name__=\"hdv_speedKmh\",vin=~\"{withAlert}|{quiet}\"}}", 2 * Minutes * 60, Patience, Ct);
        Assert.Equal(2 * Minutes * 60, VictoriaMetricsServer.CountSamples(speed));

        // Other fields at full resolution: only the seconds from 2 min before to 2 min after the episode, of its vehicle.
        var windowFrom = LineProtocol.ToUnixSeconds(episodeStart.AddMinutes(-2));
        var windowTo = LineProtocol.ToUnixSeconds(episodeStart.AddSeconds(60).AddMinutes(2));
        var coolant = await server.ExportAsync($"{{__name__=\"hdv_coolantTempC\",vin=~\"{withAlert}|{quiet}\"}}", Ct);
        var series = Assert.Single(coolant);
        Assert.Equal(withAlert, series.Labels["vin"]);
        Assert.Equal(Enumerable.Range(0, (int)(windowTo - windowFrom + 1)).Select(i => (windowFrom + i) * 1000), series.TimestampsMs);
        Assert.Empty(await server.ExportAsync("{__name__=~\"hdv_detail.*\"}", Ct));

        // 1-minute aggregates of every minute of both vehicles: mean, min and max of the minute's samples.
        var means = await server.WaitForSampleCountAsync($"{{__name__=\"hdv_1m_coolantTempC_mean\",vin=~\"{withAlert}|{quiet}\"}}", 2 * Minutes, Patience, Ct);
        Assert.Equal(2 * Minutes, VictoriaMetricsServer.CountSamples(means));
        var coolantIndex = SampleFields.All.ToList().FindIndex(f => f.Name == "coolantTempC");
        var minuteValues = Enumerable.Range(0, 60).Select(seed => TestData.Value(coolantIndex, seed)).ToArray();
        Assert.All(means.SelectMany(m => m.Values), mean => Assert.Equal(minuteValues.Average(), mean, 9));
        var maxima = await server.ExportAsync($"{{__name__=\"hdv_1m_coolantTempC_max\",vin=\"{quiet}\"}}", Ct);
        Assert.All(maxima.SelectMany(m => m.Values), max => Assert.Equal(minuteValues.Max(), max));
        var counts = await server.ExportAsync($"{{__name__=\"hdv_1m_samples\",vin=\"{quiet}\"}}", Ct);
        Assert.All(counts.SelectMany(m => m.Values), count => Assert.Equal(60, count));
        Assert.Empty(await server.ExportAsync($"{{__name__=\"hdv_1m_speedKmh_mean\"}}", Ct)); // core fields are not aggregated
    }

    [Fact]
    public async Task DetailShipper_WhenTheJournalRunsShortOfSpace_GivesWay_AndIngestGoesOn()
    {
        // The detail shipper stays AdaptiveDetailDelay (here an hour) behind. A journal too small for an hour
        // of data filled up and refused every append until the hour had passed; ingest stopped. Over 3/4 of
        // the cap the detail shipper now passes what the main shipper has read, and the episodes it knows
        // still get their detail.
        await using var server = await VictoriaMetricsServer.StartAsync(deduplicate: false, Ct);
        var options = Adaptive(server.Url);
        options.AdaptiveDetailDelay = TimeSpan.FromHours(1);
        var journalOptions = new JournalOptions { Directory = _dir.File("journal"), SegmentBytes = 64 * 1024, MaxBytes = 1024 * 1024, Fsync = false };
        await using var journal = new FileJournal(journalOptions, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);
        var sink = new JournalTimeSeriesSink(journal, options);
        var adaptive = new AdaptiveShipping();
        using var main = Shipper(journal, options, adaptive, detail: false);
        using var detail = Shipper(journal, options, adaptive, detail: true, giveWayBytes: (long)(journalOptions.MaxBytes * JournalShipper.DetailGiveWayShare));
        await main.StartAsync(Ct);
        await detail.StartAsync(Ct);

        var withAlert = TestData.NewVin("LADPG");
        var quiet = TestData.NewVin("LADPH");
        var recent = TestData.RecentSecond(60);
        var start = new DateTime(recent.Ticks - recent.Ticks % TimeSpan.TicksPerMinute, DateTimeKind.Utc).AddHours(-2);
        var episodeStart = start.AddSeconds(300);
        const int Frames = 400; // 2 x 400 records of 10 samples: about 5 MB, five times the cap
        var refused = 0;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct))
        {
            deadline.CancelAfter(Patience);
            for (var frame = 0; frame < Frames; frame++)
            {
                foreach (var vin in new[] { withAlert, quiet })
                {
                    var samples = Enumerable.Range(frame * 10, 10).Select(s => At(start, s)).ToList();
                    while (true)
                    {
                        try
                        {
                            await sink.WriteSamplesAsync(vin, samples, Ct);
                            break;
                        }
                        catch (JournalFullException)
                        {
                            refused++;
                            if (deadline.IsCancellationRequested)
                                Assert.Fail($"the journal refused appends for {Patience} at frame {frame}: ingest stopped ({refused} refusals)");
                            await Task.Delay(5, Ct); // as ingest does: the frame waits and is tried again
                        }
                    }
                }
                if (frame == 5)
                    await sink.WriteAlertAsync(TestData.Alert(withAlert, startUtc: episodeStart), Ct);
            }
        }

        await ShipAllAsync(journal, main, detail);
        Assert.True(detail.GaveWayRecords > 0, "the detail shipper should have given way");
        Assert.True(journal.Stats.BytesOnDisk <= journalOptions.MaxBytes);

        // Every sample's core fields stored once; the open episode's vehicle in full from AdaptiveWindow
        // (2 min) before its start, as if the detail shipper had waited; the other vehicle not in full.
        var speed = await server.WaitForSampleCountAsync($"{{__name__=\"hdv_speedKmh\",vin=~\"{withAlert}|{quiet}\"}}", 2 * Frames * 10, Patience, Ct);
        Assert.Equal(2 * Frames * 10, VictoriaMetricsServer.CountSamples(speed));
        var windowFrom = LineProtocol.ToUnixSeconds(episodeStart.AddMinutes(-2));
        var last = LineProtocol.ToUnixSeconds(start.AddSeconds(Frames * 10 - 1));
        var coolant = await server.WaitForSampleCountAsync($"{{__name__=\"hdv_coolantTempC\",vin=~\"{withAlert}|{quiet}\"}}", (int)(last - windowFrom + 1), Patience, Ct);
        var series = Assert.Single(coolant);
        Assert.Equal(withAlert, series.Labels["vin"]);
        Assert.Equal(Enumerable.Range(0, (int)(last - windowFrom + 1)).Select(i => (windowFrom + i) * 1000), series.TimestampsMs);
        TestContext.Current.TestOutputHelper?.WriteLine($"appends refused while the shippers caught up: {refused}; records passed early: {detail.GaveWayRecords}");
    }

    [Fact]
    public async Task DetailBlockThatDoesNotRead_IsCountedAsCorrupt_AndTheRecordsAfterItShip()
    {
        // A record whose checksum holds but whose detail does not read (written by a bug, not by the disk):
        // counted once, never shipped as garbage, and the shippers go on.
        await using var server = await VictoriaMetricsServer.StartAsync(deduplicate: false, Ct);
        var options = Adaptive(server.Url);
        await using var journal = new FileJournal(new JournalOptions { Directory = _dir.File("journal"), Fsync = false }, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);
        var vin = TestData.NewVin("LADPK");
        var bad = new byte[64];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bad, 1000); // a detail longer than the record
        await journal.AppendAsync(JournalRecordType.PointsWithDetail, bad, Ct);
        var broken = new System.Buffers.ArrayBufferWriter<byte>();
        SamplePoints.WriteAdaptive(broken, vin, [At(DateTime.UtcNow.AddMinutes(-5), 0)]);
        var cut = broken.WrittenSpan.ToArray();
        cut[4] = 0xFF; // the head length now runs past the detail: the split holds, the block does not read
        await journal.AppendAsync(JournalRecordType.PointsWithDetail, cut, Ct);
        await new JournalTimeSeriesSink(journal, options).WriteSamplesAsync(vin, [At(DateTime.UtcNow.AddMinutes(-5), 1)], Ct);

        var corrupt = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "telemetry.storage.journal.corrupt")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                corrupt.AddOrUpdate((string)tag.Value!, value, (_, sum) => sum + value);
        });
        listener.Start();
        var adaptive = new AdaptiveShipping();
        adaptive.TryRegister(System.Text.Encoding.UTF8.GetBytes(SamplePoints.ToLine(TestData.Alert(vin, startUtc: DateTime.UtcNow.AddMinutes(-6)))));
        using var main = Shipper(journal, options, adaptive, detail: false);
        using var detail = Shipper(journal, options, adaptive, detail: true);
        await main.StartAsync(Ct);
        await detail.StartAsync(Ct);
        await ShipAllAsync(journal, main, detail);

        Assert.Equal(2, corrupt.GetValueOrDefault("detail")); // each record once: the bad split by the main shipper, the bad block by the detail shipper
        var speed = await server.WaitForSampleCountAsync($"{{__name__=\"hdv_speedKmh\",vin=\"{vin}\"}}", 2, Patience, Ct);
        Assert.Equal(2, VictoriaMetricsServer.CountSamples(speed)); // the cut record's core line and the good record's
        Assert.Single(await server.WaitForSampleCountAsync($"{{__name__=\"hdv_coolantTempC\",vin=\"{vin}\"}}", 1, Patience, Ct)); // the good record's detail
    }

    [Fact]
    public async Task MinuteAggregate_CompletedByAWriteTheFullJournalRefused_IsWrittenWithTheNextRecord()
    {
        var options = new TimeSeriesOptions { Policy = "adaptive" };
        var journalOptions = new JournalOptions { Directory = _dir.File("journal"), SegmentBytes = 16 * 1024, MaxBytes = 4 * 16 * 1024, Fsync = false };
        await using var journal = new FileJournal(journalOptions, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);
        await journal.SaveCursorAsync("shipper", 1, Ct);
        var sink = new JournalTimeSeriesSink(journal, options);
        var vin = TestData.NewVin("LADPC");
        var start = new DateTime(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

        // Minute 0 of the vehicle, then filler from another vehicle until the journal refuses.
        await sink.WriteSamplesAsync(vin, [.. Enumerable.Range(0, 60).Select(s => At(start, s))], Ct);
        var filler = TestData.NewVin("LADPD");
        var second = 0;
        await Assert.ThrowsAsync<JournalFullException>(async () =>
        {
            while (second < 100_000)
            {
                await sink.WriteSamplesAsync(filler, [At(start.AddHours(1), second)], Ct);
                second += 60; // a new minute each time: each write also completes one aggregate of the filler
            }
        });
        Assert.True(journal.Stats.IsFull);

        // The first sample of minute 1 completes minute 0: that write is refused, its aggregate line held.
        await Assert.ThrowsAsync<JournalFullException>(async () => await sink.WriteSamplesAsync(vin, [At(start, 60)], Ct));
        Assert.True(sink.HasHeldAggregates);
        // Nothing new to flush while the journal is full: the held lines wait for room.
        await sink.FlushIdleAggregatesAsync(all: false, Ct);
        Assert.True(sink.HasHeldAggregates);

        // Space frees (the shipper passed everything): the append that frees it is accepted, and the
        // next record, made while the journal has room, carries the held lines.
        await journal.SaveCursorAsync("shipper", journal.LastSequence + 1, Ct);
        await RetryUntilAcceptedAsync(() => sink.WriteSamplesAsync(vin, [At(start, 60)], Ct));
        await sink.WriteSamplesAsync(vin, [At(start, 61)], Ct);
        Assert.False(sink.HasHeldAggregates);

        var text = new List<string>();
        await foreach (var record in journal.ReadAsync(journal.LastSequence, follow: false, Ct))
            text.AddRange(System.Text.Encoding.UTF8.GetString(record.Payload.Span).Split('\n'));
        var minuteZero = text.Where(l => l.StartsWith($"{AdaptiveFields.AggregateMeasurement},vin={vin} ", StringComparison.Ordinal)
            && l.EndsWith($" {LineProtocol.ToUnixSeconds(start)}", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(minuteZero);
        Assert.Contains(",samples=60i ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HeldAggregates_WhileTheJournalStaysFull_AreNotCopiedIntoEveryRefusedWrite()
    {
        // A silo whose journal is full keeps retrying every frame in process, and the sweep flushes the
        // minutes of every vehicle that went quiet: copying the held lines into each refused attempt cost
        // as much as they weigh, 40 MB twice per attempt at 100,000 vehicles.
        var options = new TimeSeriesOptions { Policy = "adaptive" };
        var journalOptions = new JournalOptions { Directory = _dir.File("journal"), SegmentBytes = 1024 * 1024, MaxBytes = 4 * 1024 * 1024, Fsync = false };
        await using var journal = new FileJournal(journalOptions, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);
        await journal.SaveCursorAsync("shipper", 1, Ct);
        var sink = new JournalTimeSeriesSink(journal, options);
        var start = new DateTime(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);
        for (var v = 0; v < 1500; v++)
            await sink.WriteSamplesAsync(TestData.NewVin("LADPE"), [At(start, v % 60)], Ct);
        var filler = TestData.NewVin("LADPF");
        await Assert.ThrowsAsync<JournalFullException>(async () =>
        {
            for (var second = 0; second < 1_000_000; second++)
                await sink.WriteSamplesAsync(filler, [At(start, second)], Ct);
        });
        await Assert.ThrowsAsync<JournalFullException>(async () => await sink.FlushIdleAggregatesAsync(all: true, Ct));
        var held = sink.HeldAggregateBytes;
        Assert.True(held > 100_000, $"the minutes of 1,500 vehicles should be held, not {held} bytes");

        const int Attempts = 50;
        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var attempt = 0; attempt < Attempts; attempt++)
            await Assert.ThrowsAsync<JournalFullException>(async () => await sink.WriteSamplesAsync(filler, [At(start.AddDays(1), attempt)], Ct));
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.True(allocated < held * Attempts / 10,
            $"{Attempts} refused writes allocated {allocated:N0} bytes with {held:N0} bytes of aggregate lines held");
        Assert.Equal(held, sink.HeldAggregateBytes);

        // Once space frees the held lines are written.
        await journal.SaveCursorAsync("shipper", journal.LastSequence + 1, Ct);
        await RetryUntilAcceptedAsync(() => sink.WriteSamplesAsync(filler, [At(start.AddDays(2), 0)], Ct));
        await RetryUntilAcceptedAsync(() => sink.WriteSamplesAsync(filler, [At(start.AddDays(2), 1)], Ct));
        Assert.False(sink.HasHeldAggregates);
    }

    /// <summary>Calls <paramref name="write"/> until the journal accepts it (it frees segments on the next rotation).</summary>
    private static async Task RetryUntilAcceptedAsync(Func<ValueTask> write)
    {
        for (var refused = 0; refused < 1000; refused++)
        {
            try
            {
                await write();
                return;
            }
            catch (JournalFullException)
            {
                await Task.Delay(10, Ct);
            }
        }
        throw new TimeoutException("The journal kept refusing after its cursor moved past every record.");
    }

    [Fact]
    public void AlertLine_OpenAndClosed_GiveTheEpisodeOfTheirVehicle()
    {
        var start = new DateTime(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);
        var open = SamplePoints.ToLine(TestData.Alert("LGDCHA1G8MA127733", startUtc: start, fleet: "fleet a,b"));
        var closed = SamplePoints.ToLine(TestData.Alert("LGDCHA1G8MA127733", startUtc: start, status: AlertStatus.Closed) with
        {
            EndUtc = start.AddSeconds(90.5),
            LastHeldUtc = start.AddSeconds(90.5),
        });
        var adaptive = new AdaptiveShipping();

        Assert.True(AdaptiveShipping.TryParseAlert(System.Text.Encoding.UTF8.GetBytes(open), out var vin, out var from, out var to));
        Assert.Equal(("LGDCHA1G8MA127733", LineProtocol.ToUnixSeconds(start), long.MaxValue), (vin, from, to));
        Assert.True(adaptive.TryRegister(System.Text.Encoding.UTF8.GetBytes(open)));
        Assert.True(adaptive.Covers(vin, from + 86_400, TimeSpan.Zero)); // open: covers everything after its start
        Assert.True(adaptive.TryRegister(System.Text.Encoding.UTF8.GetBytes(closed)));
        Assert.Equal(1, adaptive.EpisodeCount); // the same episode, now closed
        Assert.True(adaptive.Covers(vin, from + 91, TimeSpan.Zero));
        Assert.False(adaptive.Covers(vin, from + 92, TimeSpan.Zero));
        Assert.True(adaptive.Covers(vin, from + 91 + 600, TimeSpan.FromMinutes(10)));
        Assert.False(adaptive.Covers(vin, from + 92 + 600, TimeSpan.FromMinutes(10)));
        Assert.True(adaptive.Covers(vin, from - 600, TimeSpan.FromMinutes(10)));
        Assert.False(adaptive.Covers(vin, from - 601, TimeSpan.FromMinutes(10)));
        Assert.False(adaptive.Covers("LOTHERVIN00000000", from, TimeSpan.FromMinutes(10)));
        Assert.True(adaptive.Covers("LGDCHA1G8MA127733"u8, from - 600, TimeSpan.FromMinutes(10))); // the VIN as a line's bytes
        Assert.False(adaptive.Covers("LGDCHA1G8MA127733"u8, from - 601, TimeSpan.FromMinutes(10)));
        Assert.False(adaptive.Covers("LOTHERVIN00000000"u8, from, TimeSpan.FromMinutes(10)));
        Assert.False(adaptive.TryRegister("hdv,vin=X speedKmh=1 1"u8));
    }

    [Theory]
    [InlineData("full", true)]
    [InlineData("Adaptive", true)]
    [InlineData("compact", false)]
    public void Policy_OnlyFullOrAdaptive(string policy, bool valid)
    {
        var errors = new TimeSeriesOptions { Policy = policy }.Validate();

        Assert.Equal(valid, errors.Count == 0);
        if (!valid)
            Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"Telemetry:TimeSeries:Policy '{policy}'"), errors[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fastest", true)]
    [InlineData("Optimal", true)]
    [InlineData("none", true)]
    [InlineData("brotli", false)]
    public void Compression_OnlyTheGzipLevelsOrNone(string compression, bool valid)
    {
        var errors = new TimeSeriesOptions { Compression = compression }.Validate();

        Assert.Equal(valid, errors.Count == 0);
        if (!valid)
            Assert.Equal("Telemetry:TimeSeries:Compression 'brotli' is none of 'fastest', 'optimal', 'smallest' and 'none'.", errors[0]);
    }

    public void Dispose() => _dir.Dispose();
}
