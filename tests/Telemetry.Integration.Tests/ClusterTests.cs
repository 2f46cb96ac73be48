using Telemetry.Fleet;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Two silos in one Redis cluster share mosquitto's shared subscription: the broker splits the
/// frames between them, grains are reached across silos, and every sample is stored exactly once.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ClusterTests
{
    private const int Trucks = 6;
    private const int HistoryMinutes = 5;

    [Fact]
    public async Task TwoSilosOnOneRedis_SplitTheSharedSubscription_AndStoreEverySampleOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var redis = await RedisServer.StartAsync(ct);
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        var settings = new Dictionary<string, string>
        {
            ["Telemetry:Orleans:Clustering"] = "Redis",
            ["Telemetry:Orleans:RedisConnectionString"] = redis.ConnectionString,
            ["Telemetry:Orleans:ClusterId"] = "two-silos",
        };
        await using var first = await SiloUnderTest.StartAsync(broker, tsdb.Url, settings);
        await using var second = await SiloUnderTest.StartAsync(broker, tsdb.Url, settings);

        await using var fleet = new FleetPublisher(new FleetOptions
        {
            Trucks = Trucks,
            Format = FleetFormats.Hj1239,
            HistoryMinutes = HistoryMinutes,
            FirstIndex = 500,
            Host = broker.Host,
            Port = broker.Port,
        });
        await fleet.ConnectAsync(ct);
        await fleet.PublishHistoryAsync(ct);
        var sent = fleet.Progress;
        Assert.Equal(Trucks * HistoryMinutes * 60, sent.Samples);

        await Eventually.WaitAsync(() => first.Ingest.Totals.Decoded + second.Ingest.Totals.Decoded == sent.Frames, TimeSpan.FromSeconds(60),
            $"the two silos together should store all {sent.Frames} frames", ct);
        Assert.True(first.Ingest.Totals.Decoded > 0 && second.Ingest.Totals.Decoded > 0,
            $"the broker should split the frames ({first.Ingest.Totals.Decoded} / {second.Ingest.Totals.Decoded})");

        var series = await tsdb.WaitForSampleCountAsync("{__name__=\"hdv_odometerKm\"}", (int)sent.Samples, TimeSpan.FromSeconds(30), ct);
        Assert.Equal(Trucks, series.Count);
        Assert.All(series, s => Assert.Equal(HistoryMinutes * 60, s.TimestampsMs.Distinct().Count()));
        Assert.Equal(sent.Samples, VictoriaMetricsServer.CountSamples(series));
    }
}
