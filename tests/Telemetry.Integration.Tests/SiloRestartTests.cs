using System.Net.Http.Json;
using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Protocol;
using Telemetry.Simulation;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Offline detection survives a silo restart: with Redis clustering, grain state and reminders,
/// a truck that goes silent while driving is found offline by the next silo, which has never
/// received a frame of it.
/// </summary>
[Trait("Category", "Integration")]
public sealed class SiloRestartTests
{
    [Fact]
    public async Task TerminalSilentWhileDriving_AcrossSiloRestart_IsFoundOfflineByTheNextSilo()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var redis = await RedisServer.StartAsync(ct);
        await using var broker = await MosquittoServer.StartAsync(ct);
        var start = DateTime.UtcNow.AddMinutes(-30);
        start = new DateTime(start.Ticks - start.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        var clock = new ReplayClock(start);
        var settings = new Dictionary<string, string>
        {
            ["Telemetry:Orleans:Clustering"] = "Redis",
            ["Telemetry:Orleans:RedisConnectionString"] = redis.ConnectionString,
            ["Telemetry:Orleans:ClusterId"] = "restart-test",
            ["Telemetry:Vehicles:ReminderPeriod"] = "00:00:02",
            ["Telemetry:Vehicles:ClockPeriod"] = "01:00:00",
        };
        void Replay(IServiceCollection services) => services.AddSingleton(new TelemetryClock(clock));

        var vin = Vins.Make(4242, "LRST");
        var truck = new TruckModel(vin, seed: 4242, DriveCycle.Highway, start);
        DateTime lastArrival;
        await using (var first = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings, Replay))
        {
            await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);
            var frames = 0;
            for (var f = 0; f < 60; f++)
            {
                var samples = Enumerable.Range(0, 10).Select(_ => truck.Step()).ToImmutableArray();
                lastArrival = truck.NowUtc.AddSeconds(1);
                clock.SetUtcNow(lastArrival);
                var batch = new TelemetryBatch(vin, FrameKind.RealTime, samples[0].TimeUtc, (ushort)f, samples, [], lastArrival);
                await terminal.PublishAsync($"hdv/{vin}/hj1239", FrameEncoder.Encode(batch, TerminalProfile.Hj1239), ct);
                frames++;
                await Eventually.WaitAsync(() => first.Ingest.Totals.Decoded == frames, TimeSpan.FromSeconds(20), "the first silo should store each frame", ct);
            }
            Assert.True(truck.LastSample.SpeedKmh > 5, "the truck is driving when its terminal falls silent");
            Assert.Empty(await first.GetAlertsAsync("?rule=R9"));
        }

        // The terminal stays silent; a new silo comes up and time goes on.
        clock.SetUtcNow(truck.NowUtc.AddMinutes(5));
        await using var second = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings, Replay);
        var alerts = await Eventually.WaitForAsync(() => second.GetAlertsAsync("?rule=R9.offline"), a => a.Count > 0, TimeSpan.FromSeconds(60),
            "the reminder should wake the grain on the new silo and find the terminal offline", cancellationToken: ct);
        var offline = Assert.Single(alerts);
        Assert.Equal(vin, offline.Vin);
        Assert.Equal(AlertStatus.Open, offline.Status);
        Assert.True(offline.StartUtc > truck.NowUtc.AddSeconds(-30) && offline.StartUtc <= truck.NowUtc.AddSeconds(1),
            $"the episode starts where the data stopped ({truck.NowUtc:O}), not at {offline.StartUtc:O}");
        Assert.Equal(0, second.Ingest.Totals.Received);
    }

    [Fact]
    public async Task TruckWithAnOpenEpisode_InRedisGrainState_ActivatesOnTheNextSilo_AndKeepsItsOneEpisode()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var redis = await RedisServer.StartAsync(ct);
        await using var broker = await MosquittoServer.StartAsync(ct);
        var settings = new Dictionary<string, string>
        {
            ["Telemetry:Orleans:Clustering"] = "Redis",
            ["Telemetry:Orleans:RedisConnectionString"] = redis.ConnectionString,
            ["Telemetry:Orleans:ClusterId"] = "restart-episode-test",
        };
        var start = DateTime.UtcNow.AddMinutes(-40);
        start = new DateTime(start.Ticks - start.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        var vin = Vins.Make(4343, "LRST");
        var truck = new TruckModel(vin, seed: 4343, DriveCycle.Highway, start);
        truck.Inject(Fault.HighNox, start, start.AddDays(1));
        var sequence = (ushort)0;
        async Task PublishAsync(int frames)
        {
            await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);
            for (var f = 0; f < frames; f++)
            {
                var samples = Enumerable.Range(0, 10).Select(_ => truck.Step()).ToImmutableArray();
                var batch = new TelemetryBatch(vin, FrameKind.Reissue, samples[0].TimeUtc, sequence++, samples, [], default);
                await terminal.PublishAsync($"hdv/{vin}/hj1239", FrameEncoder.Encode(batch, TerminalProfile.Hj1239), ct);
            }
        }

        Alert opened;
        await using (var first = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings))
        {
            await PublishAsync(120);
            var r1 = await Eventually.WaitForAsync(() => first.GetAlertsAsync($"?vin={vin}&rule=R1"), a => a.Count > 0, TimeSpan.FromSeconds(60),
                "the failed SCR opens R1", cancellationToken: ct);
            opened = Assert.Single(r1);
            Assert.Equal(AlertStatus.Open, opened.Status);
        }

        // The vehicle's state, saved in Redis with the open episode in it, is read back by the next silo: the
        // grain activates, takes the truck's next frames and goes on with the same episode.
        await using var second = await SiloUnderTest.StartAsync(broker, influxUrl: null, settings);
        await PublishAsync(30);
        await Eventually.WaitAsync(async () =>
        {
            using var response = await second.Http.GetAsync(new Uri($"/api/vehicles/{vin}", UriKind.Relative), ct);
            if (!response.IsSuccessStatusCode)
            {
                return false;
            }
            var detail = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct);
            return detail.TryGetProperty("lastSampleUtc", out var last) && last.ValueKind == System.Text.Json.JsonValueKind.String
                && last.GetDateTime().ToUniversalTime() >= truck.NowUtc.AddSeconds(-1);
        }, TimeSpan.FromSeconds(60), "the second silo activates the truck from its saved state and takes its next frames", ct);
        var after = Assert.Single(await second.GetAlertsAsync($"?vin={vin}&rule=R1"));
        Assert.Equal(opened.Id, after.Id);
        Assert.Equal(AlertStatus.Open, after.Status);
    }
}
