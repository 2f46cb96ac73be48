using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Telemetry.Api;
using Telemetry.Grains;
using Telemetry.Ingest;
using Telemetry.Storage;

namespace Telemetry.Silo;

/// <summary>Metrics, traces, health and the console's view of the pipeline.</summary>
public static class Observability
{
    /// <summary>Meters of the project; storage adds its own.</summary>
    public static readonly string[] Meters = [IngestMetrics.MeterName, GrainMetrics.MeterName, StorageMetrics.MeterName];

    /// <summary>Orleans' meter (activations, messaging, membership) and activity sources (grain calls).</summary>
    public static readonly string OrleansMeter = "Microsoft.Orleans";

    private static readonly string[] OrleansSources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application"];

    /// <summary>Where the Orleans dashboard is mapped when <see cref="SiloOptions.Dashboard"/> is on.</summary>
    public const string DashboardPath = "/orleans";

    /// <summary>A vehicle counts as online when a frame of it arrived this recently.</summary>
    public static readonly TimeSpan OnlineWindow = VehicleIndex.OnlineWindow;

    /// <summary>
    /// OpenTelemetry metrics of the pipeline, ASP.NET Core, HttpClient, Orleans and the runtime (Prometheus text at
    /// <c>/metrics</c>; OTLP too when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set), traces of HTTP requests, TSDB writes
    /// and grain calls exported by OTLP when that endpoint is set, the pipeline counters written into the
    /// time-series store (<see cref="PipelineMetricsWriter"/>), the health checks, and alert changes and a status
    /// line every 10 s on the console.
    /// </summary>
    public static IHostApplicationBuilder AddTelemetryObservability(this IHostApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var otel = builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(Meters).AddMeter(OrleansMeter)
                .AddRuntimeInstrumentation()
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddPrometheusExporter();
            if (otlp)
            {
                metrics.AddOtlpExporter();
            }
            if (metrics is IDeferredMeterProviderBuilder deferred)
            {
                // OpenTelemetry listens to meters by name, in the whole process. A second host in the process (the
                // tests run several silos in one) has meters of the same names from its own meter factory; their
                // streams would merge with this host's, and when that host stopped, the merged stream would stop
                // being exported here too. Each host exports the meters of its own factory (and unscoped ones).
                deferred.Configure((services, builder) =>
                {
                    var own = services.GetRequiredService<IMeterFactory>();
                    builder.AddView(instrument => instrument.Meter.Scope is IMeterFactory factory && !ReferenceEquals(factory, own)
                        ? MetricStreamConfiguration.Drop
                        : null);
                });
            }
        });
        if (otlp)
        {
            // Grain calls carry the trace context and make spans (Orleans' activity sources): a message's
            // "ingest message" span is the parent of the grain call and of the grain's "vehicle ingest" span.
            builder.UseOrleans(orleans => orleans.AddActivityPropagation());
            otel.WithTracing(tracing => tracing
                .AddSource(IngestTracing.SourceName, GrainTracing.SourceName)
                .AddSource(OrleansSources)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments("/metrics"))
                .AddHttpClientInstrumentation()
                .AddOtlpExporter());
        }

        builder.Services.AddOptions<PipelineMetricsOptions>().BindConfiguration(PipelineMetricsOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PipelineMetricsOptions>>(
            new Telemetry.Abstractions.SentenceValidator<PipelineMetricsOptions>(o => o.Validate()));
        builder.Services.AddSingleton<PipelineMetricsWriter>();
        builder.Services.AddHostedService(provider => provider.GetRequiredService<PipelineMetricsWriter>());
        builder.Services.AddHostedService<OnlineGauge>();
        builder.Services.AddTelemetryHealthChecks();
        builder.Services.AddHostedService<ConsoleReporter>();
        return builder;
    }

    /// <summary>
    /// Maps <c>/metrics</c> (Prometheus text format; needs a key when <see cref="ApiOptions.PublicMetrics"/> is off), <c>/health/live</c> and <c>/health/ready</c>
    /// (JSON; 503 while the broker, the time-series store, the cluster membership or the alert store is not healthy),
    /// and <c>/reference/zones.geojson</c>: the low-emission zones the rules use, for the dashboards' map layer.
    /// </summary>
    public static IEndpointRouteBuilder MapTelemetryMetrics(this IEndpointRouteBuilder app)
    {
        var scrape = app.MapPrometheusScrapingEndpoint();
        if (!app.ServiceProvider.GetRequiredService<IOptions<ApiOptions>>().Value.PublicMetrics)
        {
            // Telemetry:Api:PublicMetrics=false: a scraper sends a key of any role (Prometheus: authorization.credentials).
            scrape.RequireAuthorization(ApiPolicies.Read);
        }
        app.MapTelemetryHealth();
        if (app.ServiceProvider.GetRequiredService<IOptions<SiloOptions>>().Value.Dashboard)
        {
            // Grain state and the live log are in there: admins only; a browser is asked for the key.
            app.MapOrleansDashboard(DashboardPath).RequireAuthorization(ApiPolicies.Admin).WithMetadata(BrowserSignIn.Instance);
        }
        app.MapGet("/reference/zones.geojson", (HttpContext context, IOptions<ReferenceDataOptions> options) =>
        {
            // Grafana's browser fetches the layer from another origin.
            context.Response.Headers.AccessControlAllowOrigin = "*";
            var path = options.Value.ZonesPath;
            return string.IsNullOrEmpty(path) || !File.Exists(path)
                ? Results.Text("""{"type":"FeatureCollection","features":[]}""", "application/geo+json")
                : Results.File(Path.GetFullPath(path), "application/geo+json");
        });
        return app;
    }

    /// <summary>Registers the <c>telemetry.vehicles.online</c> gauge over the vehicle index and the <c>telemetry.ingest.delay</c> gauge.</summary>
    private sealed class OnlineGauge(IServiceProvider services, TimeProvider time) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (services.GetService<GrainMetrics>() is { } metrics && services.GetService<VehicleIndex>() is { } index)
            {
                metrics.ObserveVehiclesOnline(() => index.CountArrivedSince(time.GetUtcNow().UtcDateTime - OnlineWindow));
            }
            if (services.GetService<GrainMetrics>() is { } grainMetrics && services.GetService<IngestDelay>() is { } delay)
            {
                grainMetrics.ObserveIngestDelay(() => delay.Allowance(time.GetUtcNow().UtcDateTime));
            }
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
