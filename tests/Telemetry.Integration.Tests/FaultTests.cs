using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Storage.Journal;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Nothing acknowledged is lost and nothing is stored twice when a part of the system fails mid-run:
/// real servers, a known set of frames, every sample counted in a victoria-metrics started without
/// deduplication (so a sample written twice would show twice). When the silo itself is killed, the
/// journal is checked to hold each sample once, and a second copy in victoria-metrics may only be a
/// resent line of a shipper request the kill cut off (see <see cref="FaultTrace.AssertStoredAfterCrashAsync"/>).
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)] // reads gauges of an in-process silo at /metrics
public sealed class FaultTests
{
    private static readonly TimeSpan StoreTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task TsdbStopped30Seconds_MidRun_EverySampleStoredOnceAfterItReturns()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url, new Dictionary<string, string>
        {
            ["Telemetry:TimeSeries:RetryDelay"] = "00:00:00.200",
        });
        var trace = FaultTrace.Create(trucks: 20, framesPerTruck: 30, seed: 7100, withExceedance: false);
        await using var terminal = new RepublishingTerminal(broker.Host, broker.Port, "fault-tsdb");

        var stopped = false;
        var publishing = terminal.PublishAllAsync(trace.Frames, inFlight: 50, perSecond: 40, TimeSpan.FromMinutes(3), async acked =>
        {
            if (acked == trace.Frames.Count / 3 && !stopped)
            {
                stopped = true;
                await tsdb.StopAsync();
            }
        }, ct);
        await Eventually.WaitAsync(() => stopped, TimeSpan.FromSeconds(60), "the TSDB should be stopped a third into the run", ct);
        var stoppedAt = DateTime.UtcNow;
        // Ingest goes on while the TSDB is away: frames are acknowledged once in the journal.
        await publishing;
        Assert.True(DateTime.UtcNow - stoppedAt < TimeSpan.FromSeconds(30), "every frame is acknowledged while the TSDB is still down");
        Assert.Equal(trace.Frames.Count, terminal.Acknowledged);
        var remaining = TimeSpan.FromSeconds(30) - (DateTime.UtcNow - stoppedAt);
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining, ct);
        }
        await tsdb.RestartAsync(ct);

        await trace.AssertStoredExactlyOnceAsync(tsdb, StoreTimeout, ct);
        Assert.Equal(0, silo.Ingest.Totals.Rejected);
        // The samples are all stored by now; records journaled during the outage that hold only the silo's
        // own pipeline counters may still sit in a retry backoff (capped at 30 s, with jitter) before they go.
        await Eventually.WaitAsync(async () => await silo.Http.MetricAsync("telemetry_storage_shipper_lag_records", ct) == 0,
            TimeSpan.FromSeconds(75), "the shipper's lag should return to 0", ct);
    }

    [Fact]
    public async Task MosquittoRestarted_MidRun_EverySampleStoredOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(new MosquittoOptions { Persistence = true }, ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url, new Dictionary<string, string> { ["Telemetry:Mqtt:UseSharedSubscription"] = "false" });
        var trace = FaultTrace.Create(trucks: 20, framesPerTruck: 30, seed: 7200, withExceedance: false);
        await using var terminal = new RepublishingTerminal(broker.Host, broker.Port, "fault-broker");

        var restarted = false;
        await terminal.PublishAllAsync(trace.Frames, inFlight: 50, perSecond: 60, TimeSpan.FromMinutes(3), async acked =>
        {
            if (acked == trace.Frames.Count / 2 && !restarted)
            {
                restarted = true;
                await broker.RestartAsync(ct);
            }
        }, ct);

        Assert.True(restarted);
        Assert.Equal(trace.Frames.Count, terminal.Acknowledged);
        await trace.AssertStoredExactlyOnceAsync(tsdb, StoreTimeout, ct);
        Assert.Equal(0, silo.Ingest.Totals.Rejected);
    }

    [Fact]
    public async Task JournalDiskCapReached_IngestStopsAcknowledgingUntilSpaceFrees_NothingDropped()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url, new Dictionary<string, string>
        {
            // A tiny journal that ships and forgets at once: the cap is what holds data back.
            ["Telemetry:Journal:SegmentBytes"] = "65536",
            ["Telemetry:Journal:MaxBytes"] = "393216",
            ["Telemetry:Journal:Retention"] = "00:00:00",
            ["Telemetry:Vehicles:PersistInterval"] = "00:00:01",
            ["Telemetry:Vehicles:ClockPeriod"] = "00:00:01",
            ["Telemetry:TimeSeries:RetryDelay"] = "00:00:00.200",
        });
        var journal = silo.Services.GetRequiredService<IJournal>();
        var trace = FaultTrace.Create(trucks: 10, framesPerTruck: 40, seed: 7500, withExceedance: false);
        await using var terminal = new RepublishingTerminal(broker.Host, broker.Port, "fault-cap");

        // The TSDB is away, so nothing ships and the journal fills up to its cap.
        await tsdb.StopAsync();
        var publishing = terminal.PublishAllAsync(trace.Frames, inFlight: 50, perSecond: 200, TimeSpan.FromMinutes(3), null, ct);
        await Eventually.WaitAsync(() => journal.Stats.IsFull, TimeSpan.FromSeconds(60), "the journal should reach its cap", ct);
        await publishing;
        var stored = silo.Ingest.Totals.Decoded;
        Assert.True(stored < trace.Frames.Count, $"ingest should stop acknowledging at the cap ({stored} of {trace.Frames.Count} stored)");
        Assert.Equal(0, silo.Ingest.Totals.Rejected);
        Assert.True(await silo.Http.MetricAsync("telemetry_ingest_journal_full_waits_total", ct) > 0, "the waits are counted");

        // The broker holds the rest; when the TSDB returns the journal drains, space frees and ingest resumes.
        await tsdb.RestartAsync(ct);
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == trace.Frames.Count, TimeSpan.FromSeconds(90),
            "every frame should be stored once space frees", ct);
        await trace.AssertStoredExactlyOnceAsync(tsdb, StoreTimeout, ct);
        Assert.Equal(0, silo.Ingest.Totals.Rejected);
    }

    [Theory]
    [InlineData("full")]
    [InlineData("adaptive")] // its journal records carry the other fields in binary (PointsWithDetail)
    public async Task SiloKilled_MidRun_RestartedOnSameData_NothingLostNoEpisodeDuplicated(string policy)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        var settings = new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:Mode"] = "External",
            ["Telemetry:Mqtt:Host"] = broker.Host,
            ["Telemetry:Mqtt:Port"] = broker.Port.ToString(CultureInfo.InvariantCulture),
            ["Telemetry:Mqtt:ClientId"] = "silo-kill-test",
            ["Telemetry:TimeSeries:InfluxUrl"] = tsdb.Url.ToString(),
            ["Telemetry:TimeSeries:Policy"] = policy,
            ["Telemetry:TimeSeries:AdaptiveDetailDelay"] = "00:00:02",
        };
        var trace = FaultTrace.Create(trucks: 10, framesPerTruck: 150, seed: 7300, withExceedance: true);
        var data = Directory.CreateTempSubdirectory("telemetry-kill-").FullName;
        var silo = await SiloProcess.StartAsync(settings, data, ct);
        try
        {
            await using var terminal = new RepublishingTerminal(broker.Host, broker.Port, "fault-kill");
            var killed = false;
            var killAt = trace.Frames.Count * 4 / 5;
            await terminal.PublishAllAsync(trace.Frames, inFlight: 50, perSecond: 150, TimeSpan.FromMinutes(3), async acked =>
            {
                if (acked == killAt && !killed)
                {
                    killed = true;
                    // The R1 episode of the exceeding truck is open by now (20 of 25 min of sample time).
                    await Eventually.WaitAsync(async () => (await AlertsAsync(silo.Http, trace.ExceedingVin!, ct)).Count > 0,
                        TimeSpan.FromSeconds(30), "R1 should be open before the kill", ct);
                    await silo.KillAsync();
                }
            }, ct);
            Assert.True(killed);

            // Mosquitto kept the silo's session and the frames it had not acknowledged.
            await silo.DisposeAsync();
            silo = await SiloProcess.StartAsync(settings, data, ct);
            await AssertRecoveredAsync(silo, trace, tsdb, data, ct);
            if (policy == "adaptive")
            {
                // The other fields at full resolution around the exceeding truck's episode, and of no other truck.
                var coolant = await tsdb.WaitForSampleCountAsync($"{{__name__=\"hdv_coolantTempC\",vin=\"{trace.ExceedingVin}\"}}", 60, StoreTimeout, ct);
                Assert.NotEmpty(coolant);
                Assert.All(await tsdb.ExportAsync("{__name__=\"hdv_coolantTempC\"}", ct), series => Assert.Equal(trace.ExceedingVin, series.Label("vin")));
            }
        }
        finally
        {
            await silo.DisposeAsync();
            TempDirectory.Delete(data);
        }
    }

    [Fact]
    public async Task EmbeddedSiloKilled_WhileTerminalsPublish_EveryAcknowledgedFrameStoredOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        var mqttPort = FreePort.Next(1)[0];
        var settings = new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:Mode"] = "Embedded",
            // One terminal-like client replays the whole fleet's trace (durability, not authentication, is tested here).
            ["Telemetry:Mqtt:AllowAnonymous"] = "true",
            ["Telemetry:Mqtt:Host"] = "127.0.0.1",
            ["Telemetry:Mqtt:Port"] = mqttPort.ToString(CultureInfo.InvariantCulture),
            ["Telemetry:TimeSeries:InfluxUrl"] = tsdb.Url.ToString(),
        };
        var trace = FaultTrace.Create(trucks: 10, framesPerTruck: 150, seed: 7400, withExceedance: true);
        var data = Directory.CreateTempSubdirectory("telemetry-embedded-kill-").FullName;
        var silo = await SiloProcess.StartAsync(settings, data, ct);
        try
        {
            await using var terminal = new RepublishingTerminal("127.0.0.1", mqttPort, "fault-embedded");
            var killed = false;
            var restart = Task.CompletedTask;
            var killAt = trace.Frames.Count * 4 / 5;
            await terminal.PublishAllAsync(trace.Frames, inFlight: 20, perSecond: 150, TimeSpan.FromMinutes(3), async acked =>
            {
                if (acked == killAt && !killed)
                {
                    killed = true;
                    await Eventually.WaitAsync(async () => (await AlertsAsync(silo.Http, trace.ExceedingVin!, ct)).Count > 0,
                        TimeSpan.FromSeconds(30), "R1 should be open before the kill", ct);
                    await silo.KillAsync();
                    // The terminal keeps trying while the silo is down; it comes back on the same port and data.
                    restart = Task.Run(async () =>
                    {
                        await silo.DisposeAsync();
                        silo = await SiloProcess.StartAsync(settings, data, ct);
                    }, ct);
                }
            }, ct);
            await restart;
            Assert.True(killed);
            Assert.Equal(trace.Frames.Count, terminal.Acknowledged);
            Assert.True(terminal.FailedAttempts > 0, "some publishes should have failed while the silo was down");

            await AssertRecoveredAsync(silo, trace, tsdb, data, ct);
        }
        finally
        {
            await silo.DisposeAsync();
            TempDirectory.Delete(data);
        }
    }

    [Fact]
    public async Task ClusteredSiloKilled_MidRun_TheOtherSiloCarriesOn_RestartedOnItsData_NothingLostNoEpisodeDuplicated()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var redis = await RedisServer.StartAsync(ct);
        await using var postgres = await PostgresServer.StartAsync(ct);
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        var shared = Directory.CreateTempSubdirectory("telemetry-cluster-kill-").FullName;
        Dictionary<string, string> Settings(string name) => new()
        {
            ["Telemetry:Mqtt:Mode"] = "External",
            ["Telemetry:Mqtt:Host"] = broker.Host,
            ["Telemetry:Mqtt:Port"] = broker.Port.ToString(CultureInfo.InvariantCulture),
            ["Telemetry:Mqtt:ClientId"] = $"cluster-kill-{name}",
            ["Telemetry:TimeSeries:InfluxUrl"] = tsdb.Url.ToString(),
            ["Telemetry:Orleans:Clustering"] = "Redis",
            ["Telemetry:Orleans:RedisConnectionString"] = redis.ConnectionString,
            ["Telemetry:Orleans:ClusterId"] = "cluster-kill",
            ["Telemetry:Alerts:Store"] = "Postgres",
            ["Telemetry:Alerts:ConnectionString"] = postgres.ConnectionString,
            // One admin key for the cluster: the first silo writes it, the second finds keys in the shared database.
            ["Telemetry:Api:AdminKeyFile"] = Path.Combine(shared, "admin.key"),
        };
        var trace = FaultTrace.Create(trucks: 10, framesPerTruck: 150, seed: 7500, withExceedance: true);
        var dataA = Path.Combine(shared, "a");
        var dataB = Path.Combine(shared, "b");
        Directory.CreateDirectory(dataA);
        Directory.CreateDirectory(dataB);
        var siloA = await SiloProcess.StartAsync(Settings("a"), dataA, ct);
        var siloB = await SiloProcess.StartAsync(Settings("b"), dataB, ct);
        try
        {
            await using var terminal = new RepublishingTerminal(broker.Host, broker.Port, "fault-cluster-kill");
            var killed = false;
            var killAt = trace.Frames.Count * 3 / 5;
            double decodedByBAtKill = 0;
            await terminal.PublishAllAsync(trace.Frames, inFlight: 50, perSecond: 150, TimeSpan.FromMinutes(4), async acked =>
            {
                if (acked == killAt && !killed)
                {
                    killed = true;
                    await Eventually.WaitAsync(async () => (await AlertsAsync(siloB.Http, trace.ExceedingVin!, ct)).Count > 0,
                        TimeSpan.FromSeconds(30), "R1 should be open before the kill", ct);
                    decodedByBAtKill = await siloB.Http.MetricAsync("telemetry_ingest_decoded_total", ct);
                    await siloA.KillAsync();
                }
            }, ct);
            Assert.True(killed);
            Assert.Equal(trace.Frames.Count, terminal.Acknowledged);
            Assert.True(await siloB.Http.MetricAsync("telemetry_ingest_decoded_total", ct) > decodedByBAtKill,
                "the surviving silo kept storing frames while the other one was dead");

            // The killed silo comes back on its own data directory: its journal is shipped, and the broker delivers
            // what its session had not acknowledged.
            await siloA.DisposeAsync();
            siloA = await SiloProcess.StartAsync(Settings("a"), dataA, ct);
            // Both silos idle, three polls in a row: nothing in flight (a frame whose grain was on the killed silo
            // waits until the cluster has declared that silo dead) and the journals shipped.
            var idlePolls = 0;
            await Eventually.WaitAsync(async () =>
            {
                var busy = false;
                foreach (var silo in new[] { siloA, siloB })
                {
                    busy |= await silo.Http.MetricAsync("telemetry_ingest_in_flight", ct) != 0
                        || await silo.Http.MetricAsync("telemetry_storage_shipper_lag_records", ct) != 0;
                }
                idlePolls = busy ? 0 : idlePolls + 1;
                return idlePolls >= 3;
            }, StoreTimeout, "both silos take every frame and ship everything", ct);

            // The episodes are in the shared database: the exceeding truck's R1 once and still open, no rule twice.
            var episodes = await AlertsAsync(siloB.Http, trace.ExceedingVin!, ct);
            var r1s = episodes.Where(a => a.RuleId == "R1").ToList();
            Assert.True(r1s.Count == 1, Describe(episodes));
            Assert.Equal(AlertStatus.Open, r1s[0].Status);
            Assert.Equal(episodes.Count, episodes.Select(a => a.RuleId).Distinct().Count());

            await siloA.KillAsync();
            await siloB.KillAsync();
            var overlap = await trace.AssertStoredAfterCrashAsync(tsdb,
                [Path.Combine(dataA, "data", "journal"), Path.Combine(dataB, "data", "journal")], StoreTimeout, ct);
            TestContext.Current.TestOutputHelper?.WriteLine($"(VIN, second) journaled by both silos: {overlap} of {trace.TotalSamples}");
        }
        catch (Exception)
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"silo a:\n{siloA.Output}\nsilo b:\n{siloB.Output}");
            throw;
        }
        finally
        {
            await siloA.DisposeAsync();
            await siloB.DisposeAsync();
            TempDirectory.Delete(shared);
        }
    }

    /// <summary>
    /// After a kill and restart: everything shipped, the exceeding truck's R1 episode once and still
    /// open, no rule with two episodes; then, the silo stopped, every sample stored (see
    /// <see cref="FaultTrace.AssertStoredAfterCrashAsync"/>).
    /// </summary>
    private static async Task AssertRecoveredAsync(SiloProcess silo, FaultTrace trace, VictoriaMetricsServer tsdb, string data, CancellationToken ct)
    {
        await Eventually.WaitAsync(async () => await silo.Http.MetricAsync("telemetry_storage_shipper_lag_records", ct) == 0,
            StoreTimeout, "the restarted silo ships everything", ct);
        var episodes = await AlertsAsync(silo.Http, trace.ExceedingVin!, ct);
        var r1s = episodes.Where(a => a.RuleId == "R1").ToList();
        Assert.True(r1s.Count == 1, Describe(episodes));
        Assert.Equal(AlertStatus.Open, r1s[0].Status);
        Assert.Equal(episodes.Count, episodes.Select(a => a.RuleId).Distinct().Count());

        await silo.KillAsync();
        await trace.AssertStoredAfterCrashAsync(tsdb, Path.Combine(data, "data", "journal"), StoreTimeout, ct);
    }

    private static string Describe(IEnumerable<Alert> episodes) =>
        "episodes: " + string.Join("; ", episodes.Select(a => $"{a.Id} {a.Status} {a.StartUtc:HH:mm:ss}-{a.EndUtc:HH:mm:ss} rev {a.Revision}"));

    private static async Task<IReadOnlyList<Alert>> AlertsAsync(HttpClient http, string vin, CancellationToken ct) =>
        (await http.GetFromJsonAsync<SiloUnderTest.AlertPageDocument>($"/api/alerts?vin={vin}", TelemetryJson.Options, ct))?.Items ?? [];

}
