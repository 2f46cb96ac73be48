using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

/// <summary>Tampering as it looks in the field, and the delivery orders field terminals use.</summary>
public sealed class FieldCaseTests
{
    /// <summary>A warm truck on steady highway cruise with realistic sensor noise.</summary>
    private static Func<int, Sample> Cruise(int seed)
    {
        var n = new Noise(seed);
        return s => Drive.Warm(s) with
        {
            SpeedKmh = n.Around(80, 0.4, 1.0 / 256),
            EngineTorquePercent = Math.Round(40 + n.Gauss(0.8)),
            EngineSpeedRpm = n.Around(1240, 5, 0.125),
            FuelFlowLph = n.Around(30, 0.4),
            NoxUpstreamPpm = n.Around(600, 25),
            NoxDownstreamPpm = n.Around(20, 1.5),
            IntakeAirFlowKgph = n.Around(800, 8),
            ScrInletTempC = n.Around(330, 2, 0.03125),
            ReagentLevelPercent = 50,
        };
    }

    // ---- OBD is last-known state ----

    [Fact]
    public void R7_MilOnDriving_OnlyObdRecordAtKeyOn_Opens()
    {
        // Field firmware sends one OBD record when OBD data becomes available and then maybe once a day.
        var d = new Drive().Run(1500, s => Drive.Warm(s) with { SpeedKmh = 30, OdometerKm = 1000 + (s * 30 / 3600.0) },
            s => s == 5 ? Drive.Obd(s, mil: true, dtcs: [0x00B3E101u]) : null);
        Assert.Equal(1, d.Opened("R7"));
        Assert.InRange((d.First("R7").StartUtc - Drive.At(5)).TotalSeconds, 595, 620);
        Assert.True(d.Detector.RuleStatuses.Single(r => r.RuleId == "R7").Active);
    }

    [Theory]
    [InlineData("0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")]
    [InlineData("000000000000000000")]
    [InlineData("111111111111111111")]
    [InlineData("")]
    [InlineData("                  ")]
    public void R8_PlaceholderCalibrationIdOrCvn_IsNotAvailable_NeverAChange(string placeholder)
    {
        // Real values, then placeholders for a while (a terminal that could not read them), then the real values again.
        var d = new Drive().Run(1800, obd: s => s % 60 != 0 ? null
            : s is > 600 and < 1200 ? Drive.Obd(s, cal: placeholder, cvn: placeholder) : Drive.Obd(s, cal: "CAL1", cvn: "CVN1"));
        Assert.Equal(0, d.Opened("R8"));
        // A real change is still found after placeholders.
        var changed = new Drive().Run(1800, obd: s => s % 60 != 0 ? null
            : s <= 600 ? Drive.Obd(s, cal: "CAL1") : s < 1200 ? Drive.Obd(s, cal: placeholder) : Drive.Obd(s, cal: "CAL2"));
        Assert.Equal(1, changed.Opened("R8"));
    }

    // ---- R5 stuck, emulated or removed ----

    [Fact]
    public void R5_DownstreamHeldConstantOnSteadyCruise_Opens()
    {
        // An emulator holds 25 ppm; torque and speed barely move on the expressway, upstream NOx varies by tens of ppm.
        var cruise = Cruise(5);
        var d = new Drive().Run(2400, s => s > 600 ? cruise(s) with { NoxDownstreamPpm = 25 } : cruise(s));
        Assert.Equal(1, d.Opened("R5"));
        var a = d.First("R5");
        Assert.Equal(1, a.Measured["reason"]);
        Assert.True(a.Measured["upstreamStdDevPpm"] > 10);
    }

    [Fact]
    public void R5_HealthySensorOnSteadyCruise_NoEpisode()
    {
        var d = new Drive().Run(3600, Cruise(6));
        Assert.Empty(d.Changes);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(-200)]
    [InlineData(0)]
    public void R5_DownstreamReadingLostUnderLoad_AfterItWasValid_Opens(double lost)
    {
        var cruise = Cruise(7);
        var d = new Drive().Run(2400, s => s > 900 ? cruise(s) with { NoxDownstreamPpm = lost } : cruise(s));
        Assert.Equal(1, d.Opened("R5"));
        var a = d.First("R5");
        Assert.Equal(4, a.Measured["reason"]);
        Assert.InRange((a.StartUtc - Drive.At(900)).TotalSeconds, 600, 700);
    }

    [Fact]
    public void R5_DownstreamNeverValid_WhileUpstreamReadsHigh_Opens_BothMissingFromTheStartStaysSilent()
    {
        var cruise = Cruise(8);
        var relocated = new Drive().Run(1800, s => cruise(s) with { NoxDownstreamPpm = -200 });
        Assert.Equal(1, relocated.Opened("R5"));
        // A retrofitted terminal that never had either NOx sensor: missing fields, not tampering.
        var retrofit = new Drive().Run(1800, s => cruise(s) with { NoxDownstreamPpm = double.NaN, NoxUpstreamPpm = double.NaN });
        Assert.Equal(0, retrofit.Opened("R5"));
    }

    // ---- R10 SCR temperature implausible ----

    [Fact]
    public void R10_ScrInletFarBelowWhatLoadImplies_Opens_AndTheTruckDoesNotEscapeR1()
    {
        // A raised sensor reads 150 deg C on a loaded highway run; the SCR is off (800 ppm out).
        var cruise = Cruise(9);
        var d = new Drive().Run(3600, s => cruise(s) with { ScrInletTempC = 150 + (s % 5), NoxDownstreamPpm = 800 + (s % 9) });
        Assert.Equal(1, d.Opened("R10"));
        Assert.Equal(AlertSeverity.Critical, d.First("R10").Severity);
        Assert.InRange((d.First("R10").StartUtc - Drive.At(300)).TotalSeconds, 700, 850);
        Assert.Equal(1, d.Opened("R1"));
        Assert.Equal(1, d.Opened("R3"));
    }

    [Fact]
    public void R10_CoolScrAtLightLoad_NoEpisode()
    {
        // Urban crawl at 10 % torque: a 180 deg C SCR is what light load gives.
        var n = new Noise(10);
        var d = new Drive().Run(3600, s => Drive.Warm(s) with
        {
            SpeedKmh = n.Around(20, 3), EngineTorquePercent = Math.Round(18 + n.Gauss(3)), ScrInletTempC = n.Around(180, 3),
            NoxDownstreamPpm = n.Around(250, 10), NoxUpstreamPpm = n.Around(300, 10),
        });
        Assert.Equal(0, d.Opened("R10"));
    }

    // ---- R4 without false alarms ----

    [Fact]
    public void R4_SloshingTankWhileDriving_NoEpisode()
    {
        var n = new Noise(11);
        // Slosh of +-2 % at braking and cornering, on top of a slowly falling level read in 0.4 % steps.
        var d = new Drive().Run(7200, s => Drive.Warm(s) with
        {
            SpeedKmh = n.Around(60, 5),
            ReagentLevelPercent = Math.Round((50 - (s / 3600.0) + (2 * Math.Sin(s / 7.0)) + n.Gauss(0.5)) / 0.4) * 0.4,
        });
        Assert.Equal(0, d.Opened("R4"));
    }

    [Fact]
    public void R4_RefillStop_NoEpisode_RiseWhileDrivingOpens()
    {
        var n = new Noise(12);
        // Driving at 20 %, five minutes parked while the tank is filled to 85 %, then driving on.
        var refill = new Drive().Run(3600, s => s is > 1200 and <= 1500
            ? Drive.Warm(s) with { SpeedKmh = 0, ReagentLevelPercent = s < 1350 ? 20 : 85 }
            : Drive.Warm(s) with { SpeedKmh = n.Around(60, 4), ReagentLevelPercent = (s <= 1200 ? 20 : 85) + Math.Round(n.Gauss(0.8) / 0.4) * 0.4 });
        Assert.Equal(0, refill.Opened("R4"));
        // An emulator adds 0.4 % every 30 s while driving.
        var rising = new Drive().Run(3600, s => Drive.Warm(s) with { SpeedKmh = n.Around(60, 4), ReagentLevelPercent = 20 + (0.4 * (s / 30)) + Math.Round(n.Gauss(0.8) / 0.4) * 0.4 });
        Assert.Equal(1, rising.Opened("R4"));
        Assert.Equal(2, rising.First("R4").Measured["reason"]);
    }

    // ---- R4 from the supplementary record (0x80): the dosing itself ----

    /// <summary>
    /// A warm cruise whose terminal sends record 0x80: dosing follows the fuel (about 3.5 % urea by
    /// volume) with sensor noise and the controller's short pauses; the counters add up what was used.
    /// <paramref name="dosingAt"/> scales the dosing reported at a second, <paramref name="ureaCounted"/>
    /// the urea the counter adds.
    /// </summary>
    private static Func<int, Sample> DosingCruise(int seed, Func<int, double> dosingAt, Func<int, double> ureaCounted, Func<int, double>? counterBase = null)
    {
        var cruise = Cruise(seed);
        var n = new Noise(seed + 100);
        double fuelL = 123_456, ureaG = 5_000_000;
        return s =>
        {
            var sample = cruise(s);
            var mlph = Math.Round(sample.FuelFlowLph * 35 * n.Around(1, 0.05) * dosingAt(s), 2);
            // The dosing controller pauses for 40 s every 10 min (tank heating, purge): normal.
            if (s % 600 < 40)
                mlph = 0;
            fuelL += sample.FuelFlowLph / 3600;
            ureaG += mlph / 3600 * 1.09 * ureaCounted(s);
            var shift = counterBase?.Invoke(s) ?? 0;
            return sample with
            {
                Supplementary = new SupplementaryStream
                {
                    UreaDosingMlph = mlph,
                    TotalFuelUsedL = Math.Round((fuelL - shift) * 2) / 2,
                    TotalUreaUsedG = Math.Round(ureaG - (shift * 30)),
                    UreaTankTempC = 25,
                },
            };
        };
    }

    [Fact]
    public void R4_DosingWithControllerPauses_AndACounterReset_NoEpisode()
    {
        // Four hours (120 L of fuel) with pauses; halfway the ECU is replaced and both counters restart lower.
        var d = new Drive().Run(14_400, DosingCruise(21, _ => 1, _ => 1, s => s >= 7200 ? 100_000 : 0));
        Assert.Equal(0, d.Opened("R4"));
    }

    [Fact]
    public void R4_DoserCutWhileTheLevelSensorIsFine_OpensOnTheDosing()
    {
        // From 20 min on the doser is cut (the level sensor still reads 50 %, the SCR still reports warm).
        var d = new Drive().Run(3600, DosingCruise(22, s => s >= 1200 ? 0 : 1, _ => 1));
        Assert.Equal(1, d.Opened("R4"));
        var alert = d.First("R4");
        Assert.Equal(4, alert.Measured["reason"]);
        Assert.True(alert.Measured["noDosingSecondsInWindow"] >= 600);
        // Not before 10 min of missing dosing, and not much later.
        Assert.InRange((alert.StartUtc - Drive.At(1200)).TotalMinutes, 9, 14);
    }

    [Fact]
    public void R4_DosingReportedButTheUreaCounterBarelyMoves_OpensOnTheRatio()
    {
        // An emulator reports dosing, but the real urea used is 0.2 % of the fuel: found once 100 L have burned.
        var d = new Drive().Run(14_400, DosingCruise(23, _ => 1, _ => 0.06));
        Assert.Equal(1, d.Opened("R4"));
        var alert = d.First("R4");
        Assert.Equal(5, alert.Measured["reason"]);
        Assert.InRange(alert.Measured["ureaToFuelPercent"], 0.1, 0.3);
        Assert.True(alert.Measured["fuelStretchL"] >= 100);
    }

    // ---- re-issue order and back-filled gaps ----

    private static Sample Stored(int s) => Drive.Warm(s) with { NoxDownstreamPpm = 800 + (s % 11) };

    private static List<string> Episodes(Drive d) =>
        [.. d.Changes.Where(c => c.Kind == AlertChangeKind.Closed && c.Alert.RuleId != "R9.offline")
            .Select(c => $"{c.Alert.RuleId} {c.Alert.StartUtc:O} {c.Alert.LastHeldUtc:O} {c.Alert.EndUtc:O} {c.Alert.Severity}").Order()];

    private static Drive Backlog(bool newestFirst)
    {
        // Clean until 1200, 30 min stored with 800 ppm (terminal offline), live again from 3001.
        var d = new Drive().Run(1200);
        var stored = Enumerable.Range(1201, 1800).Select(Stored).ToList();
        var later = Enumerable.Range(3001, 600).Select(Drive.Warm).ToList();
        for (var i = 0; i < 60; i += 10)
            d.Send(later.GetRange(i, 10));
        var frames = Enumerable.Range(0, stored.Count / 10).Select(f => stored.GetRange(f * 10, 10)).ToList();
        if (newestFirst)
            frames.Reverse();
        var arrival = Drive.At(3061);
        foreach (var f in frames)
        {
            d.Send(f, FrameKind.Reissue, received: arrival);
            arrival = arrival.AddSeconds(1);
        }
        for (var i = 60; i < later.Count; i += 10)
            d.Send(later.GetRange(i, 10));
        d.Detector.OnClock(Drive.At(3600).AddMinutes(10), d.Changes);
        return d;
    }

    [Fact]
    public void Reissue_NewestFirst_GivesTheEpisodesOfTheSameBacklogInTimeOrder()
    {
        var inOrder = Episodes(Backlog(newestFirst: false));
        Assert.Contains(inOrder, e => e.StartsWith("R1 ", StringComparison.Ordinal));
        Assert.Equal(inOrder, Episodes(Backlog(newestFirst: true)));
    }

    [Fact]
    public void R9Offline_GapFilledByReissuedData_ClosesAsBackfilledAdvisory()
    {
        // Driving, 3 min without frames (weak signal), live again, then the terminal re-issues the gap.
        var d = new Drive().Run(600);
        d.Silence(180);
        Assert.Equal(1, d.Opened("R9.offline"));
        var gap = Enumerable.Range(601, 180).Select(Drive.Warm).ToList();
        for (var i = 0; i < 60; i += 10)
            d.Send([.. Enumerable.Range(781 + i, 10).Select(Drive.Warm)], received: Drive.At(791 + i));
        for (var i = 0; i < gap.Count; i += 10)
            d.Send(gap.GetRange(i, 10), FrameKind.Reissue, received: Drive.At(850));
        var closed = d.Changes.Single(c => c.Kind == AlertChangeKind.Closed && c.Alert.RuleId == "R9.offline").Alert;
        Assert.Equal(AlertSeverity.Advisory, closed.Severity);
        Assert.Equal(1, closed.Measured["backfilled"]);
        Assert.Contains("back-filled", closed.Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void R9Offline_GapNeverFilled_ClosesAsWarningAfterHysteresis()
    {
        var d = new Drive().Run(600);
        d.Silence(180);
        d.ContinueAt(780).Run(900);
        var closed = d.Changes.Single(c => c.Kind == AlertChangeKind.Closed && c.Alert.RuleId == "R9.offline").Alert;
        Assert.Equal(AlertSeverity.Warning, closed.Severity);
        Assert.False(closed.Measured.ContainsKey("backfilled"));
    }
}
