using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

public sealed class DataQualityTests
{
    [Fact]
    public void R9_TerminalSilentWhileDriving_OpensOffline()
    {
        var d = new Drive().Run(600).Silence(120);
        Assert.Equal(1, d.Opened("R9.offline"));
        var a = d.First("R9.offline");
        Assert.Equal(Drive.At(601), a.StartUtc);
        Assert.Equal(60, a.Measured["lastSpeedKmh"]);
    }

    [Fact]
    public void R9_SilenceBelowThreeCadences_NoOffline()
    {
        // Cadence 10 s: silence of 30 s is not yet offline.
        var d = new Drive().Run(600).Silence(30);
        Assert.Equal(0, d.Opened("R9.offline"));
    }

    [Fact]
    public void R9_EngineOffThenSilent_NoOffline()
    {
        var d = new Drive().Run(600).Run(30, s => Drive.Warm(s) with { EngineSpeedRpm = 0, SpeedKmh = 0 }).Silence(3600);
        Assert.Equal(0, d.Opened("R9.offline"));
    }

    [Fact]
    public void R9_LogoutThenSilent_NoOffline()
    {
        var d = new Drive().Run(600);
        d.Send([], FrameKind.Logout);
        d.Silence(3600);
        Assert.Equal(0, d.Opened("R9.offline"));
    }

    [Fact]
    public void R9_OfflineEpisodeClosesAfterDataResumes()
    {
        var d = new Drive().Run(600).Silence(300);
        Assert.Equal(1, d.Opened("R9.offline"));
        d.Run(900);
        Assert.Equal(1, d.Closed("R9.offline"));
        Assert.Equal(1, d.Opened("R9.offline"));
    }

    [Fact]
    public void R9_PositionInvalidOverTenMinutes_Opens_ShorterDoesNot()
    {
        static Func<int, Sample> Invalid(int until) => s => s <= until ? Drive.Warm(s) with { PositionStatus = 1, Longitude = 0, Latitude = 0 } : Drive.Warm(s);
        Assert.Equal(1, new Drive().Run(900, Invalid(700)).Opened("R9.position"));
        Assert.Equal(0, new Drive().Run(900, Invalid(590)).Opened("R9.position"));
    }

    [Fact]
    public void R9_PositionJump_Opens_NormalDrivingDoesNot()
    {
        var jump = new Drive().Run(120, s => Drive.Warm(s) with { Longitude = s == 60 ? 117.5 : 117.0 });
        Assert.Equal(1, jump.Opened("R9.jump"));
        Assert.True(jump.First("R9.jump").Measured["impliedSpeedKmh"] > 150);
        // 140 km/h along a meridian: below the limit.
        var fast = new Drive().Run(600, s => Drive.Warm(s) with { Latitude = 36.0 + (s * 140 / 3600.0 / 111.2) });
        Assert.Equal(0, fast.Opened("R9.jump"));
    }

    [Fact]
    public void R9_ClockSkewAboveLimit_Opens_WithinLimitDoesNot()
    {
        var skewed = new Drive();
        skewed.Send([.. Enumerable.Range(1, 10).Select(Drive.Warm)], received: Drive.At(10).AddSeconds(-90));
        Assert.Equal(1, skewed.Opened("R9.clock"));
        Assert.Equal(90, skewed.First("R9.clock").Measured["clockSkewSeconds"]);
        var fine = new Drive();
        fine.Send([.. Enumerable.Range(1, 10).Select(Drive.Warm)], received: Drive.At(10).AddSeconds(59));
        Assert.Equal(0, fine.Opened("R9.clock"));
    }

    [Fact]
    public void R9_ClockSkew_AllowsForThePlatformsOwnBacklog()
    {
        // Ingest 90 s behind: frames arrive 90 s after their terminal time, which is not a late clock.
        var backlog = new Drive();
        backlog.Detector.IngestDelaySeconds = 90;
        backlog.Send([.. Enumerable.Range(1, 10).Select(Drive.Warm)], received: Drive.At(10).AddSeconds(90));
        Assert.Equal(0, backlog.Opened("R9.clock"));
        var unexplained = new Drive();
        unexplained.Send([.. Enumerable.Range(1, 10).Select(Drive.Warm)], received: Drive.At(10).AddSeconds(90));
        Assert.Equal(1, unexplained.Opened("R9.clock"));
        // A clock 90 s ahead, seen through the same backlog: the frame arrives on time by our clock, yet the skew is 90 s.
        var ahead = new Drive();
        ahead.Detector.IngestDelaySeconds = 90;
        ahead.Send([.. Enumerable.Range(1, 10).Select(Drive.Warm)], received: Drive.At(10));
        Assert.Equal(1, ahead.Opened("R9.clock"));
        Assert.Equal(90, ahead.First("R9.clock").Measured["clockSkewSeconds"]);
    }

    [Fact]
    public void R9_ManyInvalidFields_Opens_MissingFromTheStartDoesNot()
    {
        var blanked = new Drive().Run(300).Run(600, s => Drive.Warm(s) with
        {
            FuelFlowLph = double.NaN,
            NoxUpstreamPpm = double.NaN,
            IntakeAirFlowKgph = double.NaN,
            ScrOutletTempC = double.NaN,
            FuelLevelPercent = double.NaN,
        });
        Assert.Equal(1, blanked.Opened("R9.fields"));
        // A retrofit terminal that never had these fields is not a data-quality problem.
        var retrofit = new Drive().Run(900, s => Drive.Warm(s) with
        {
            FuelFlowLph = double.NaN,
            NoxUpstreamPpm = double.NaN,
            IntakeAirFlowKgph = double.NaN,
            ScrOutletTempC = double.NaN,
            FuelLevelPercent = double.NaN,
        });
        Assert.Equal(0, retrofit.Opened("R9.fields"));
    }

    [Fact]
    public void R9_RemovalAlarm_OpensCritical()
    {
        var d = new Drive().Run(100);
        var batch = new TelemetryBatch(Drive.Vin, FrameKind.RemovalAlarm, Drive.At(100), 7, [], [], Drive.At(101))
        {
            AlarmPosition = new GeoFix(117.1, 36.6, true),
        };
        d.Detector.OnBatch(batch, d.Changes, d.Accepted);
        Assert.Equal(1, d.Opened("R9.removal"));
        Assert.Equal(AlertSeverity.Critical, d.First("R9.removal").Severity);
        Assert.Equal(117.1, d.First("R9.removal").Measured["alarmLongitude"]);
    }

    [Fact]
    public void R9_CheckCodeFailures_OpenAtThreshold()
    {
        var d = new Drive().Run(100);
        d.Detector.OnCheckCodeFailure(Drive.At(110), d.Changes);
        d.Detector.OnCheckCodeFailure(Drive.At(120), d.Changes);
        Assert.Equal(0, d.Opened("R9.checkcode"));
        d.Detector.OnCheckCodeFailure(Drive.At(130), d.Changes);
        Assert.Equal(1, d.Opened("R9.checkcode"));
    }

    private const string Zone = """
        {"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"name":"Centre"},"geometry":{"type":"Polygon","coordinates":[[[116.9,36.6],[117.1,36.6],[117.1,36.7],[116.9,36.7],[116.9,36.6]]]}},
          {"type":"Feature","properties":{"name":"Night","restrictedHours":"22:00-06:00"},"geometry":{"type":"Polygon","coordinates":[[[118.9,36.6],[119.1,36.6],[119.1,36.7],[118.9,36.7],[118.9,36.6]]]}}]}
        """;

    [Fact]
    public void Z_AlertInsideZone_RaisesSeverityAndNamesZone()
    {
        var zones = ZoneIndex.FromGeoJson(Zone);
        var d = new Drive(zones: zones).Run(1200, s => Drive.Warm(s) with { NoxDownstreamPpm = 800 });
        var a = d.First("R1");
        Assert.Equal("Centre", a.Zone);
        Assert.Equal(AlertSeverity.Critical, a.Severity);
        var outside = new Drive(zones: zones).Run(1200, s => Drive.Warm(s) with { NoxDownstreamPpm = 800, Longitude = 117.5 });
        Assert.Null(outside.First("R1").Zone);
        Assert.Equal(AlertSeverity.Warning, outside.First("R1").Severity);
    }

    [Fact]
    public void Z_DrivingInZoneDuringRestrictedHours_Opens_OutsideHoursDoesNot()
    {
        var zones = ZoneIndex.FromGeoJson(Zone);
        // T0 is 08:00 China Standard Time: outside 22:00-06:00.
        var day = new Drive(zones: zones).Run(600, s => Drive.Warm(s) with { Longitude = 119.0 });
        Assert.Equal(0, day.Opened("Z"));
        var o = new DetectionOptions();
        o.Zones.UtcOffsetHours = -4; // 20:00 local at T0, 22:00 after two hours.
        var night = new Drive(o, zones: ZoneIndex.FromGeoJson(Zone, -4)).Run(7500, s => Drive.Warm(s) with { Longitude = 119.0 });
        Assert.Equal(1, night.Opened("Z"));
        Assert.Equal("Night", night.First("Z").Zone);
        Assert.InRange(night.First("Z").StartUtc, Drive.At(7200), Drive.At(7215));
    }
}
