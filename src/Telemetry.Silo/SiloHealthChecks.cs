using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Telemetry.Ingest;
using Telemetry.Storage;
using Telemetry.Storage.Journal;

namespace Telemetry.Silo;

/// <summary>
/// <c>/health/live</c> (the process answers) and <c>/health/ready</c> (broker, time-series store or line-protocol
/// files, journal, cluster membership, alert store), with the standard health-check API and a JSON body.
/// </summary>
public static class SiloHealthChecks
{
    /// <summary>Tag of the checks <c>/health/ready</c> runs.</summary>
    public const string Ready = "ready";

    /// <summary>Registers the readiness checks.</summary>
    public static IHealthChecksBuilder AddTelemetryHealthChecks(this IServiceCollection services)
    {
        services.AddHttpClient(nameof(TimeSeriesStoreHealthCheck), client => client.Timeout = TimeSpan.FromSeconds(3));
        return services.AddHealthChecks()
            .AddCheck<BrokerHealthCheck>("broker", tags: [Ready])
            .AddCheck<TimeSeriesStoreHealthCheck>("timeSeriesStore", tags: [Ready])
            .AddCheck<ClusterHealthCheck>("cluster", tags: [Ready])
            .AddCheck<AlertStoreHealthCheck>("alertStore", tags: [Ready]);
    }

    /// <summary>Maps <c>/health/live</c> and <c>/health/ready</c> (200 when healthy or degraded, 503 when unhealthy).</summary>
    public static IEndpointRouteBuilder MapTelemetryHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteJson });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Ready), ResponseWriter = WriteJson });
        return app;
    }

    /// <summary>
    /// <c>{"status":"Unhealthy","totalMs":3.1,"checks":{"broker":{"status":"Unhealthy","description":"...","ms":0.1,"data":{...}}}}</c>
    /// </summary>
    public static Task WriteJson(HttpContext context, HealthReport report)
    {
        var body = new Dictionary<string, object?>
        {
            ["status"] = report.Status.ToString(),
            ["totalMs"] = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            ["checks"] = report.Entries.ToDictionary(e => e.Key, e => new Dictionary<string, object?>
            {
                ["status"] = e.Value.Status.ToString(),
                ["description"] = e.Value.Description ?? e.Value.Exception?.Message ?? "",
                ["ms"] = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                ["data"] = e.Value.Data.ToDictionary(d => d.Key, d => d.Value is Enum ? d.Value.ToString() : d.Value),
            }),
        };
        return context.Response.WriteAsJsonAsync(body, JsonOptions, "application/json", context.RequestAborted);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}

/// <summary>Terminal messages reach the pipeline: subscribed to the external broker, or the embedded broker started.</summary>
internal sealed class BrokerHealthCheck(MqttIngestService ingest, IOptions<MqttIngestOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var data = new Dictionary<string, object> { ["mode"] = o.Mode.ToString(), ["endpoint"] = $"{o.Host}:{o.Port}" };
        return Task.FromResult(ingest.IsSubscribed
            ? HealthCheckResult.Healthy(o.Mode == BrokerMode.Embedded ? "embedded broker started" : "subscribed to the broker", data)
            : HealthCheckResult.Unhealthy(o.Mode == BrokerMode.Embedded ? "embedded broker not started" : "not connected or not subscribed to the broker", data: data));
    }
}

/// <summary>
/// The journal accepts appends, and the shipper's target works: the InfluxDB/VictoriaMetrics server answers
/// HTTP and the shipper's latest write did not fail, or the line-protocol directory is writable.
/// </summary>
internal sealed class TimeSeriesStoreHealthCheck(
    IOptions<TimeSeriesOptions> options, IHttpClientFactory http, PipelineMetricsWriter pipeline, IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var o = options.Value;
        var data = new Dictionary<string, object>();
        if (services.GetService<IJournal>() is { } journal)
        {
            var stats = journal.Stats;
            data["journalBytes"] = stats.BytesOnDisk;
            data["journalFull"] = stats.IsFull;
            if (stats.IsFull)
                return HealthCheckResult.Unhealthy("the journal is at its disk cap: ingest is not acknowledging", data: data);
        }
        if (pipeline.LastShippedUtc is { } shipped)
            data["lastShippedUtc"] = shipped;
        if (pipeline.LastShipperFailureUtc is { } failed)
            data["lastFailedWriteUtc"] = failed;

        if (string.IsNullOrEmpty(o.InfluxUrl))
        {
            data["target"] = o.FileDirectory;
            return Directory.Exists(o.FileDirectory) || TryCreate(o.FileDirectory)
                ? HealthCheckResult.Healthy("line-protocol files", data)
                : HealthCheckResult.Unhealthy($"cannot create {o.FileDirectory}", data: data);
        }

        data["target"] = o.InfluxUrl;
        try
        {
            // Any HTTP answer means the server is up (VictoriaMetrics and InfluxDB 1.8+/2.x answer /health, 1.6 /ping).
            using var response = await http.CreateClient(nameof(TimeSeriesStoreHealthCheck))
                .GetAsync(new Uri(new Uri(o.InfluxUrl.TrimEnd('/') + "/"), "health"), cancellationToken);
            data["httpStatus"] = (int)response.StatusCode;
            if ((int)response.StatusCode >= 500)
                return HealthCheckResult.Unhealthy($"the time-series store answers {(int)response.StatusCode}", data: data);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return HealthCheckResult.Unhealthy("the time-series store does not answer", ex, data);
        }
        if (pipeline.LastShipperFailureUtc is { } failure && (pipeline.LastShippedUtc is not { } ok || failure > ok))
            return HealthCheckResult.Degraded("the store answers, but the shipper's latest write failed; it retries", data: data);
        return HealthCheckResult.Healthy("the time-series store answers", data);
    }

    private static bool TryCreate(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>This silo is an active member of its Orleans cluster.</summary>
internal sealed class ClusterHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var membership = services.GetService<IClusterMembershipService>();
        var local = services.GetService<ILocalSiloDetails>();
        if (membership is null || local is null)
            return Task.FromResult(HealthCheckResult.Unhealthy("no Orleans silo in this process"));
        var snapshot = membership.CurrentSnapshot;
        var status = snapshot.GetSiloStatus(local.SiloAddress);
        var data = new Dictionary<string, object>
        {
            ["silo"] = local.SiloAddress.ToString(),
            ["status"] = status.ToString(),
            ["activeSilos"] = snapshot.Members.Count(m => m.Value.Status == SiloStatus.Active),
            ["version"] = snapshot.Version.Value,
        };
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy("active cluster member", data)
            : HealthCheckResult.Unhealthy($"silo is {status}", data: data));
    }
}

/// <summary>The alert store answers a query.</summary>
internal sealed class AlertStoreHealthCheck(IServiceProvider services) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (services.GetService<Telemetry.Abstractions.IAlertStore>() is not { } store)
            return HealthCheckResult.Healthy("no alert store in this host");
        try
        {
            await store.QueryAsync(new Telemetry.Abstractions.AlertQuery { Limit = 1 }, cancellationToken);
            return HealthCheckResult.Healthy(store.GetType().Name);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("the alert store does not answer", ex);
        }
    }
}
