using System.Text;
using System.Text.Json;

namespace Telemetry.Testing;

/// <summary>One series of an InfluxQL result: measurement, tags of a GROUP BY, columns and rows.</summary>
public sealed record class InfluxSeries(
    string Name,
    IReadOnlyDictionary<string, string> Tags,
    IReadOnlyList<string> Columns,
    IReadOnlyList<IReadOnlyList<JsonElement>> Rows)
{
    /// <summary>The cells of column <paramref name="column"/>, one per row.</summary>
    public IReadOnlyList<JsonElement> Column(string column)
    {
        var index = Columns.ToList().IndexOf(column);
        if (index < 0)
            throw new KeyNotFoundException($"Series {Name} has no column {column}; it has {string.Join(", ", Columns)}.");
        return [.. Rows.Select(r => r[index])];
    }
}

/// <summary>
/// A real InfluxDB 1.6 server (InfluxQL, what the dashboards query) on free loopback ports, with
/// its own configuration file and state in a temporary directory, and one database created.
/// InfluxDB 1.6 has no <c>/api/v2/write</c>: write with <see cref="WriteLineProtocolAsync"/>.
/// </summary>
public sealed class InfluxDb1Server : LoopbackServer
{
    private const string Executable = "influxd";
    private const string Package = "influxdb";

    private readonly HttpClient _http;
    private readonly string _configPath;

    private InfluxDb1Server(string binary, string directory, int httpPort, int rpcPort, string database)
        : base(Executable, binary, directory)
    {
        _configPath = Path.Combine(directory, "influxdb.conf");
        HttpPort = httpPort;
        RpcPort = rpcPort;
        Database = database;
        Url = new Uri($"http://127.0.0.1:{httpPort}/");
        _http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>HTTP API base URL.</summary>
    public Uri Url { get; }

    /// <summary>The HTTP API port.</summary>
    public int HttpPort { get; }

    /// <summary>The backup/restore RPC port (bound by influxd, unused by tests).</summary>
    public int RpcPort { get; }

    /// <summary>The database created at start.</summary>
    public string Database { get; }

    /// <summary>The temporary directory holding the configuration, meta, data and WAL.</summary>
    public string Directory => ServerDirectory;

    /// <summary>The last lines the server wrote.</summary>
    public string Output => ServerOutput;

    /// <summary>Starts a server with a database named <c>telemetry</c>.</summary>
    public static Task<InfluxDb1Server> StartAsync(CancellationToken cancellationToken = default) =>
        StartAsync("telemetry", cancellationToken);

    /// <summary>Starts a server with a database named <paramref name="database"/>.</summary>
    /// <exception cref="ServerNotInstalledException">influxd is not installed.</exception>
    public static async Task<InfluxDb1Server> StartAsync(string database, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(database);
        return await StartServerAsync(
            Executable,
            Package,
            "influxdb",
            (binary, directory) =>
            {
                var ports = FreePort.Next(2);
                return new InfluxDb1Server(binary, directory, ports[0], ports[1], database);
            },
            cancellationToken);
    }

    /// <summary>
    /// Writes line protocol to the database (<c>POST /write?db=..&amp;precision=..</c>).
    /// </summary>
    /// <param name="lines">One point per line.</param>
    /// <param name="precision">Timestamp precision: <c>s</c>, <c>ms</c>, <c>u</c> or <c>ns</c>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="HttpRequestException">The server refused the write; the message carries its answer.</exception>
    public async Task WriteLineProtocolAsync(string lines, string precision = "s", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        using var content = new StringContent(lines, Encoding.UTF8, "text/plain");
        var uri = new Uri($"write?db={Uri.EscapeDataString(Database)}&precision={Uri.EscapeDataString(precision)}", UriKind.Relative);
        using var response = await _http.PostAsync(uri, content, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"influxd refused the write ({(int)response.StatusCode}): {await response.Content.ReadAsStringAsync(cancellationToken)}");
    }

    /// <summary>Runs one InfluxQL statement against the database and returns the series of its result.</summary>
    /// <exception cref="InvalidOperationException">The server answered with an error.</exception>
    public async Task<IReadOnlyList<InfluxSeries>> QueryAsync(string influxQl, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(influxQl);
        using var content = new FormUrlEncodedContent([new("db", Database), new("q", influxQl), new("epoch", "s")]);
        using var response = await _http.PostAsync(new Uri("query", UriKind.Relative), content, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        using var document = JsonDocument.Parse(body);
        var root = document.RootElement;
        if (root.TryGetProperty("error", out var error))
            throw new InvalidOperationException($"influxd rejected `{influxQl}`: {error.GetString()}");
        var result = new List<InfluxSeries>();
        foreach (var statement in root.GetProperty("results").EnumerateArray())
        {
            if (statement.TryGetProperty("error", out var statementError))
                throw new InvalidOperationException($"influxd rejected `{influxQl}`: {statementError.GetString()}");
            if (!statement.TryGetProperty("series", out var series))
                continue;
            foreach (var s in series.EnumerateArray())
            {
                var tags = new Dictionary<string, string>(StringComparer.Ordinal);
                if (s.TryGetProperty("tags", out var tagObject))
                {
                    foreach (var tag in tagObject.EnumerateObject())
                        tags[tag.Name] = tag.Value.GetString() ?? "";
                }

                var columns = s.GetProperty("columns").EnumerateArray().Select(c => c.GetString() ?? "").ToArray();
                var rows = s.TryGetProperty("values", out var values)
                    ? values.EnumerateArray().Select(r => (IReadOnlyList<JsonElement>)[.. r.EnumerateArray().Select(c => c.Clone())]).ToArray()
                    : [];
                result.Add(new InfluxSeries(s.TryGetProperty("name", out var name) ? name.GetString() ?? "" : "", tags, columns, rows));
            }
        }

        return result;
    }

    protected override Task PrepareAsync(CancellationToken cancellationToken) =>
        File.WriteAllTextAsync(_configPath, Config(), cancellationToken);

    protected override IEnumerable<string> BuildArguments() => ["-config", _configPath];

    protected override async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(new Uri("ping", UriKind.Relative), cancellationToken);
        return response.IsSuccessStatusCode;
    }

    protected override async Task InitializeAsync(CancellationToken cancellationToken) =>
        await QueryAsync($"CREATE DATABASE \"{Database}\"", cancellationToken);

    protected override void ReleaseResources() => _http.Dispose();

    // The packaged default writes under /var/lib/influxdb and binds 8086 and 8088: everything here is private.
    private string Config() => new StringBuilder()
        .Line("reporting-disabled = true")
        .Line($"bind-address = \"127.0.0.1:{RpcPort}\"")
        .Line("[meta]")
        .Line($"  dir = \"{Directory}/meta\"")
        .Line("[data]")
        .Line($"  dir = \"{Directory}/data\"")
        .Line($"  wal-dir = \"{Directory}/wal\"")
        .Line("  query-log-enabled = false")
        .Line("[http]")
        .Line($"  bind-address = \"127.0.0.1:{HttpPort}\"")
        .Line("  log-enabled = false")
        .ToString();
}
