using Telemetry.Fleet.Load;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// A short <c>load</c> run against real mosquitto, victoria-metrics and a silo: the report's
/// invariants hold (nothing lost or duplicated, every injected fault detected, counts consistent).
/// Speed is not asserted: it is what the report measures.
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)]
public sealed class LoadHarnessTests
{
    [Fact]
    public async Task LoadRun_ShortFleetThroughBrokerSiloAndTsdb_StoresEverySampleOnceAndDetectsEveryFault()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(new MosquittoOptions { ExtraConfigLines = ["max_queued_messages 1000000"] }, ct);
        // Without deduplication in the store, a sample written twice shows as duplicated.
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url);

        var options = new LoadOptions
        {
            Vehicles = 500,
            Duration = TimeSpan.FromSeconds(20),
            Host = broker.Host,
            Port = broker.Port,
            Connections = 2,
            FaultShare = 0.01,
            HistoryMinutes = 30,
            HistorySeconds = 5,
            TsdbUrl = tsdb.Url,
            ApiUrl = silo.ApiUrl,
            ApiKey = File.ReadAllText(silo.AdminKeyFile),
            VinPrefix = "LHARN",
            // The machine is shared: judge invariants, not speed.
            MaxLagSeconds = 60,
            DrainTimeout = TimeSpan.FromSeconds(90),
            SampleInterval = TimeSpan.FromMilliseconds(500),
        };

        var report = await LoadRun.RunAsync(options, progress: null, ct);

        Assert.True(report.Passed, string.Join(Environment.NewLine, report.Reasons) + Environment.NewLine + report.ToJson()[..2000]);
        // Offered is exactly the schedule: the faulty vehicles' history, then 20 s of one 10-record frame per 10 s each.
        var faulty = options.FaultyVehicles;
        Assert.Equal(5, faulty);
        Assert.Equal(faulty * 30 * 60, report.ReissuedSamples);
        Assert.Equal(500 * 20, report.OfferedLive.Samples);
        Assert.Equal(report.Offered.Frames, report.Acknowledged.Frames);
        Assert.Equal(report.Offered.Samples, report.Acknowledged.Samples);

        // Every (VIN, second) sent is in the TSDB exactly once.
        var verified = Assert.IsType<TsdbVerification>(report.Verified);
        Assert.Equal(report.Offered.Samples, verified.ExpectedSamples);
        Assert.Equal(verified.ExpectedSamples, verified.DistinctSamples);
        Assert.Equal(0, verified.Missing);
        Assert.Equal(0, verified.Duplicated);
        Assert.Equal(0, verified.Unexpected);
        Assert.Equal(500, verified.Vehicles);

        // The silo decoded every frame and rejected none.
        Assert.Equal(report.Offered.Frames, report.SiloDecoded);
        Assert.Equal(0, report.SiloRejected);
        Assert.True(report.StoredSamplesAfterDrain >= report.Offered.Samples);

        // Every injected fault raised its rule, on no clean vehicle, and each has a latency.
        Assert.True(report.Detection.Checked);
        Assert.Equal(faulty, report.Detection.Injected);
        Assert.Equal(faulty, report.Detection.Detected);
        Assert.Equal(0, report.Detection.FalsePositives);
        Assert.Equal(1.0, report.Detection.Recall);
        Assert.Equal(faulty, report.AlertLatency.Count);
        Assert.Equal(0, report.AlertLatency.Unmatched);
        Assert.True(report.AlertLatency.P50Ms <= report.AlertLatency.P99Ms && report.AlertLatency.P99Ms <= report.AlertLatency.MaxMs);

        // The timeline is cumulative and ends with the offer complete.
        Assert.NotEmpty(report.Timeline);
        Assert.True(report.Timeline.Zip(report.Timeline.Skip(1)).All(p => p.Second.OfferedFrames >= p.First.OfferedFrames && p.Second.Seconds >= p.First.Seconds));
        Assert.Contains("R1", report.Detection.OpenedByRule.Keys);

        // The silo's /metrics is read every ScrapeInterval (5 s) while the offer runs, not at every 0.5 s sample;
        // the end of the offer is always read.
        var live = report.Timeline.Where(s => s.Phase is "live" or "reissue").ToList();
        var read = live.Where(s => s.StoredSamples is not null).ToList();
        Assert.True(read.Count < live.Count / 3, $"{read.Count} of {live.Count} offer snapshots read the silo's metrics");
        Assert.True(read.Zip(read.Skip(1)).SkipLast(1).All(p => p.Second.Seconds - p.First.Seconds >= 4.9),
            "reads during the offer are at least the scrape interval apart");
        Assert.NotNull(report.LagSamplesAtEndOfOffer);
        Assert.NotNull(report.StoredSamplesPerSecondLive);
    }
}
