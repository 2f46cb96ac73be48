using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

/// <summary>The compact ring of recent positions a vehicle grain keeps for <c>GET /api/vehicles/{vin}/track</c>.</summary>
public sealed class PositionTrackTests
{
    private static readonly DateTime T0 = new(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);

    /// <summary>A 1 Hz drive north-east from Jinan, one sample per second, with the GPS noise of a real receiver.</summary>
    private static IEnumerable<Sample> Drive(int seconds, DateTime start, int seed = 7)
    {
        var random = new Random(seed);
        for (var i = 0; i < seconds; i++)
        {
            yield return Sample.Empty(start.AddSeconds(i)) with
            {
                Longitude = 117.000123 + i * 0.0002 + random.NextDouble() * 0.00001,
                Latitude = 36.650321 + i * 0.0001 + random.NextDouble() * 0.00001,
                PositionStatus = 0,
                SpeedKmh = 60 + random.NextDouble() * 5,
            };
        }
    }

    [Fact]
    public void Add_OneHertzDrive_KeepsOneFixPerIntervalWithTheProtocolsResolution()
    {
        var track = new PositionTrack();
        var samples = Drive(600, T0).ToList();
        foreach (var s in samples)
            track.Add(s);

        var points = track.Recent(3600);
        Assert.Equal(30, points.Length);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => T0.AddSeconds(i * 20)), points.Select(p => p.TimeUtc));
        // Microdegrees: the frame's own resolution survives (a float would lose the sixth decimal at 117 degrees).
        var first = samples[0];
        Assert.Equal(Math.Round(first.Longitude, 6), points[0].Longitude);
        Assert.Equal(Math.Round(first.Latitude, 6), points[0].Latitude);
        Assert.Equal(Math.Round(samples[580].Longitude, 6), points[^1].Longitude);
    }

    [Fact]
    public void Add_TwoHoursOfDriving_HoldsTheLastHourInWellUnderSixteenKiB()
    {
        var track = new PositionTrack();
        foreach (var s in Drive(7200, T0))
            track.Add(s);

        Assert.Equal(track.Capacity, track.Count);
        Assert.Equal(181, track.Capacity);
        Assert.True(track.ArrayBytes <= 181 * 12, $"{track.ArrayBytes} bytes");
        var points = track.Recent(3600);
        Assert.Equal(T0.AddSeconds(7180 - 3600), points[0].TimeUtc);
        Assert.Equal(T0.AddSeconds(7180), points[^1].TimeUtc);
        Assert.Equal(track.NewestUtc, points[^1].TimeUtc);
        Assert.True(points.Zip(points.Skip(1)).All(p => p.Second.TimeUtc - p.First.TimeUtc == TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void Recent_AskedForFewerMinutes_ReturnsTheTailEndingAtTheNewestFix()
    {
        var track = new PositionTrack(intervalSeconds: 10);
        foreach (var s in Drive(1800, T0))
            track.Add(s);

        var lastFive = track.Recent(300);
        Assert.Equal(31, lastFive.Length);
        Assert.Equal(T0.AddSeconds(1790 - 300), lastFive[0].TimeUtc);
        Assert.Empty(new PositionTrack().Recent(300));
    }

    [Fact]
    public void Add_InvalidAndImplausiblePositions_AreSkipped_AndATunnelLeavesAGap()
    {
        var track = new PositionTrack(intervalSeconds: 10);
        var drive = Drive(300, T0).ToList();
        for (var i = 0; i < drive.Count; i++)
        {
            var s = drive[i];
            // A tunnel from 100 s to 199 s: the terminal flags the position invalid.
            track.Add(i is >= 100 and < 200 ? s with { PositionStatus = 1 } : s);
        }
        Assert.False(track.Add(T0.AddSeconds(400), double.NaN, 36.6));
        Assert.False(track.Add(T0.AddSeconds(410), 181, 36.6));
        Assert.False(track.Add(T0.AddSeconds(420), 117, -90.5));
        Assert.False(track.Add(new DateTime(1999, 12, 31, 0, 0, 0, DateTimeKind.Utc), 117, 36.6));

        var times = track.Recent(3600).Select(p => (p.TimeUtc - T0).TotalSeconds).ToList();
        Assert.Equal(20, times.Count);
        Assert.DoesNotContain(times, t => t is >= 100 and < 200);
        Assert.Contains(200.0, times);
    }

    [Fact]
    public void Add_OlderOrTooCloseFixes_AreIgnored_SoAReissuedBacklogDoesNotScrambleTheTrack()
    {
        var track = new PositionTrack(intervalSeconds: 10);
        Assert.True(track.Add(T0.AddSeconds(100), 117.1, 36.6));
        Assert.False(track.Add(T0.AddSeconds(105), 117.2, 36.6));
        // A backlog re-issued newest first, all older than the newest fix.
        for (var s = 90; s >= 0; s -= 10)
            Assert.False(track.Add(T0.AddSeconds(s), 117.0, 36.5));
        Assert.True(track.Add(T0.AddSeconds(110), 117.3, 36.6));
        Assert.Equal(new[] { 117.1, 117.3 }, track.Recent(3600).Select(p => p.Longitude));
    }

    [Fact]
    public void Add_AfterASilenceLongerThanTheWindow_DropsTheOldFixes()
    {
        var track = new PositionTrack(intervalSeconds: 10, windowSeconds: 1800);
        foreach (var s in Drive(600, T0))
            track.Add(s);
        Assert.Equal(60, track.Count);

        // Parked for three hours, then a new fix: the old drive is outside the window.
        Assert.True(track.Add(T0.AddHours(3), 117.2, 36.7));
        Assert.Equal(1, track.Count);
        Assert.Single(track.Recent(1800));
        // Grows again from the retained array without losing order.
        foreach (var s in Drive(300, T0.AddHours(3).AddSeconds(10), seed: 11))
            track.Add(s);
        var points = track.Recent(1800);
        Assert.Equal(31, points.Length);
        Assert.True(points.Zip(points.Skip(1)).All(p => p.Second.TimeUtc > p.First.TimeUtc));
    }

    [Fact]
    public void Constructor_RejectsAWindowShorterThanTheInterval()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new PositionTrack(intervalSeconds: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PositionTrack(intervalSeconds: 60, windowSeconds: 30));
    }
}
