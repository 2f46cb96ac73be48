using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Fleet;
using Telemetry.Grains;
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

    /// <summary>The settings that put a silo into the Redis cluster <paramref name="clusterId"/>.</summary>
    private static Dictionary<string, string> RedisCluster(RedisServer redis, string clusterId) => new()
    {
        ["Telemetry:Orleans:Clustering"] = "Redis",
        ["Telemetry:Orleans:RedisConnectionString"] = redis.ConnectionString,
        ["Telemetry:Orleans:ClusterId"] = clusterId,
    };

    [Fact]
    public async Task TwoSilosOnOneRedis_SplitTheSharedSubscription_AndStoreEverySampleOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var redis = await RedisServer.StartAsync(ct);
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        var settings = RedisCluster(redis, "two-silos");
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

    [Fact]
    public async Task TwoSilosOnOneRedis_EachSilosLiveFeedCarriesEveryEpisodeChange_Once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var redis = await RedisServer.StartAsync(ct);
        await using var broker = await MosquittoServer.StartAsync(ct);
        var settings = RedisCluster(redis, "shared-feed");
        await using var first = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings);
        await using var second = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings);
        var seen = new[] { new ConcurrentQueue<AlertChange>(), new ConcurrentQueue<AlertChange>() };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var listeners = new[] { first, second }.Select((silo, i) => Task.Run(async () =>
        {
            await foreach (var change in silo.Services.GetRequiredService<IAlertFeed>().SubscribeAsync(stop.Token))
                seen[i].Enqueue(change);
        }, ct)).ToList();

        // Vehicles whose terminals keep sending corrupt frames (R9.checkcode after three): their grains are placed on
        // either silo, so each silo's feed needs the other's changes to show all of them.
        const int Vehicles = 8;
        var vins = Enumerable.Range(0, Vehicles).Select(i => $"LFEED{i:D12}").ToList();
        var grains = first.Services.GetRequiredService<IGrainFactory>();
        var now = DateTime.UtcNow;
        foreach (var vin in vins)
        {
            for (var n = 0; n < 3; n++)
                await grains.GetGrain<IVehicleGrain>(vin).ReportCheckCodeFailure(now.AddSeconds(n));
        }

        static List<string> Opened(ConcurrentQueue<AlertChange> changes) =>
            [.. changes.Where(c => c.Kind == AlertChangeKind.Opened && c.Alert.RuleId == "R9.checkcode").Select(c => c.Alert.Vin).Order(StringComparer.Ordinal)];
        await Eventually.WaitAsync(() => Opened(seen[0]).Count >= Vehicles && Opened(seen[1]).Count >= Vehicles, TimeSpan.FromSeconds(30),
            $"both silos' live feeds should carry the {Vehicles} openings", ct);
        await Task.Delay(500, ct); // an echo of a silo's own change would arrive by now
        await stop.CancelAsync();
        await Task.WhenAll(listeners.Select(l => l.ContinueWith(_ => { }, TaskScheduler.Default)));

        Assert.Equal(vins, Opened(seen[0]));
        Assert.Equal(vins, Opened(seen[1]));
    }

    [Fact]
    public async Task TwoSilosOnOnePostgres_EachSilosApiListsEveryVehicle_WhicheverSiloTookItsFrames()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var redis = await RedisServer.StartAsync(ct);
        await using var postgres = await PostgresServer.StartAsync(ct);
        await using var broker = await MosquittoServer.StartAsync(ct);
        var settings = new Dictionary<string, string>(RedisCluster(redis, "shared-vehicles"))
        {
            ["Telemetry:Alerts:Store"] = "Postgres",
            ["Telemetry:Alerts:ConnectionString"] = postgres.ConnectionString,
            // One admin key for the cluster: the first silo writes it, the second finds keys in the shared database.
            ["Telemetry:Api:AdminKeyFile"] = Path.Combine(Directory.CreateTempSubdirectory("telemetry-cluster-vehicles-").FullName, "admin.key"),
        };
        await using var first = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings);
        await using var second = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings);

        // Not registered anywhere: these trucks are known only from their frames.
        const int Vehicles = 20;
        await using var fleet = new FleetPublisher(new FleetOptions
        {
            Trucks = Vehicles,
            Format = FleetFormats.Hj1239,
            HistoryMinutes = 1,
            FirstIndex = 700,
            Host = broker.Host,
            Port = broker.Port,
        });
        await fleet.ConnectAsync(ct);
        await fleet.PublishHistoryAsync(ct);
        var sent = fleet.Progress;
        await Eventually.WaitAsync(() => first.Ingest.Totals.Decoded + second.Ingest.Totals.Decoded == sent.Frames, TimeSpan.FromSeconds(60),
            $"the two silos together should take all {sent.Frames} frames", ct);
        var vins = fleet.Trucks.Select(t => t.Vin).Order(StringComparer.Ordinal).ToList();
        var heardByFirst = first.Services.GetRequiredService<VehicleIndex>().Count;
        var heardBySecond = second.Services.GetRequiredService<VehicleIndex>().Count;
        Assert.True(heardByFirst < Vehicles && heardBySecond < Vehicles,
            $"each silo's grains should hold some of the vehicles ({heardByFirst} / {heardBySecond} of {Vehicles})");

        async Task<List<string>> ListAsync(SiloUnderTest silo)
        {
            using var page = JsonDocument.Parse(await silo.Http.GetStringAsync("/api/vehicles?limit=500", ct));
            return [.. page.RootElement.GetProperty("items").EnumerateArray().Select(v => v.GetProperty("vin").GetString()!)];
        }
        var listed = (0, 0);
        try
        {
            await Eventually.WaitAsync(async () =>
            {
                listed = ((await ListAsync(first)).Count, (await ListAsync(second)).Count);
                return listed == (Vehicles, Vehicles);
            }, TimeSpan.FromSeconds(45), $"both silos should list all {Vehicles} vehicles", ct);
        }
        catch (EventuallyTimeoutException)
        {
            Assert.Fail($"Both silos should list all {Vehicles} vehicles; they heard {heardByFirst} / {heardBySecond} and list {listed}.");
        }
        foreach (var silo in new[] { first, second })
        {
            Assert.Equal(vins, await ListAsync(silo));
            using var online = JsonDocument.Parse(await silo.Http.GetStringAsync("/api/vehicles?online=true&limit=500", ct));
            Assert.Equal(Vehicles, online.RootElement.GetProperty("total").GetInt32());
            foreach (var vin in vins)
            {
                // The vehicle's detail comes from its grain, wherever the cluster placed it.
                using var response = await silo.Http.GetAsync($"/api/vehicles/{vin}", ct);
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /api/vehicles/{vin}: {(int)response.StatusCode}");
                using var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                Assert.True(detail.RootElement.GetProperty("online").GetBoolean(), $"{vin} should be online on both silos");
            }
        }
    }
}
