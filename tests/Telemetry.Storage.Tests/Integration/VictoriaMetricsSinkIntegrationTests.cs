using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Integration;

/// <summary><see cref="InfluxTimeSeriesSink"/> writing to a real VictoriaMetrics through its InfluxDB v2 write API.</summary>
[Trait("Category", "Integration")]
public sealed class VictoriaMetricsSinkIntegrationTests(VictoriaMetricsFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static InfluxTimeSeriesSink CreateSink(Uri url, int maxRetries = 2) => new(
        Options.Create(new TimeSeriesOptions
        {
            InfluxUrl = url.ToString(),
            BatchSize = 500,
            FlushInterval = TimeSpan.FromMilliseconds(20),
            MaxRetries = maxRetries,
            RetryDelay = TimeSpan.FromMilliseconds(50),
            RequestTimeout = TimeSpan.FromSeconds(5),
        }),
        NullLogger<InfluxTimeSeriesSink>.Instance,
        new StorageMetrics());

    /// <summary>K samples per vehicle, one field missing in every fifth sample, position invalid in every seventh.</summary>
    private static Dictionary<string, Sample[]> Fleet(int vehicles, int samplesEach, DateTime start) =>
        Enumerable.Range(0, vehicles).ToDictionary(
            _ => TestData.NewVin("LVMIT"),
            v => Enumerable.Range(0, samplesEach).Select(i =>
            {
                var sample = TestData.FullSample(start.AddSeconds(i), seed: v * 1000 + i);
                if (i % 5 == 0)
                    sample = sample with { NoxDownstreamPpm = double.NaN };
                if (i % 7 == 0)
                    sample = sample with { PositionStatus = 1 };
                return sample;
            }).ToArray());

    private static int ExpectedValues(IEnumerable<Sample[]> fleet) =>
        fleet.SelectMany(s => s).Sum(s => SampleFields.All.Count(f => Sample.Has(f.Get(s))) + 2);

    private static string Match(IEnumerable<string> vins) =>
        $"{{__name__=~\"hdv_.*\",vin=~\"{string.Join('|', vins)}\"}}";

    [Fact]
    public async Task WriteSamplesAsync_KSamplesForMVehicles_AreStoredExactlyOnceWithTheirValues()
    {
        const int vehicles = 6, samplesEach = 40;
        var fleet = Fleet(vehicles, samplesEach, TestData.RecentSecond());
        var server = fixture.Server;

        await using (var sink = CreateSink(server.Url))
        {
            // Frames of 10 samples, all vehicles at once, as vehicle grains would write them.
            await Task.WhenAll(fleet.Select(async kv =>
            {
                foreach (var frame in kv.Value.Chunk(10))
                    await sink.WriteSamplesAsync(kv.Key, frame, Ct);
            }));
        }

        var expected = ExpectedValues(fleet.Values);
        var series = await server.WaitForSampleCountAsync(Match(fleet.Keys), expected, Patience, Ct);

        Assert.Equal(expected, VictoriaMetricsServer.CountSamples(series));
        foreach (var (vin, samples) in fleet)
        {
            foreach (var field in SampleFields.All)
            {
                var stored = Assert.Single(series, s => s.Name == $"hdv_{field.Name}" && s.Label("vin") == vin);
                var sent = samples.Where(s => Sample.Has(field.Get(s))).ToArray();
                Assert.Equal(sent.Select(s => LineProtocol.ToUnixSeconds(s.TimeUtc) * 1000), stored.TimestampsMs);
                Assert.Equal(sent.Select(field.Get), stored.Values);
            }

            var valid = Assert.Single(series, s => s.Name == "hdv_positionValid" && s.Label("vin") == vin);
            Assert.Equal(samples.Select(s => s.PositionValid ? 1.0 : 0.0), valid.Values);
            var status = Assert.Single(series, s => s.Name == "hdv_positionStatus" && s.Label("vin") == vin);
            Assert.Equal(samples.Select(s => (double)s.PositionStatus), status.Values);
        }
    }

    [Fact]
    public async Task WriteSamplesAsync_SameSamplesWrittenTwice_AreStoredOnce()
    {
        var fleet = Fleet(2, 20, TestData.RecentSecond(minutesAgo: 20));
        var server = fixture.Server;
        var expected = ExpectedValues(fleet.Values);

        await using (var sink = CreateSink(server.Url))
        {
            foreach (var (vin, samples) in fleet)
                await sink.WriteSamplesAsync(vin, samples, Ct);
            await server.WaitForSampleCountAsync(Match(fleet.Keys), expected, Patience, Ct);

            // Re-delivery: the same frames again, in other chunks.
            foreach (var (vin, samples) in fleet)
            {
                foreach (var frame in samples.Chunk(7))
                    await sink.WriteSamplesAsync(vin, frame, Ct);
            }
        }

        var series = await server.ExportAsync(Match(fleet.Keys), Ct);
        Assert.Equal(expected, VictoriaMetricsServer.CountSamples(series));
        Assert.All(series, s => Assert.Equal(s.TimestampsMs.Distinct().Count(), s.TimestampsMs.Count));
    }

    [Fact]
    public async Task WriteAlertAsync_StoresMeasuredThresholdRevisionAndDurationWithTags()
    {
        var vin = TestData.NewVin("LVMAL");
        var alert = TestData.Alert(vin, startUtc: TestData.RecentSecond(), revision: 2, fleet: "Fleet A, north=1");
        var server = fixture.Server;

        await using (var sink = CreateSink(server.Url))
            await sink.WriteAlertAsync(alert, Ct);

        var series = await server.WaitForSampleCountAsync($"{{__name__=~\"hdv_alert_.*\",vin=\"{vin}\"}}", 6, Patience, Ct);
        Assert.Equal(6, series.Count);
        Assert.All(series, s =>
        {
            Assert.Equal("R1", s.Label("rule"));
            Assert.Equal("warning", s.Label("severity"));
            Assert.Equal("open", s.Label("status"));
            Assert.Equal("Fleet A, north=1", s.Label("fleet"));
            Assert.Equal([LineProtocol.ToUnixSeconds(alert.StartUtc) * 1000], s.TimestampsMs);
        });
        Assert.Equal([812.4], Assert.Single(series, s => s.Name == "hdv_alert_measured_meanNoxPpm").Values);
        Assert.Equal([500.0], Assert.Single(series, s => s.Name == "hdv_alert_threshold_noxPpm").Values);
        Assert.Equal([2.0], Assert.Single(series, s => s.Name == "hdv_alert_revision").Values);
        Assert.Equal([300.0], Assert.Single(series, s => s.Name == "hdv_alert_durationS").Values);
        Assert.Equal([alert.Position!.Value.Latitude], Assert.Single(series, s => s.Name == "hdv_alert_latitude").Values);
        Assert.Equal([alert.Position!.Value.Longitude], Assert.Single(series, s => s.Name == "hdv_alert_longitude").Values);
    }

    [Fact]
    public async Task WriteSamplesAsync_ServerDown_FaultsTheTask_AndWritesAgainOnceItIsBack()
    {
        // A server of its own: stopping the shared one would disturb the other tests.
        await using var server = await VictoriaMetricsServer.StartAsync(Ct);
        var vin = TestData.NewVin("LVMDN");
        var start = TestData.RecentSecond();
        await using var sink = CreateSink(server.Url, maxRetries: 1);
        await sink.WriteSamplesAsync(vin, [TestData.FullSample(start)], Ct);

        await server.StopAsync();
        var error = await Record.ExceptionAsync(async () => await sink.WriteSamplesAsync(vin, [TestData.FullSample(start.AddSeconds(1))], Ct));

        // InfluxDB.Client reports a refused connection as an HttpException around the HttpRequestException.
        var http = Assert.IsType<InfluxDB.Client.Core.Exceptions.HttpException>(error);
        Assert.IsType<HttpRequestException>(http.InnerException);
        await server.RestartAsync(Ct);
        await sink.WriteSamplesAsync(vin, [TestData.FullSample(start.AddSeconds(2))], Ct);
        var speed = await Eventually.WaitForAsync(
            async () => (await server.ExportAsync($"hdv_speedKmh{{vin=\"{vin}\"}}", Ct)).SingleOrDefault(),
            s => s is not null && s.Values.Count >= 2, Patience, "both accepted samples are readable",
            s => s is null ? "no series" : string.Join(',', s.TimestampsMs.Select(t => t.ToString(CultureInfo.InvariantCulture))), Ct);
        Assert.Equal([LineProtocol.ToUnixSeconds(start) * 1000, LineProtocol.ToUnixSeconds(start.AddSeconds(2)) * 1000], speed!.TimestampsMs);
    }
}
