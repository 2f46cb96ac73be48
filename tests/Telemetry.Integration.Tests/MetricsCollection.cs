namespace Telemetry.Integration.Tests;

/// <summary>
/// Tests that assert exact values of the silo's OpenTelemetry counters at <c>/metrics</c>. The
/// OpenTelemetry meter provider of an in-process silo listens to every meter of that name in the
/// process, so a silo of another test running at the same time would add to the counts: these
/// tests run alone, and so do the tests that read its gauges (shipper lag, vehicles online).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public static class MetricsCollection
{
    public const string Name = "Exact pipeline counters";
}
