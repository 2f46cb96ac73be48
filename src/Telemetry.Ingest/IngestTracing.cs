using System.Diagnostics;

namespace Telemetry.Ingest;

/// <summary>
/// Spans of the ingest path (activity source <see cref="SourceName"/>): one <c>ingest message</c> span per MQTT
/// message, parent of the grain call Orleans traces and of the vehicle grain's own span. Created only while a
/// listener is registered (the silo registers one when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set).
/// </summary>
public static class IngestTracing
{
    /// <summary>Name of the activity source.</summary>
    public const string SourceName = "Telemetry.Ingest";

    internal static readonly ActivitySource Source = new(SourceName);
}
