using System.Globalization;

namespace Telemetry.Storage;

/// <summary>Where samples and alert changes go as time series (<c>Telemetry:TimeSeries</c>).</summary>
public sealed class TimeSeriesOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Telemetry:TimeSeries";

    /// <summary>
    /// Base URL of an InfluxDB 2.x (or VictoriaMetrics) server for the v2 write API, such as
    /// <c>http://127.0.0.1:8428</c>. Empty: time series go to line-protocol files in <see cref="FileDirectory"/>.
    /// </summary>
    public string InfluxUrl { get; set; } = "";

    /// <summary>API token; empty for servers without authentication (VictoriaMetrics).</summary>
    public string Token { get; set; } = "";

    /// <summary>Organization (InfluxDB 2.x needs one; VictoriaMetrics ignores it).</summary>
    public string Org { get; set; } = "telemetry";

    /// <summary>Bucket (VictoriaMetrics ignores it).</summary>
    public string Bucket { get; set; } = "hdv";

    /// <summary>Directory of the line-protocol files written when no <see cref="InfluxUrl"/> is set; relative to the working directory.</summary>
    public string FileDirectory { get; set; } = "data/timeseries";

    /// <summary>Most points (lines) in one write request; the shipper gathers journal records up to this many.</summary>
    public int BatchSize { get; set; } = 20_000;

    /// <summary>How long a write waits for others to join its batch before it is sent (zero: send what is queued at once).</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Retries of a failed write request before the writes in it fail.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Delay before the first retry; it doubles on each further retry (with jitter).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Write requests in flight at once.</summary>
    public int MaxConcurrentWrites { get; set; } = 4;

    /// <summary>
    /// HTTP timeout of one write request. A request that times out is sent again, and the TSDB may
    /// have stored it meanwhile: InfluxDB overwrites identical points, a store that keeps every copy
    /// (victoria-metrics without deduplication) then holds the lines twice. Generous, so that an
    /// overloaded TSDB is waited for rather than written twice.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How far back the time-series store keeps data (VictoriaMetrics' default is one month). Ingest
    /// refuses samples older than this with the reason <c>tooOld</c> rather than report them written
    /// while the store drops them. Zero: no limit.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// What is stored of each sample: <c>full</c> (every field of every sample) or <c>adaptive</c> (every
    /// sample of <see cref="AdaptiveFields.Core"/>, 1-minute aggregates of the other fields in the
    /// measurement <c>hdv_1m</c>, and every field at full resolution from <see cref="AdaptiveWindow"/>
    /// before to <see cref="AdaptiveWindow"/> after each alert episode). See the storage README.
    /// </summary>
    public string Policy { get; set; } = FullPolicy;

    /// <summary>Under the <c>adaptive</c> policy: full resolution this long before and after each alert episode.</summary>
    public TimeSpan AdaptiveWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Under the <c>adaptive</c> policy: how long the detail shipper holds back the full-resolution fields
    /// after they reached the journal, so that an episode detected later still gets the minutes before it.
    /// At least <see cref="AdaptiveWindow"/>; longer covers rules that take longer to decide.
    /// </summary>
    public TimeSpan AdaptiveDetailDelay { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Content encoding of the write requests to InfluxDB or VictoriaMetrics: <c>fastest</c> (gzip at the
    /// fastest level, the default), <c>optimal</c> (gzip at zlib's default level: bodies about 40 % smaller
    /// for about 4.5 times the CPU, for a TSDB across a slow link), <c>smallest</c> or <c>none</c>.
    /// Measured in <c>bench/results/storage.md</c>.
    /// </summary>
    public string Compression { get; set; } = "fastest";

    /// <summary>The gzip level of <see cref="Compression"/>; null for <c>none</c> (or a value <see cref="Validate"/> refuses).</summary>
    internal System.IO.Compression.CompressionLevel? GzipLevel => Compression.ToLowerInvariant() switch
    {
        "fastest" => System.IO.Compression.CompressionLevel.Fastest,
        "optimal" => System.IO.Compression.CompressionLevel.Optimal,
        "smallest" => System.IO.Compression.CompressionLevel.SmallestSize,
        _ => null,
    };

    /// <summary>The value of <see cref="Policy"/> that stores everything.</summary>
    public const string FullPolicy = "full";

    /// <summary>The value of <see cref="Policy"/> that stores the core fields in full and the rest as aggregates.</summary>
    public const string AdaptivePolicy = "adaptive";

    /// <summary>True under the <c>adaptive</c> policy.</summary>
    public bool IsAdaptive => string.Equals(Policy, AdaptivePolicy, StringComparison.OrdinalIgnoreCase);

    /// <summary>These settings with another <see cref="FileDirectory"/> (every other setting carried over).</summary>
    internal TimeSeriesOptions WithFileDirectory(string fileDirectory)
    {
        var copy = (TimeSeriesOptions)MemberwiseClone();
        copy.FileDirectory = fileDirectory;
        return copy;
    }

    /// <summary>True when an InfluxDB URL is configured; otherwise the file store is used.</summary>
    public bool UsesInflux => !string.IsNullOrWhiteSpace(InfluxUrl);

    /// <summary>What is wrong with these settings, one sentence per problem that names the setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (UsesInflux)
        {
            if (!Uri.TryCreate(InfluxUrl, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps) || string.IsNullOrEmpty(url.Host))
                errors.Add($"{Section}:InfluxUrl '{InfluxUrl}' is not an absolute http(s) URL.");
            if (string.IsNullOrWhiteSpace(Org))
                errors.Add($"{Section}:Org must not be empty when {Section}:InfluxUrl is set.");
            if (string.IsNullOrWhiteSpace(Bucket))
                errors.Add($"{Section}:Bucket must not be empty when {Section}:InfluxUrl is set.");
        }
        else if (string.IsNullOrWhiteSpace(FileDirectory))
        {
            errors.Add($"{Section}:FileDirectory must not be empty when {Section}:InfluxUrl is empty (the file store needs a directory).");
        }
        else if (FileDirectory.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            errors.Add($"{Section}:FileDirectory '{FileDirectory}' contains characters that are not allowed in a path.");
        }

        if (Retention < TimeSpan.Zero)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:Retention {Retention} must not be negative (zero: no limit)."));
        if (BatchSize is < 1 or > 100_000)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:BatchSize {BatchSize} is outside 1..100000."));
        if (FlushInterval < TimeSpan.Zero || FlushInterval > TimeSpan.FromSeconds(60))
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:FlushInterval {FlushInterval} is outside 00:00:00..00:01:00."));
        if (MaxRetries is < 0 or > 20)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:MaxRetries {MaxRetries} is outside 0..20."));
        if (RetryDelay < TimeSpan.Zero || RetryDelay > TimeSpan.FromSeconds(60))
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:RetryDelay {RetryDelay} is outside 00:00:00..00:01:00."));
        if (MaxConcurrentWrites is < 1 or > 64)
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:MaxConcurrentWrites {MaxConcurrentWrites} is outside 1..64."));
        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromMinutes(10))
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:RequestTimeout {RequestTimeout} is outside 00:00:00 (exclusive)..00:10:00."));
        if (GzipLevel is null && !string.Equals(Compression, "none", StringComparison.OrdinalIgnoreCase))
            errors.Add($"{Section}:Compression '{Compression}' is none of 'fastest', 'optimal', 'smallest' and 'none'.");
        if (!string.Equals(Policy, FullPolicy, StringComparison.OrdinalIgnoreCase) && !IsAdaptive)
            errors.Add($"{Section}:Policy '{Policy}' is neither '{FullPolicy}' nor '{AdaptivePolicy}'.");
        if (AdaptiveWindow < TimeSpan.Zero || AdaptiveWindow > TimeSpan.FromHours(6))
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:AdaptiveWindow {AdaptiveWindow} is outside 00:00:00..06:00:00."));
        if (AdaptiveDetailDelay < TimeSpan.Zero || AdaptiveDetailDelay > TimeSpan.FromDays(1))
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{Section}:AdaptiveDetailDelay {AdaptiveDetailDelay} is outside 00:00:00..1.00:00:00."));
        return errors;
    }
}

/// <summary>Where alert episodes are kept (<c>Telemetry:Alerts</c>).</summary>
public sealed class AlertStoreOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Telemetry:Alerts";

    /// <summary>
    /// JSON Lines file of alert records, relative to the working directory. Empty: alerts are kept in
    /// memory only and lost at stop.
    /// </summary>
    public string FilePath { get; set; } = "data/alerts.jsonl";

    /// <summary>What is wrong with these settings, one sentence per problem that names the setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!string.IsNullOrEmpty(FilePath))
        {
            if (string.IsNullOrWhiteSpace(FilePath))
                errors.Add($"{Section}:FilePath is blank; leave it empty to keep alerts in memory, or name a file.");
            else if (FilePath.IndexOfAny(Path.GetInvalidPathChars()) >= 0)
                errors.Add($"{Section}:FilePath '{FilePath}' contains characters that are not allowed in a path.");
            else if (FilePath.EndsWith('/') || FilePath.EndsWith(Path.DirectorySeparatorChar))
                errors.Add($"{Section}:FilePath '{FilePath}' names a directory, not a file.");
        }

        return errors;
    }
}
