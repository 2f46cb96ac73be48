using System.Globalization;
using System.Text.Json;

namespace Telemetry.Testing;

/// <summary>One series of <c>/api/v1/export</c>: metric name, labels, and samples in time order.</summary>
/// <param name="Name">The metric name, <c>{measurement}_{field}</c> for InfluxDB line protocol writes.</param>
/// <param name="Labels">Every label but <c>__name__</c>.</param>
/// <param name="Values">Sample values (booleans are 1 and 0).</param>
/// <param name="TimestampsMs">Sample times in Unix milliseconds, one per value.</param>
public sealed record class ExportedSeries(
    string Name,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<double> Values,
    IReadOnlyList<long> TimestampsMs)
{
    /// <summary>The value of <paramref name="label"/>, or null.</summary>
    public string? Label(string label) => Labels.TryGetValue(label, out var value) ? value : null;
}

/// <summary>
/// A real VictoriaMetrics single-node server on a free loopback port, storing in a temporary
/// directory. It accepts the InfluxDB v2 write API (<c>/api/v2/write</c>) that InfluxDB.Client uses.
/// </summary>
/// <remarks>
/// Started with <c>-dedup.minScrapeInterval=1ms</c>: without it VictoriaMetrics keeps every copy of
/// a sample written twice with the same timestamp; with it one sample per series and millisecond
/// remains (on equal timestamps VictoriaMetrics keeps the larger value, not the last written).
/// <c>-search.latencyOffset=0s</c> makes just-written samples queryable at once.
/// </remarks>
public sealed class VictoriaMetricsServer : LoopbackServer
{
    private const string Executable = "victoria-metrics";
    private const string Package = "victoria-metrics";

    private readonly HttpClient _http;

    private VictoriaMetricsServer(string binary, string directory, int port, bool deduplicate)
        : base(Executable, binary, directory)
    {
        Deduplicates = deduplicate;
        Port = port;
        Url = new Uri($"http://127.0.0.1:{port}/");
        _http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Base URL, <c>http://127.0.0.1:PORT/</c>: give it to InfluxDB.Client as is.</summary>
    public Uri Url { get; }

    /// <summary>The HTTP port.</summary>
    public int Port { get; }

    /// <summary>
    /// Whether the server keeps one sample per series and timestamp. A test that proves the
    /// pipeline itself writes each sample once starts it without, so a duplicate shows.
    /// </summary>
    public bool Deduplicates { get; }

    /// <summary>The storage directory (<c>-storageDataPath</c>).</summary>
    public string Directory => ServerDirectory;

    /// <summary>The last lines the server wrote.</summary>
    public string Output => ServerOutput;

    /// <summary>Starts a server with an empty storage directory.</summary>
    /// <exception cref="ServerNotInstalledException">victoria-metrics is not installed.</exception>
    public static Task<VictoriaMetricsServer> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync(deduplicate: true, cancellationToken);

    /// <summary>Starts a server with an empty storage directory, with or without deduplication.</summary>
    /// <exception cref="ServerNotInstalledException">victoria-metrics is not installed.</exception>
    public static async Task<VictoriaMetricsServer> StartAsync(bool deduplicate, CancellationToken cancellationToken = default) =>
        await StartServerAsync(
            Executable,
            Package,
            "victoria-metrics",
            (binary, directory) => new VictoriaMetricsServer(binary, directory, FreePort.Next(), deduplicate),
            cancellationToken);

    /// <summary>Stops the server gracefully (it flushes its data); the port and data stay for <see cref="RestartAsync"/>.</summary>
    public Task StopAsync() => StopServerAsync();

    /// <summary>Stops the server if it runs and starts it again on the same port and data.</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) => RestartServerAsync(cancellationToken);

    /// <summary>Makes every sample written so far visible to queries (<c>/internal/force_flush</c>).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        using var response = await _http.GetAsync(new Uri("internal/force_flush", UriKind.Relative), cancellationToken);
        response.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// Every series matching the series selector <paramref name="match"/> (such as
    /// <c>{__name__=~"hdv_.*",vin="X"}</c>), with all their raw samples, after a flush.
    /// </summary>
    public async Task<IReadOnlyList<ExportedSeries>> ExportAsync(string match, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(match);
        await FlushAsync(cancellationToken);
        // The default end is now: allow a day ahead so that clock skew does not hide samples.
        var end = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var query = $"api/v1/export?match[]={Uri.EscapeDataString(match)}&start=0&end={end}";
        using var response = await _http.GetAsync(new Uri(query, UriKind.Relative), cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"victoria-metrics export of {match} answered {(int)response.StatusCode}: {body}");
        return ParseExport(body);
    }

    /// <summary>
    /// Polls <see cref="ExportAsync"/> until the matching series hold at least
    /// <paramref name="expected"/> samples in total, and returns them: assert the exact count on the result.
    /// </summary>
    /// <exception cref="EventuallyTimeoutException">Fewer samples than expected arrived in time.</exception>
    public Task<IReadOnlyList<ExportedSeries>> WaitForSampleCountAsync(string match, int expected, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        Eventually.WaitForAsync(
            () => ExportAsync(match, cancellationToken),
            series => CountSamples(series) >= expected,
            timeout,
            $"victoria-metrics holds {expected} samples matching {match}",
            series => $"{CountSamples(series)} samples in {series.Count} series",
            cancellationToken);

    /// <summary>Total number of samples in <paramref name="series"/>.</summary>
    public static int CountSamples(IEnumerable<ExportedSeries> series) => series.Sum(s => s.Values.Count);

    /// <summary>Parses the JSON lines of <c>/api/v1/export</c>.</summary>
    public static IReadOnlyList<ExportedSeries> ParseExport(string jsonLines)
    {
        ArgumentNullException.ThrowIfNull(jsonLines);
        var result = new List<ExportedSeries>();
        foreach (var line in jsonLines.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            var name = "";
            foreach (var label in root.GetProperty("metric").EnumerateObject())
            {
                if (label.Name == "__name__")
                    name = label.Value.GetString() ?? "";
                else
                    labels[label.Name] = label.Value.GetString() ?? "";
            }

            var values = root.GetProperty("values").EnumerateArray()
                .Select(v => v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN).ToArray();
            var timestamps = root.GetProperty("timestamps").EnumerateArray().Select(t => t.GetInt64()).ToArray();
            result.Add(new ExportedSeries(name, labels, values, timestamps));
        }

        return result;
    }

    protected override IEnumerable<string> BuildArguments()
    {
        List<string> arguments =
        [
            $"-storageDataPath={Directory}",
            $"-httpListenAddr=127.0.0.1:{Port}",
            "-search.latencyOffset=0s",
        ];
        if (Deduplicates)
        {
            arguments.Add("-dedup.minScrapeInterval=1ms");
        }
        return arguments;
    }

    protected override async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(new Uri("health", UriKind.Relative), cancellationToken);
        return response.IsSuccessStatusCode;
    }

    protected override void ReleaseResources() => _http.Dispose();
}
