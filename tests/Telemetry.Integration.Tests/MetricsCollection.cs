namespace Telemetry.Integration.Tests;

/// <summary>
/// Tests that assert exact values of the silo's OpenTelemetry counters and gauges at <c>/metrics</c>. Each silo
/// exports only the meters of its own host (see <c>Observability.AddTelemetryObservability</c>), so the counts are
/// its own; these tests still run alone, because gauges such as the shipper lag and the ingest delay follow how busy
/// the machine is, and other tests' silos would make them wander.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public static class MetricsCollection
{
    public const string Name = "Exact pipeline counters";
}
