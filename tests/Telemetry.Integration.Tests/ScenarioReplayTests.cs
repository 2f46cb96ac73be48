using System.Collections.Immutable;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Grains;
using Telemetry.Protocol;
using Telemetry.Simulation;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The labelled scenarios, published as binary HJ 1239 frames through a real mosquitto to a
/// running silo, produce at <c>GET /api/alerts</c> the same episodes as the same plan run through
/// the detection engine in process.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ScenarioReplayTests
{
    private static readonly TerminalProfile Profile = TerminalProfile.Hj1239;

    [Fact]
    public async Task Scenarios_AsBinaryFramesThroughBrokerAndSilo_ProduceTheSameAlertsAsTheEngine()
    {
        var ct = TestContext.Current.CancellationToken;
        var options = new ScenarioSuiteOptions();
        var scenarios = ScenarioSuite.All;
        var plans = scenarios.Select((s, i) => ScenarioSuite.Plan(s, options.Seed + i, options)).ToList();

        // Every scenario runs with the zone of the zone scenario, in both paths.
        var zonesJson = ScenarioSuite.JinanZoneGeoJson;
        var expected = plans.ToDictionary(p => p.Vin, p => RunInProcess(p, zonesJson));
        foreach (var plan in plans)
        {
            foreach (var episode in plan.Scenario.Expected)
            {
                Assert.Contains(expected[plan.Vin], a => a.RuleId == episode.RuleId);
            }
        }

        var data = Directory.CreateTempSubdirectory("telemetry-replay-").FullName;
        var registryPath = Path.Combine(data, "registry.json");
        await File.WriteAllTextAsync(registryPath, JsonSerializer.Serialize(plans.Select(p => p.Vehicle).ToList(), TelemetryJson.Options), ct);
        var zonesPath = Path.Combine(data, "zones.geojson");
        await File.WriteAllTextAsync(zonesPath, zonesJson, ct);

        var replayClock = new ReplayClock(options.StartUtc);
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:ReferenceData:RegistryPath"] = registryPath,
            ["Telemetry:ReferenceData:ZonesPath"] = zonesPath,
            // The replay drives the detectors' clock itself.
            ["Telemetry:Vehicles:ClockPeriod"] = "01:00:00",
        }, services => services.AddSingleton(new TelemetryClock(replayClock)));
        await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);
        var grains = silo.Services.GetRequiredService<IGrainFactory>();

        var published = 0L;
        foreach (var plan in plans)
        {
            var topic = $"hdv/{plan.Vin}/{Profile.Name}";
            var grain = grains.GetGrain<IVehicleGrain>(plan.Vin);
            foreach (var step in plan.Steps)
            {
                switch (step)
                {
                    case DeliverStep deliver:
                        replayClock.SetUtcNow(deliver.Batch.ReceivedUtc);
                        await terminal.PublishAsync(topic, FrameEncoder.Encode(deliver.Batch, Profile), ct);
                        await WaitProcessedAsync(silo, ++published, ct);
                        break;
                    case CheckCodeFailureStep failure:
                        replayClock.SetUtcNow(failure.ReceivedUtc);
                        await terminal.PublishAsync(topic, CorruptFrame(plan.Vin, failure.ReceivedUtc), ct);
                        await WaitProcessedAsync(silo, ++published, ct);
                        break;
                    case ClockStep tick:
                        replayClock.SetUtcNow(tick.NowUtc);
                        await grain.AdvanceClock(tick.NowUtc);
                        break;
                }
            }
        }

        foreach (var plan in plans)
        {
            var actual = await silo.GetAlertsAsync($"?vin={plan.Vin}&limit=1000");
            Assert.Equal(Describe(expected[plan.Vin]), Describe(actual));
        }
    }

    /// <summary>The same plan through the engine alone, with frames as the binary codec carries them.</summary>
    private static List<Alert> RunInProcess(ScenarioPlan plan, string zonesJson)
    {
        var detector = new VehicleDetector(plan.Vin, new DetectionOptions(), plan.Vehicle, ZoneIndex.FromGeoJson(zonesJson));
        var changes = new List<AlertChange>();
        plan.Drive(detector, changes, deliver: batch =>
        {
            var bytes = FrameEncoder.Encode(batch, Profile);
            Assert.True(FrameCodec.TryDecodeBatch(bytes, Profile, plan.Vin, batch.ReceivedUtc, out var decoded, out var rejection), rejection.Message);
            return decoded;
        });
        var final = new Dictionary<string, Alert>(StringComparer.Ordinal);
        foreach (var change in changes)
        {
            if (!final.TryGetValue(change.Alert.Id, out var known) || change.Alert.Revision >= known.Revision)
            {
                final[change.Alert.Id] = change.Alert;
            }
        }
        return [.. final.Values];
    }

    private static List<string> Describe(IEnumerable<Alert> alerts) =>
    [
        .. alerts
            .Select(a => $"{a.Id} {a.RuleId} {a.Status} {a.Severity} zone={a.Zone} start={a.StartUtc:O} held={a.LastHeldUtc:O} end={a.EndUtc:O} rev={a.Revision}")
            .Order(StringComparer.Ordinal),
    ];

    private static byte[] CorruptFrame(string vin, DateTime receivedUtc)
    {
        var frame = FrameEncoder.Encode(new TelemetryBatch(vin, FrameKind.RealTime, receivedUtc, 0,
            [Sample.Empty(receivedUtc.AddSeconds(-1))], ImmutableArray<ObdSnapshot>.Empty, receivedUtc), Profile);
        frame[^1] ^= 0xFF;
        return frame;
    }

    private static async Task WaitProcessedAsync(SiloUnderTest silo, long count, CancellationToken ct)
    {
        // Each frame is handed over only when the previous one is stored, so the replay clock is
        // still at its arrival time when ingest stamps it.
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var (_, decoded, rejected) = silo.Ingest.Totals;
            if (decoded + rejected >= count)
            {
                return;
            }
            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                Assert.Fail($"ingest processed {decoded + rejected} of {count} frames within 30 s");
            }
            await Task.Delay(1, ct);
        }
    }
}

/// <summary>A clock a replay sets to each recorded arrival time; unlike a fake timer clock it may go back (the next scenario).</summary>
internal sealed class ReplayClock(DateTime startUtc) : TimeProvider
{
    private long _ticks = startUtc.Ticks;

    public void SetUtcNow(DateTime utc) => Interlocked.Exchange(ref _ticks, utc.Ticks);

    public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);
}
