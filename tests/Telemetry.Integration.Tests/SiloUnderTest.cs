using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Api;
using Telemetry.Ingest;
using Telemetry.Silo;
using Telemetry.Storage;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The real silo (Orleans, ingest, storage, API) in this process, wired exactly as Program.cs
/// does, on free ports and a temporary data directory.
/// </summary>
public sealed class SiloUnderTest : IAsyncDisposable
{
    private readonly WebApplication _app;

    private SiloUnderTest(WebApplication app, Uri apiUrl, string dataDirectory)
    {
        _app = app;
        ApiUrl = apiUrl;
        DataDirectory = dataDirectory;
        Http = new HttpClient { BaseAddress = apiUrl };
    }

    /// <summary>Base address of the HTTP API.</summary>
    public Uri ApiUrl { get; }

    /// <summary>Where alerts and dead letters are kept.</summary>
    public string DataDirectory { get; }

    /// <summary>Client of the API.</summary>
    public HttpClient Http { get; }

    /// <summary>The host's services.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Starts a silo subscribed to <paramref name="broker"/> and writing to <paramref name="influxUrl"/>
    /// (or to line-protocol files in its data directory when null). <paramref name="services"/>
    /// may replace registrations after the host's own wiring.
    /// </summary>
    public static async Task<SiloUnderTest> StartAsync(MosquittoServer broker, Uri? influxUrl, IDictionary<string, string>? settings = null,
        Action<IServiceCollection>? services = null)
    {
        var ports = FreePort.Next(3);
        var data = Directory.CreateTempSubdirectory("telemetry-silo-").FullName;
        var apiUrl = new Uri($"http://127.0.0.1:{ports[0]}");
        var config = new Dictionary<string, string>
        {
            ["Urls"] = apiUrl.ToString(),
            ["Telemetry:Mqtt:Mode"] = "External",
            ["Telemetry:Mqtt:Host"] = broker.Host,
            ["Telemetry:Mqtt:Port"] = broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Telemetry:Mqtt:ClientId"] = $"silo-under-test-{ports[0]}",
            ["Telemetry:Orleans:SiloPort"] = ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Telemetry:Orleans:GatewayPort"] = ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Telemetry:TimeSeries:InfluxUrl"] = influxUrl?.ToString() ?? "",
            ["Telemetry:TimeSeries:Token"] = "test-token",
            ["Telemetry:TimeSeries:Org"] = "test",
            ["Telemetry:TimeSeries:FileDirectory"] = Path.Combine(data, "timeseries"),
            ["Telemetry:Journal:Directory"] = Path.Combine(data, "journal"),
            ["Telemetry:Alerts:FilePath"] = Path.Combine(data, "alerts.jsonl"),
            ["Telemetry:DeadLetters:FilePath"] = Path.Combine(data, "dead-letters.jsonl"),
            ["Telemetry:Orleans:StateDirectory"] = Path.Combine(data, "state"),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            config[key] = value;
        }
        var args = config.Select(kv => $"--{kv.Key}={kv.Value}").ToArray();

        var builder = TelemetryHost.CreateBuilder(args);
        builder.AddTelemetrySilo();
        builder.AddTimeSeriesSink();
        builder.AddAlertStore();
        builder.AddMqttIngest();
        builder.AddTelemetryObservability();
        services?.Invoke(builder.Services);
        var app = builder.Build();
        app.MapTelemetryApi();
        app.MapTelemetryMetrics();
        await app.StartAsync();
        var silo = new SiloUnderTest(app, apiUrl, data);
        var ingest = app.Services.GetRequiredService<MqttIngestService>();
        await Eventually.WaitAsync(() => ingest.IsSubscribed, TimeSpan.FromSeconds(30), "the silo's ingest should subscribe to the broker");
        return silo;
    }

    /// <summary>GET /api/alerts with an optional query string.</summary>
    public async Task<IReadOnlyList<Alert>> GetAlertsAsync(string query = "")
    {
        var alerts = await Http.GetFromJsonAsync<List<Alert>>($"/api/alerts{query}", TelemetryJson.Options);
        return alerts ?? [];
    }

    /// <summary>The ingest counters.</summary>
    public IngestMetrics Ingest => _app.Services.GetRequiredService<IngestMetrics>();

    /// <summary>Stops the host (ingest, grains, shipper) and keeps its data directory until disposed.</summary>
    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a finalising writer; the temp folder is cleaned by the OS.
        }
    }
}
