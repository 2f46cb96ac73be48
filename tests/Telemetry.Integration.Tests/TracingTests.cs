using System.Collections.Concurrent;
using System.Diagnostics;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Ingest;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// With tracing on (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set), one frame through the real broker makes one trace: the
/// ingest span of its message, Orleans' span of the grain call under it, and the vehicle grain's span under that.
/// </summary>
[Trait("Category", "Integration")]
public sealed class TracingTests
{
    private const string Vin = "LTRACE00000000001";

    [Fact]
    public async Task OneFrame_IngestSpan_IsTheRootOfTheGrainCallAndTheGrainsOwnSpan()
    {
        var ct = TestContext.Current.CancellationToken;
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is IngestTracing.SourceName or GrainTracing.SourceName || source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var broker = await MosquittoServer.StartAsync(ct);
        // Nothing listens on this port: the exporter's failures stay inside OpenTelemetry.
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9",
        });
        await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);
        var now = DateTime.UtcNow;
        now = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        var samples = Enumerable.Range(0, 10).Select(i => Sample.Empty(now.AddSeconds(i - 10)) with { SpeedKmh = 40, EngineSpeedRpm = 1200, Longitude = 117.0, Latitude = 36.6 }).ToArray();
        var frame = Telemetry.Protocol.FrameEncoder.Encode(new TelemetryBatch(Vin, FrameKind.RealTime, samples[0].TimeUtc, 1, [.. samples], [], default),
            Telemetry.Protocol.TerminalProfile.Hj1239);

        await terminal.PublishAsync($"hdv/{Vin}/hj1239", frame, ct);

        Activity? Ingest() => spans.FirstOrDefault(a => a.Source.Name == IngestTracing.SourceName && (a.GetTagItem("telemetry.vin") as string) == Vin);
        await Eventually.WaitAsync(() => Ingest() is { } root && spans.Any(a => a.Source.Name == GrainTracing.SourceName && a.TraceId == root.TraceId),
            TimeSpan.FromSeconds(30), "the frame's ingest span and the grain's span", ct);
        var root = Ingest()!;
        var trace = spans.Where(a => a.TraceId == root.TraceId).ToList();
        var grain = Assert.Single(trace, a => a.Source.Name == GrainTracing.SourceName);

        Assert.Equal("ingest message", root.OperationName);
        Assert.Equal(ActivityKind.Consumer, root.Kind);
        Assert.Equal("stored", root.GetTagItem("telemetry.outcome"));
        Assert.Equal($"hdv/{Vin}/hj1239", root.GetTagItem("messaging.destination.name"));
        Assert.Equal("vehicle ingest", grain.OperationName);
        Assert.Equal(10, grain.GetTagItem("telemetry.accepted"));
        // Between them, Orleans' span of the call: the grain's span is not a direct child of the ingest span.
        var call = Assert.Single(trace, a => a.SpanId == grain.ParentSpanId);
        Assert.StartsWith("Microsoft.Orleans", call.Source.Name, StringComparison.Ordinal);
        Assert.Contains(trace, a => a.ParentSpanId == root.SpanId && a.Source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
    }
}
