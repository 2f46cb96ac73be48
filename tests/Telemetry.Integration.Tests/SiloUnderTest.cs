using System.Globalization;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Ingest;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The real silo program (its own <c>Program.cs</c>, hosted by <see cref="WebApplicationFactory{TEntryPoint}"/> on
/// Kestrel) with settings overridden: free ports, a temporary data directory and the given broker. No wiring
/// of its own, so a test cannot pass on wiring the product does not have.
/// </summary>
public sealed class SiloUnderTest : IAsyncDisposable
{
    private readonly SiloFactory _factory;

    private SiloUnderTest(SiloFactory factory, Uri apiUrl, string dataDirectory, string adminKeyFile)
    {
        _factory = factory;
        ApiUrl = apiUrl;
        DataDirectory = dataDirectory;
        Http = new HttpClient { BaseAddress = apiUrl };
        AdminKeyFile = adminKeyFile;
        Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", File.ReadAllText(AdminKeyFile));
    }

    /// <summary>The admin key the first start wrote (<c>Telemetry:Api:AdminKeyFile</c>; silos on one database share one).</summary>
    public string AdminKeyFile { get; }

    /// <summary>A client of the API without credentials.</summary>
    public HttpClient Anonymous() => new() { BaseAddress = ApiUrl };

    /// <summary>A client of the API that presents <paramref name="key"/>.</summary>
    public HttpClient WithKey(string key)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Base address of the HTTP API.</summary>
    public Uri ApiUrl { get; }

    /// <summary>Where alerts and dead letters are kept.</summary>
    public string DataDirectory { get; }

    /// <summary>Client of the API, with the admin key.</summary>
    public HttpClient Http { get; }

    /// <summary>The host's services.</summary>
    public IServiceProvider Services => _factory.Services;

    /// <summary>
    /// Starts a silo subscribed to <paramref name="broker"/> and writing to <paramref name="influxUrl"/>
    /// (or to line-protocol files in its data directory when null). <paramref name="services"/>
    /// may replace registrations after the program's own wiring.
    /// </summary>
    public static Task<SiloUnderTest> StartAsync(MosquittoServer broker, Uri? influxUrl, IDictionary<string, string>? settings = null,
        Action<IServiceCollection>? services = null)
    {
        ArgumentNullException.ThrowIfNull(broker);
        var mqtt = new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:Mode"] = "External",
            ["Telemetry:Mqtt:Host"] = broker.Host,
            ["Telemetry:Mqtt:Port"] = broker.Port.ToString(CultureInfo.InvariantCulture),
        };
        return StartCoreAsync(mqtt, influxUrl, settings, services);
    }

    /// <summary>
    /// Starts a silo that runs its embedded broker on a free loopback port (<see cref="MqttPort"/>), with its own
    /// defaults (devices authenticate) unless <paramref name="settings"/> say otherwise.
    /// </summary>
    public static Task<SiloUnderTest> StartEmbeddedAsync(Uri? influxUrl, IDictionary<string, string>? settings = null,
        Action<IServiceCollection>? services = null)
    {
        var mqtt = new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:Mode"] = "Embedded",
            ["Telemetry:Mqtt:Host"] = "127.0.0.1",
            ["Telemetry:Mqtt:Port"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        };
        return StartCoreAsync(mqtt, influxUrl, settings, services);
    }

    /// <summary>The MQTT port of the broker the silo uses (its own, when embedded).</summary>
    public int MqttPort => _factory.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<MqttIngestOptions>>().Value.Port;

    private static async Task<SiloUnderTest> StartCoreAsync(Dictionary<string, string> mqtt, Uri? influxUrl, IDictionary<string, string>? settings,
        Action<IServiceCollection>? services)
    {
        var ports = FreePort.Next(3);
        var data = Directory.CreateTempSubdirectory("telemetry-silo-").FullName;
        var apiUrl = new Uri($"http://127.0.0.1:{ports[0]}");
        var config = new Dictionary<string, string>(mqtt)
        {
            ["Urls"] = apiUrl.ToString(),
            ["Telemetry:Mqtt:ClientId"] = $"silo-under-test-{ports[0]}",
            ["Telemetry:Orleans:SiloPort"] = ports[1].ToString(CultureInfo.InvariantCulture),
            ["Telemetry:Orleans:GatewayPort"] = ports[2].ToString(CultureInfo.InvariantCulture),
            ["Telemetry:TimeSeries:InfluxUrl"] = influxUrl?.ToString() ?? "",
            ["Telemetry:TimeSeries:Token"] = "test-token",
            ["Telemetry:TimeSeries:Org"] = "test",
            ["Telemetry:TimeSeries:FileDirectory"] = Path.Combine(data, "timeseries"),
            ["Telemetry:Journal:Directory"] = Path.Combine(data, "journal"),
            ["Telemetry:Alerts:FilePath"] = Path.Combine(data, "alerts.jsonl"),
            ["Telemetry:Alerts:DatabasePath"] = Path.Combine(data, "telemetry.db"),
            ["Telemetry:Api:AdminKeyFile"] = Path.Combine(data, "keys", "admin.key"),
            ["Telemetry:DeadLetters:FilePath"] = Path.Combine(data, "dead-letters.jsonl"),
            ["Telemetry:Orleans:StateDirectory"] = Path.Combine(data, "state"),
            ["Telemetry:Simulation:Trucks"] = "0",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            config[key] = value;
        }

        var factory = new SiloFactory(config, services);
        factory.UseKestrel(ports[0]);
        factory.StartServer();
        var silo = new SiloUnderTest(factory, apiUrl, data, config["Telemetry:Api:AdminKeyFile"]);
        var ingest = factory.Services.GetRequiredService<MqttIngestService>();
        await Eventually.WaitAsync(() => ingest.IsSubscribed, TimeSpan.FromSeconds(30), "the silo's ingest should subscribe to the broker");
        return silo;
    }

    /// <summary>GET /api/alerts with an optional query string.</summary>
    public async Task<IReadOnlyList<Alert>> GetAlertsAsync(string query = "")
    {
        var page = await Http.GetFromJsonAsync<AlertPageDocument>($"/api/alerts{query}", TelemetryJson.Options);
        return page?.Items ?? [];
    }

    /// <summary>GET /api/alerts/{id}: one episode with its evidence.</summary>
    public async Task<Alert> GetAlertAsync(string id)
    {
        var detail = await Http.GetFromJsonAsync<AlertDetailDocument>($"/api/alerts/{Uri.EscapeDataString(id)}", TelemetryJson.Options);
        return detail!.Alert;
    }

    /// <summary>The ingest counters.</summary>
    public IngestMetrics Ingest => _factory.Services.GetRequiredService<IngestMetrics>();

    /// <summary>Stops the host (ingest, grains, shipper) and keeps its data directory until disposed.</summary>
    public async Task StopAsync() => await _factory.DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _factory.DisposeAsync();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A file still open by a finalising writer; the temp folder is cleaned by the OS.
        }
    }

    /// <summary>The shape of <c>GET /api/alerts</c>: items carry the episode's fields (and a case, not read here).</summary>
    public sealed record class AlertPageDocument(List<Alert> Items, long Total, string? NextCursor);

    /// <summary>The shape of <c>GET /api/alerts/{id}</c>: the episode with evidence (and its case and audit, not read here).</summary>
    public sealed record class AlertDetailDocument(Alert Alert);

    /// <summary>The silo's own <c>Program</c>, its settings overridden as the command line would.</summary>
    private sealed class SiloFactory(IReadOnlyDictionary<string, string> settings, Action<IServiceCollection>? services)
        : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
            if (services is not null)
            {
                builder.ConfigureTestServices(services);
            }
        }
    }
}
