using OpenTelemetry.Metrics;
using Telemetry.Grains;
using Telemetry.Ingest;

namespace Telemetry.Silo;

/// <summary>Metrics export and the console's view of the pipeline.</summary>
public static class Observability
{
    /// <summary>Meters of the project; storage adds its own.</summary>
    public static readonly string[] Meters = [IngestMetrics.MeterName, GrainMetrics.MeterName, "Telemetry.Storage"];

    /// <summary>
    /// OpenTelemetry metrics (Prometheus text at <c>/metrics</c>; OTLP too when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set), alert changes and a status line every 10 s on the console.
    /// </summary>
    public static IHostApplicationBuilder AddTelemetryObservability(this IHostApplicationBuilder builder)
    {
        var otel = builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(Meters).AddRuntimeInstrumentation().AddPrometheusExporter();
            if (!string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            {
                metrics.AddOtlpExporter();
            }
        });
        _ = otel;
        builder.Services.AddHostedService<ConsoleReporter>();
        return builder;
    }

    /// <summary>
    /// Maps <c>/metrics</c> (Prometheus text format) and <c>/health/ready</c>: 200 once terminal
    /// messages reach the pipeline (embedded broker started, or subscribed to the external broker), 503 before.
    /// </summary>
    public static IEndpointRouteBuilder MapTelemetryMetrics(this IEndpointRouteBuilder app)
    {
        app.MapPrometheusScrapingEndpoint();
        app.MapGet("/health/ready", (MqttIngestService ingest) => ingest.IsSubscribed
            ? Results.Text("ready")
            : Results.Text("ingest is not receiving terminal messages yet", statusCode: StatusCodes.Status503ServiceUnavailable));
        return app;
    }
}
