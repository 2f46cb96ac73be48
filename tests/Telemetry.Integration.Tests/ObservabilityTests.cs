using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Fleet;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// What an operator sees of a running silo: <c>/health/ready</c> follows the broker and the time-series store,
/// <c>/metrics</c> carries every pipeline instrument (and what the Prometheus dashboard asks for), and the
/// pipeline counters reach the time-series store as <c>telemetry_pipeline</c>.
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)] // reads gauges of an in-process silo at /metrics
public sealed partial class ObservabilityTests
{
    private static readonly TimeSpan Turn = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task HealthReady_TurnsUnhealthyWhenTheTsdbOrTheBrokerStops_AndHealthyWhenTheyReturn()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url);

        var (status, live) = await GetAsync(silo, "/health/live", ct);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Healthy", live.RootElement.GetProperty("status").GetString());

        var ready = await WaitForReadyAsync(silo, HttpStatusCode.OK, "the silo should be ready with broker and TSDB up", ct);
        var checks = ready.RootElement.GetProperty("checks");
        Assert.Equal(["alertStore", "broker", "cluster", "timeSeriesStore"], checks.EnumerateObject().Select(c => c.Name).Order());
        Assert.All(checks.EnumerateObject(), c => Assert.Equal("Healthy", c.Value.GetProperty("status").GetString()));
        Assert.Equal("Active", checks.GetProperty("cluster").GetProperty("data").GetProperty("status").GetString());
        Assert.Equal(tsdb.Url.ToString(), checks.GetProperty("timeSeriesStore").GetProperty("data").GetProperty("target").GetString());

        await tsdb.StopAsync();
        var down = await WaitForReadyAsync(silo, HttpStatusCode.ServiceUnavailable, "the TSDB is stopped", ct);
        Assert.Equal("Unhealthy", down.RootElement.GetProperty("checks").GetProperty("timeSeriesStore").GetProperty("status").GetString());
        Assert.Equal("Healthy", down.RootElement.GetProperty("checks").GetProperty("broker").GetProperty("status").GetString());

        await tsdb.RestartAsync(ct);
        await WaitForReadyAsync(silo, HttpStatusCode.OK, "the TSDB is back", ct);

        await broker.StopAsync();
        down = await WaitForReadyAsync(silo, HttpStatusCode.ServiceUnavailable, "the broker is stopped", ct);
        Assert.Equal("Unhealthy", down.RootElement.GetProperty("checks").GetProperty("broker").GetProperty("status").GetString());
        (status, _) = await GetAsync(silo, "/health/live", ct);
        Assert.Equal(HttpStatusCode.OK, status);

        await broker.RestartAsync(ct);
        await WaitForReadyAsync(silo, HttpStatusCode.OK, "the broker is back", ct);
    }

    [Fact]
    public async Task Metrics_AfterARunWithAnExceedanceDuplicatesAndGarbage_CarryEveryPipelineInstrument()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url, new Dictionary<string, string>
        {
            ["Telemetry:PipelineMetrics:Interval"] = "00:00:01",
            ["Telemetry:PipelineMetrics:Host"] = "silo-under-test",
        });

        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var options = new FleetOptions
        {
            Trucks = 4,
            Format = FleetFormats.Json,
            ExceedanceShare = 0.25,
            HistoryMinutes = 20,
            FirstIndex = 100,
            Host = broker.Host,
            Port = broker.Port,
        };
        await using var fleet = new FleetPublisher(options, clock);
        await fleet.ConnectAsync(ct);
        await fleet.PublishHistoryAsync(ct);
        var sent = fleet.Progress;
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded >= sent.Frames, Turn, "the silo should decode every frame", ct);
        // The same frames again (deduplicated) and a message that is no frame (rejected).
        await using (var again = new FleetPublisher(options, clock))
        {
            await again.ConnectAsync(ct);
            await again.PublishHistoryAsync(ct);
        }
        await using (var garbage = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct))
        {
            await garbage.PublishAsync($"hdv/{fleet.Trucks[0].Vin}/json", Encoding.UTF8.GetBytes("not a frame"), ct);
        }
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Rejected >= 1, Turn, "the garbage should be rejected", ct);
        await Eventually.WaitForAsync(() => silo.GetAlertsAsync("?rule=R1"), a => a.Count > 0, Turn, "the exceedance should open R1", cancellationToken: ct);
        await GetAsync(silo, "/health/ready", ct); // an HTTP client call (the TSDB probe) and a server request

        string[] instruments =
        [
            "telemetry_ingest_received_total",
            "telemetry_ingest_decoded_total",
            "telemetry_ingest_rejected_total{",
            "telemetry_samples_accepted_total",
            "telemetry_samples_deduplicated_total",
            "telemetry_storage_journal_appended_total",
            "telemetry_storage_shipper_lines_total",
            "telemetry_storage_shipper_lag_records",
            "telemetry_storage_shipper_lag_seconds",
            "telemetry_alerts_changes_total{",
            "telemetry_alerts_open{",
            "telemetry_alerts_latency_milliseconds_bucket{",
            "telemetry_vehicles_online",
            "http_server_request_duration_seconds_bucket{",
            "http_client_request_duration_seconds_bucket{",
            "orleans_catalog_activations",
            "dotnet_process_cpu_time_seconds_total",
        ];
        // Counters appear once first recorded (the shipper's after its first request): wait for all of them.
        var text = await Eventually.WaitForAsync(
            () => silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct),
            t => instruments.All(name => t.Contains(name, StringComparison.Ordinal)),
            Turn, "the metrics should show every pipeline instrument",
            t => "missing: " + string.Join(", ", instruments.Where(name => !t.Contains(name, StringComparison.Ordinal))), ct);
        var types = string.Join(", ", text.Split('\n').Where(l => l.StartsWith("# TYPE", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]));
        Assert.All(instruments, name => Assert.True(text.Contains(name, StringComparison.Ordinal), $"/metrics lacks {name}; it has {types}"));
        Assert.Contains("reason=\"", Line(text, "telemetry_ingest_rejected_total{"), StringComparison.Ordinal);
        Assert.Contains("kind=\"Opened\"", text, StringComparison.Ordinal);
        await Eventually.WaitAsync(async () => await silo.Http.MetricAsync("telemetry_vehicles_online", ct) == 4, Turn,
            "all four trucks should count as online", ct);
        Assert.True(await silo.Http.MetricAsync("telemetry_alerts_open", ct) >= 1);

        // Every series the Prometheus dashboard asks for is exposed.
        var dashboard = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "dashboards", "platform-health-prometheus.json"), ct);
        foreach (var metric in PrometheusMetric().Matches(dashboard).Select(m => m.Value).Distinct())
            Assert.True(text.Contains(metric, StringComparison.Ordinal), $"the Prometheus dashboard reads {metric}, which /metrics does not carry");

        // The same counters reach the time-series store.
        var pipeline = await tsdb.WaitForSampleCountAsync("{__name__=\"telemetry_pipeline_received\",host=\"silo-under-test\"}", 1, Turn, ct);
        Assert.True(pipeline.Single().Values.Max() >= sent.Frames);
        var rejected = await tsdb.WaitForSampleCountAsync("{__name__=\"telemetry_pipeline_rejected_count\"}", 1, Turn, ct);
        Assert.NotNull(rejected.Single().Label("reason"));
    }

    [Fact]
    public async Task Metrics_OfTwoSilosInOneProcess_AreEachTheirOwn_AndOutliveTheOtherSilo()
    {
        // Two hosts in one process have meters of the same names. Each silo's /metrics counts its own frames only, and
        // stopping one silo does not take the other's instruments off its /metrics.
        var ct = TestContext.Current.CancellationToken;
        const string Vin = "LRPT0000000007201";
        await using var brokerA = await MosquittoServer.StartAsync(ct);
        await using var brokerB = await MosquittoServer.StartAsync(ct);
        await using var siloA = await SiloUnderTest.StartAsync(brokerA, influxUrl: null);
        var siloB = await SiloUnderTest.StartAsync(brokerB, influxUrl: null);
        var t0 = DeviceAccessTests.RecentSecond();
        async Task PublishAsync(MosquittoServer broker, int second)
        {
            await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);
            await terminal.PublishAsync($"hdv/{Vin}/gb17691", DeviceAccessTests.Frame(Vin, t0.AddSeconds(second)), ct);
        }
        // /metrics answers from a response cached for 300 ms (the exporter's default), so a count is waited for.
        Task<double> DecodedAsync(SiloUnderTest silo, double expected) => Eventually.WaitForAsync(
            () => silo.Http.MetricAsync("telemetry_ingest_decoded_total", ct), v => v == expected, Turn,
            $"telemetry_ingest_decoded_total should reach {expected}", v => v.ToString(System.Globalization.CultureInfo.InvariantCulture), ct);

        await using (siloB)
        {
            for (var i = 0; i < 2; i++)
                await PublishAsync(brokerB, i);
            await Eventually.WaitAsync(() => siloB.Ingest.Totals.Decoded == 2, Turn, "silo B decodes its 2 frames", ct);
            await PublishAsync(brokerA, 0);
            await Eventually.WaitAsync(() => siloA.Ingest.Totals.Decoded == 1, Turn, "silo A decodes its frame", ct);
            Assert.Equal(1, await DecodedAsync(siloA, 1));
            Assert.Equal(2, await DecodedAsync(siloB, 2));
        }

        for (var i = 1; i < 3; i++)
            await PublishAsync(brokerA, i);
        await Eventually.WaitAsync(() => siloA.Ingest.Totals.Decoded == 3, Turn, "silo A decodes its 3 frames", ct);
        Assert.Equal(3, await DecodedAsync(siloA, 3));
    }

    private static string Line(string text, string prefix) =>
        text.Split('\n').First(l => l.StartsWith(prefix, StringComparison.Ordinal));

    private static async Task<JsonDocument> WaitForReadyAsync(SiloUnderTest silo, HttpStatusCode expected, string because, CancellationToken ct)
    {
        var (_, body) = await Eventually.WaitForAsync(() => GetAsync(silo, "/health/ready", ct), r => r.Status == expected, Turn,
            $"/health/ready should answer {(int)expected} when {because}", cancellationToken: ct);
        return body;
    }

    private static async Task<(HttpStatusCode Status, JsonDocument Body)> GetAsync(SiloUnderTest silo, string path, CancellationToken ct)
    {
        using var response = await silo.Http.GetAsync(new Uri(path, UriKind.Relative), ct);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Telemetry.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"No Telemetry.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"\b(?:telemetry|orleans|http)_[a-z_]+\b")]
    private static partial Regex PrometheusMetric();
}
