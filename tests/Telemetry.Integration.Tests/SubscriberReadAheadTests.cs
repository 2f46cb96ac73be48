using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// A burst larger than the silo takes at once stays in the broker, not in the silo's memory.
/// mosquitto 2.0.11 (Debian 12) sends a subscriber more unacknowledged messages than its MQTT 5
/// receive maximum once acknowledgements flow, so the subscriber itself must stop reading the
/// connection when <c>MaxInFlight</c> messages are read ahead of processing.
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)] // reads gauges of an in-process silo at /metrics
public sealed class SubscriberReadAheadTests
{
    private const int MaxInFlight = 4;

    [Fact]
    public async Task BurstFasterThanIngest_ReadAheadStaysWithinMaxInFlight_EveryFrameStoredOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:MaxInFlight"] = MaxInFlight.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        var trace = FaultTrace.Create(trucks: 40, framesPerTruck: 50, seed: 7700, withExceedance: false);
        await using var terminal = new RepublishingTerminal(broker.Host, broker.Port, "read-ahead-burst");

        // The whole trace as fast as the broker takes it: far faster than 4 messages in process can be stored.
        var publishing = terminal.PublishAllAsync(trace.Frames, inFlight: 1000, perSecond: 100_000, TimeSpan.FromMinutes(2), null, ct);
        var largest = 0.0;
        var samples = 0;
        while (silo.Ingest.Totals.Decoded < trace.Frames.Count)
        {
            var readAhead = await silo.Http.MetricAsync("telemetry_ingest_read_ahead", ct);
            Assert.False(double.IsNaN(readAhead), "the silo should expose telemetry_ingest_read_ahead");
            largest = Math.Max(largest, readAhead);
            samples++;
            Assert.True(samples < 3000, $"{silo.Ingest.Totals.Decoded} of {trace.Frames.Count} frames stored after {samples} looks");
            await Task.Delay(50, ct);
        }
        await publishing;

        Assert.True(largest <= MaxInFlight, $"at most {MaxInFlight} messages read ahead of processing, seen {largest}");
        Assert.True(await silo.Http.MetricAsync("telemetry_ingest_read_pauses_total", ct) > 0,
            "the burst should have made the subscriber stop reading");
        await trace.AssertStoredExactlyOnceAsync(tsdb, TimeSpan.FromSeconds(90), ct);
        Assert.Equal(0, silo.Ingest.Totals.Rejected);
    }
}
