using Telemetry.Abstractions;
using Telemetry.Fleet;
using Telemetry.Fleet.Load;
using Telemetry.Protocol;

namespace Telemetry.Integration.Tests;

/// <summary>The load fleet's schedule on its own (no servers): ignition-off periods and what the verifier expects.</summary>
public sealed class LoadFleetTests
{
    private static long Unix(DateTime utc) => new DateTimeOffset(utc).ToUnixTimeSeconds();

    [Fact]
    public void ParkedVehicles_StopTheEngine_SendNothingWhileParked_StartWithAKeyOn_AndTheExpectedSecondsLeaveTheGapOut()
    {
        var options = new LoadOptions { Vehicles = 40, Duration = TimeSpan.FromMinutes(10), Format = FleetFormats.Json, FaultShare = 0.05, ParkedShare = 0.5, ParkedMinutes = 3 };
        var start = new DateTime(2026, 12, 1, 8, 0, 0, DateTimeKind.Utc);
        var fleet = new LoadFleet(options, start);
        var decoder = new PayloadDecoder(new ProtocolOptions());

        var parkers = fleet.Vehicles.Where(v => v.Parks).ToList();
        Assert.InRange(parkers.Count, 10, 30);
        Assert.DoesNotContain(parkers, v => v.Fault is not null);
        Assert.Equal(parkers.Select(v => v.Vin), new LoadFleet(options, start).Vehicles.Where(v => v.Parks).Select(v => v.Vin));
        foreach (var vehicle in fleet.Vehicles)
        {
            var samples = new List<Sample>();
            var lastDue = 0.0;
            while (double.IsFinite(vehicle.NextDue))
            {
                Assert.True(vehicle.NextDue >= lastDue);
                lastDue = vehicle.NextDue;
                var (payload, count, _) = vehicle.NextFrame(options.Format, start.AddSeconds(lastDue));
                var frame = Assert.Single(decoder.DecodeAll(FleetFormats.Json, vehicle.Vin, payload, start.AddSeconds(lastDue)));
                Assert.True(frame.Decoded, frame.Rejection.Message);
                Assert.Equal(count, frame.Batch.Samples.Length);
                samples.AddRange(frame.Batch.Samples);
            }

            var sent = vehicle.Parked is { } gap
                ? new SentSeconds(Unix(vehicle.HistoryStartUtc), Unix(vehicle.SentUntilUtc), Unix(gap.FromUtc), Unix(gap.ToUtc))
                : new SentSeconds(Unix(vehicle.HistoryStartUtc), Unix(vehicle.SentUntilUtc));
            Assert.Equal(sent.Count, samples.Count);
            Assert.Equal(samples.Count, samples.Select(s => s.TimeUtc).Distinct().Count());
            Assert.All(samples, s => Assert.True(sent.Contains(Unix(s.TimeUtc)), $"{vehicle.Vin} sent {s.TimeUtc:O}, outside what the verifier expects"));
            if (!vehicle.Parks)
            {
                Assert.Null(vehicle.Parked);
                continue;
            }

            var (from, to) = vehicle.Parked!.Value;
            Assert.Equal(TimeSpan.FromMinutes(3), to - from);
            var before = samples.Where(s => s.TimeUtc < from).ToList();
            var after = samples.Where(s => s.TimeUtc >= to).ToList();
            Assert.Equal(from.AddSeconds(-1), before[^1].TimeUtc);
            Assert.Equal(to, after[0].TimeUtc);
            Assert.Equal(0, before[^1].EngineSpeedRpm);
            Assert.Equal(0, before[^1].SpeedKmh);
            Assert.Equal(0, after[0].EngineSpeedRpm);
            Assert.Contains(after, s => s.EngineSpeedRpm > 500);
            Assert.True(after.Count >= 120, $"{vehicle.Vin} drove {after.Count} s after parking");
        }
    }

    [Fact]
    public void SentSeconds_CountsTheRangeLessTheGapInsideIt()
    {
        Assert.Equal(100, new SentSeconds(0, 100).Count);
        Assert.Equal(70, new SentSeconds(0, 100, 10, 40).Count);
        Assert.Equal(90, new SentSeconds(0, 100, 90, 140).Count);
        Assert.Equal(100, new SentSeconds(0, 100, 200, 300).Count);
        Assert.False(new SentSeconds(0, 100, 10, 40).Contains(10));
        Assert.True(new SentSeconds(0, 100, 10, 40).Contains(40));
        Assert.False(new SentSeconds(0, 100, 10, 40).Contains(100));
    }

    [Fact]
    public void ShortRuns_ParkNobody()
    {
        var options = new LoadOptions { Vehicles = 100, Duration = TimeSpan.FromMinutes(4), ParkedShare = 1 };

        Assert.DoesNotContain(new LoadFleet(options, DateTime.UtcNow).Vehicles, v => v.Parks);
    }
}
