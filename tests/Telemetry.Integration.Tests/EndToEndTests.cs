using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Abstractions;
using Telemetry.Fleet;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// A simulated fleet publishes through a real mosquitto to a real silo writing to a real
/// victoria-metrics: every sample is stored exactly once and the one injected NOx exceedance
/// yields exactly one R1 episode.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EndToEndTests
{
    private const int Trucks = 4;
    private const int HistoryMinutes = 20;

    [Fact]
    public async Task Fleet_ThroughBrokerToSilo_StoresEverySampleOnceAndRaisesOneR1Episode()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        // Without deduplication in the store, a sample the pipeline wrote twice would show twice.
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, tsdb.Url);

        var options = new FleetOptions
        {
            Trucks = Trucks,
            Format = FleetFormats.Json,
            ExceedanceShare = 0.25,
            HistoryMinutes = HistoryMinutes,
            FirstIndex = 100,
            Host = broker.Host,
            Port = broker.Port,
        };
        // A live listener on the alert stream sees the episode open as it happens.
        using var streamCancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        streamCancel.CancelAfter(TimeSpan.FromMinutes(2));
        using var stream = await silo.Http.GetStreamAsync(new Uri("/api/alerts/stream", UriKind.Relative), ct);
        using var streamReader = new StreamReader(stream);
        Assert.Equal(": alert stream", await streamReader.ReadLineAsync(ct));
        var streamed = ReadFirstOpenedAsync(streamReader, streamCancel.Token);

        // A fixed clock makes the fleet deterministic, so a second run re-sends the very same samples.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var fleet = new FleetPublisher(options, clock);
        await fleet.ConnectAsync(ct);
        await fleet.PublishHistoryAsync(ct);
        var sent = fleet.Progress;
        Assert.Equal(0, sent.Failures);
        Assert.Equal(Trucks * HistoryMinutes * 60, sent.Samples);

        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == sent.Frames, TimeSpan.FromSeconds(60),
            $"the silo should store all {sent.Frames} frames", ct);
        Assert.Equal(0, silo.Ingest.Totals.Rejected);

        // One series per VIN of a field every sample carries; each sample time exactly once.
        var series = await tsdb.WaitForSampleCountAsync("{__name__=\"hdv_odometerKm\"}", (int)sent.Samples, TimeSpan.FromSeconds(30), ct);
        Assert.Equal(Trucks, series.Count);
        foreach (var s in series)
        {
            Assert.Equal(HistoryMinutes * 60, s.TimestampsMs.Count);
            Assert.Equal(s.TimestampsMs.Count, s.TimestampsMs.Distinct().Count());
        }

        var exceeding = Assert.Single(fleet.Trucks, t => t.Exceeds);
        var alerts = await Eventually.WaitForAsync(() => silo.GetAlertsAsync("?rule=R1"), a => a.Count > 0, TimeSpan.FromSeconds(20),
            "the injected NOx exceedance should raise an R1 alert", cancellationToken: ct);
        var alert = Assert.Single(alerts);
        Assert.Equal(exceeding.Vin, alert.Vin);
        Assert.Equal("R1", alert.RuleId);
        Assert.Empty(alert.Evidence); // lists leave the evidence out; the episode itself has it
        var withEvidence = await silo.GetAlertAsync(alert.Id);
        Assert.True(withEvidence.Evidence.Length > 0, await silo.Http.GetStringAsync(new Uri($"/api/alerts/{alert.Id}", UriKind.Relative), ct));
        Assert.True(alert.Thresholds.Count > 0);
        Assert.True(alert.Measured.Count > 0);
        Assert.NotNull(alert.Position);

        using (var opened = JsonDocument.Parse(await streamed))
        {
            Assert.Equal("opened", opened.RootElement.GetProperty("kind").GetString());
            Assert.Equal(alert.Id, opened.RootElement.GetProperty("alert").GetProperty("id").GetString());
        }
        await streamCancel.CancelAsync();

        // The vehicle's state says which rules are silent and why: no registry, so no reference torque for R2.
        using var status = JsonDocument.Parse(await silo.Http.GetStringAsync(new Uri($"/api/vehicles/{exceeding.Vin}", UriKind.Relative), ct));
        var rules = status.RootElement.GetProperty("rules").EnumerateArray().ToDictionary(r => r.GetProperty("ruleId").GetString()!);
        Assert.True(rules["R1"].GetProperty("active").GetBoolean());
        Assert.True(rules["R1"].GetProperty("episodeOpen").GetBoolean());
        Assert.False(rules["R2"].GetProperty("active").GetBoolean());
        Assert.Contains("referenceTorqueNm", rules["R2"].GetProperty("missingFields").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal(HistoryMinutes * 60, status.RootElement.GetProperty("samplesAccepted").GetInt64());

        // Clean trucks raise nothing.
        var all = await silo.GetAlertsAsync();
        Assert.All(all, a => Assert.Equal(exceeding.Vin, a.Vin));

        // The terminals re-issue everything again: nothing is stored twice, no second episode opens.
        await using var again = new FleetPublisher(options, clock);
        await again.ConnectAsync(ct);
        await again.PublishHistoryAsync(ct);
        Assert.Equal(sent.Frames, again.Progress.Frames);
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 2 * sent.Frames, TimeSpan.FromSeconds(60),
            "the silo should process the re-sent frames too", ct);
        await tsdb.FlushAsync(ct);
        var after = await tsdb.ExportAsync("{__name__=\"hdv_odometerKm\"}", ct);
        Assert.Equal(sent.Samples, VictoriaMetricsServer.CountSamples(after));
        var r1 = Assert.Single(await silo.GetAlertsAsync("?rule=R1"));
        Assert.Equal(alert.Id, r1.Id);
    }

    /// <summary>Reads <c>/api/alerts/stream</c> until the first <c>opened</c> change and returns its data.</summary>
    private static async Task<string> ReadFirstOpenedAsync(StreamReader reader, CancellationToken ct)
    {
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("data: ", StringComparison.Ordinal) && line.Contains("\"kind\":\"opened\"", StringComparison.Ordinal))
            {
                return line["data: ".Length..];
            }
        }
        throw new EndOfStreamException("the alert stream ended without an opened alert");
    }
}
