using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

public sealed class RuleTests
{
    // Warm sample: 40 % actual and 10 % friction torque of 2200 N m at 1400 rpm = 96.8 kW of brake power,
    // 825 kg/h exhaust, so specific NOx is about 13.5 mg/kWh per ppm downstream.
    private static Func<int, Sample> Down(double ppm) => s => Drive.Warm(s) with { NoxDownstreamPpm = ppm };

    [Fact]
    public void R2_AboveObdThreshold_OpensWarningWithWindowMeasured()
    {
        var d = new Drive().Run(1800, Down(110));
        Assert.Equal(1, d.Opened("R2"));
        var a = d.First("R2");
        Assert.Equal(AlertSeverity.Warning, a.Severity);
        Assert.InRange(a.Measured["windowMgPerKWh"], 1400, 1650);
        Assert.InRange(a.Measured["windowWorkKWh"], 10, 11.5);
        Assert.Equal(1200, a.Thresholds["alertMgPerKWh"]);
    }

    [Fact]
    public void R2_BetweenInUseAndObdThresholds_OpensAdvisory()
    {
        var d = new Drive().Run(1800, Down(65));
        Assert.Equal(1, d.Opened("R2"));
        Assert.Equal(AlertSeverity.Advisory, d.First("R2").Severity);
    }

    [Fact]
    public void R2_BelowInUseThreshold_NoEpisode()
    {
        var d = new Drive().Run(1800, Down(45));
        Assert.Equal(0, d.Opened("R2"));
    }

    [Fact]
    public void R2_WorkIsActualMinusFrictionTorque()
    {
        // 60 ppm is about 608 mg/kWh of indicated work (below 690) but 811 mg/kWh of brake work.
        var d = new Drive().Run(1800, Down(60));
        Assert.Equal(1, d.Opened("R2"));
        var a = d.First("R2");
        Assert.Equal(AlertSeverity.Advisory, a.Severity);
        Assert.InRange(a.Measured["windowMgPerKWh"], 760, 860);
    }

    [Fact]
    public void R2_EngineBrakingSecondsAddNoWork()
    {
        // Every third second the engine is motored (actual torque 12 %, friction 15 %): no work, and its NOx still counts.
        static Sample Trace(int s) => s % 3 == 0 ? Drive.Warm(s) with { EngineTorquePercent = 12, FrictionTorquePercent = 15, NoxDownstreamPpm = 45 } : Drive.Warm(s) with { NoxDownstreamPpm = 45 };
        var d = new Drive().Run(2400, Trace);
        Assert.Equal(1, d.Opened("R2"));
        // Two thirds of the seconds do work: about 608 x 3 / 2 = 912 mg/kWh.
        Assert.InRange(d.First("R2").Measured["windowMgPerKWh"], 860, 960);
    }

    [Fact]
    public void R2_NoReferenceTorque_SilentAndStatusNamesIt_OtherRulesStillRun()
    {
        var d = new Drive(vehicle: Drive.Vehicle(torque: null)).Run(1800, s => Drive.Warm(s) with { NoxDownstreamPpm = 800 });
        Assert.Equal(0, d.Opened("R2"));
        Assert.Equal(1, d.Opened("R1"));
        var status = d.Detector.RuleStatuses.Single(r => r.RuleId == "R2");
        Assert.False(status.Active);
        Assert.Contains("referenceTorqueNm", status.MissingFields);
    }

    [Fact]
    public void R2_VehicleRegisteredAtRunTime_StartsCounting()
    {
        var d = new Drive(vehicle: Drive.Vehicle(torque: null)).Run(600, Down(150));
        d.Detector.Vehicle = Drive.Vehicle();
        d.Run(1200, Down(150));
        Assert.Equal(1, d.Opened("R2"));
    }

    [Fact]
    public void R2_ColdScr_GatedOut()
    {
        var d = new Drive().Run(1800, s => Down(150)(s) with { ScrInletTempC = 200 });
        Assert.Equal(0, d.Opened("R2"));
    }

    [Fact]
    public void R3_LowEfficiencyForTenGatedMinutes_Opens()
    {
        var d = new Drive().Run(1500, Down(360));
        Assert.Equal(1, d.Opened("R3"));
        var a = d.First("R3");
        Assert.Equal(0.4, a.Measured["efficiency"], 3);
        Assert.InRange((a.StartUtc - Drive.At(300)).TotalSeconds, 620, 640);
    }

    [Fact]
    public void R3_EfficiencyAboveLimit_NoEpisode()
    {
        Assert.Equal(0, new Drive().Run(1800, Down(240)).Opened("R3"));
    }

    [Fact]
    public void R3_NineMinutesOfLowEfficiency_NoEpisode()
    {
        var d = new Drive().Run(1800, s => s > 300 && s <= 300 + 540 + 30 ? Down(360)(s) : Drive.Warm(s));
        Assert.Equal(0, d.Opened("R3"));
    }

    [Fact]
    public void R3_ScrOutsideWorkingRangeOrLowUpstream_NoEpisode()
    {
        Assert.Equal(0, new Drive().Run(1800, s => Down(360)(s) with { ScrInletTempC = 460 }).Opened("R3"));
        Assert.Equal(0, new Drive().Run(1800, s => Drive.Warm(s) with { NoxUpstreamPpm = 90, NoxDownstreamPpm = 60 }).Opened("R3"));
    }

    [Fact]
    public void R3_MissingUpstream_SilentAndStatusNamesIt()
    {
        var d = new Drive().Run(1800, s => Down(360)(s) with { NoxUpstreamPpm = double.NaN });
        Assert.Equal(0, d.Opened("R3"));
        Assert.Contains("noxUpstreamPpm", d.Detector.RuleStatuses.Single(r => r.RuleId == "R3").MissingFields);
    }

    [Fact]
    public void R4_LevelFrozenWhileFuelBurnsAndScrNotConverting_Opens()
    {
        var d = new Drive().Run(7200, Down(400));
        Assert.Equal(1, d.Opened("R4"));
        Assert.True(d.First("R4").Measured["fuelBurnedWithUnchangedLevelL"] > 50);
    }

    [Fact]
    public void R4_LevelFallingNormallyWithLowEfficiency_NoEpisode()
    {
        var d = new Drive().Run(7200, s => Down(400)(s) with { ReagentLevelPercent = 60 - (0.4 * (s / 150)) });
        Assert.Equal(0, d.Opened("R4"));
        Assert.Equal(1, d.Opened("R3"));
    }

    [Fact]
    public void R4_LevelFrozenButScrConverting_NoEpisode()
    {
        Assert.Equal(0, new Drive().Run(7200).Opened("R4"));
    }

    [Fact]
    public void R4_LevelRisingWhileDriving_Opens_AfterRefillStop_DoesNot()
    {
        var rising = new Drive().Run(1200, s => Drive.Warm(s) with { ReagentLevelPercent = s < 600 ? 50 : 50 + (0.4 * ((s - 600) / 30)) });
        Assert.Equal(1, rising.Opened("R4"));
        Assert.Contains("rose", rising.First("R4").Summary, StringComparison.Ordinal);

        // Stopped 5 minutes at 600-900 (refill), level jumps to 90 %, then falls normally.
        var refill = new Drive().Run(1800, s => s is > 600 and <= 900
            ? Drive.Warm(s) with { SpeedKmh = 0, ReagentLevelPercent = 90 }
            : Drive.Warm(s) with { ReagentLevelPercent = s <= 600 ? 40 : 90 - (0.4 * ((s - 900) / 200)) });
        Assert.Equal(0, refill.Opened("R4"));
    }

    [Fact]
    public void R4_EmptyTankWhileDriving_Opens()
    {
        var d = new Drive().Run(600, s => Drive.Warm(s) with { ReagentLevelPercent = s > 300 ? 0 : 5 });
        Assert.Equal(1, d.Opened("R4"));
        Assert.Equal(0, new Drive().Run(600, s => Drive.Warm(s) with { ReagentLevelPercent = 0, SpeedKmh = 0 }).Opened("R4"));
    }

    private static Sample Varying(int s) => Drive.Warm(s) with
    {
        SpeedKmh = 60 + (10 * Math.Sin(s / 30.0)),
        EngineTorquePercent = 40 + (15 * Math.Sin(s / 45.0)),
    };

    [Fact]
    public void R5_DownstreamConstantWhileDrivingVaries_Opens()
    {
        var d = new Drive().Run(1800, s => Varying(s) with { NoxDownstreamPpm = 20 });
        Assert.Equal(1, d.Opened("R5"));
        Assert.Equal(0, d.First("R5").Measured["downstreamStdDevPpm"]);
    }

    [Fact]
    public void R5_DownstreamVarying_NoEpisode()
    {
        Assert.Equal(0, new Drive().Run(1800, s => Varying(s) with { NoxDownstreamPpm = 20 + (3 * Math.Sin(s / 7.0)) }).Opened("R5"));
    }

    [Fact]
    public void R5_DownstreamConstantWhileIdling_NoEpisode()
    {
        Assert.Equal(0, new Drive().Run(1800, s => Drive.Warm(s) with { NoxDownstreamPpm = 20, SpeedKmh = 0 }).Opened("R5"));
    }

    [Fact]
    public void R5_DownstreamAtOrAboveUpstream_Opens_BelowDoesNot()
    {
        Assert.Equal(1, new Drive().Run(1200, s => Drive.Warm(s) with { NoxDownstreamPpm = 600 }).Opened("R5"));
        Assert.Equal(0, new Drive().Run(1200, s => Drive.Warm(s) with { NoxDownstreamPpm = 588 }).Opened("R5"));
    }

    [Fact]
    public void R5_PinnedAtRangeLimit_Opens_ShortPinDoesNot()
    {
        Assert.Equal(1, new Drive().Run(200, s => s > 100 ? Drive.Warm(s) with { NoxDownstreamPpm = 3012.75 } : Drive.Warm(s)).Opened("R5"));
        Assert.Equal(0, new Drive().Run(200, s => s is > 100 and <= 150 ? Drive.Warm(s) with { NoxDownstreamPpm = 3012.75 } : Drive.Warm(s)).Opened("R5"));
    }

    [Fact]
    public void R6_NoPressureDropAtHighExhaustFlow_Opens()
    {
        var d = new Drive().Run(900, s => Drive.Warm(s) with { DpfPressureDropKpa = 0.3 });
        Assert.Equal(1, d.Opened("R6"));
        Assert.InRange((d.First("R6").StartUtc - Drive.At(0)).TotalSeconds, 600, 610);
    }

    [Fact]
    public void R6_PressureDropAtLimitOrLowExhaustFlow_NoEpisode()
    {
        Assert.Equal(0, new Drive().Run(1200, s => Drive.Warm(s) with { DpfPressureDropKpa = 0.5 }).Opened("R6"));
        Assert.Equal(0, new Drive().Run(1200, s => Drive.Warm(s) with { DpfPressureDropKpa = 0.3, IntakeAirFlowKgph = 250, FuelFlowLph = 5 }).Opened("R6"));
    }

    [Fact]
    public void R6_MissingPressureDrop_SilentAndStatusNamesIt()
    {
        var d = new Drive().Run(900, s => Drive.Warm(s) with { DpfPressureDropKpa = double.NaN });
        Assert.Equal(0, d.Opened("R6"));
        Assert.Contains("dpfPressureDropKpa", d.Detector.RuleStatuses.Single(r => r.RuleId == "R6").MissingFields);
    }

    [Fact]
    public void R6_DpfSupportBitCleared_Opens()
    {
        var d = new Drive().Run(900, obd: s => s % 30 == 0 ? Drive.Obd(s, support: s < 450 ? (ushort)0x8C81 : (ushort)0x8881) : null);
        Assert.Equal(1, d.Opened("R6"));
        Assert.Equal(0, d.First("R6").Measured["dpfSupportBit"]);
    }

    [Fact]
    public void R7_MilOnMovingMoreThanTenMinutes_Opens_LessDoesNot()
    {
        static Sample Slow(int s) => Drive.Warm(s) with { SpeedKmh = 30, OdometerKm = 1000 + (s * 30 / 3600.0) };
        // A MIL commanded by a fault comes with its fault code.
        static ObdSnapshot? Mil(int s) => s % 30 == 0 || s == 1 ? Drive.Obd(s, mil: true, dtcs: [0x00B3E101u]) : null;
        var d = new Drive().Run(700, Slow, Mil);
        Assert.Equal(1, d.Opened("R7"));
        Assert.InRange((d.First("R7").StartUtc - Drive.At(0)).TotalSeconds, 600, 615);
        Assert.Equal(0, new Drive().Run(590, Slow, Mil).Opened("R7"));
    }

    [Fact]
    public void R7_MilOnMoreThanTenKilometres_Opens()
    {
        // 90 km/h: 10 km after 400 s, well before 10 minutes.
        var d = new Drive().Run(500, s => Drive.Warm(s) with { SpeedKmh = 90, OdometerKm = 1000 + (s * 90 / 3600.0) }, s => s % 30 == 1 ? Drive.Obd(s, mil: true, dtcs: [0x00B3E101u]) : null);
        Assert.Equal(1, d.Opened("R7"));
        Assert.InRange((d.First("R7").StartUtc - Drive.At(0)).TotalSeconds, 395, 420);
    }

    [Fact]
    public void R7_MilOff_NoEpisode_NoObd_Silent()
    {
        Assert.Equal(0, new Drive().Run(1200, obd: s => s % 30 == 0 ? Drive.Obd(s) : null).Opened("R7"));
        var d = new Drive().Run(1200);
        Assert.Contains("obd", d.Detector.RuleStatuses.Single(r => r.RuleId == "R7").MissingFields);
    }

    [Fact]
    public void R8_CalibrationIdOrCvnChanged_Opens()
    {
        var cal = new Drive().Run(900, obd: s => s % 30 == 0 ? Drive.Obd(s, cal: s < 600 ? "CAL1" : "CAL2") : null);
        Assert.Equal(1, cal.Opened("R8"));
        Assert.Equal(Drive.At(600), cal.First("R8").StartUtc);
        Assert.Contains("CAL2", cal.First("R8").Summary, StringComparison.Ordinal);
        var cvn = new Drive().Run(900, obd: s => s % 30 == 0 ? Drive.Obd(s, cvn: s < 600 ? "AAAA" : "BBBB") : null);
        Assert.Equal(1, cvn.Opened("R8"));
    }

    [Fact]
    public void R8_DtcsClearedWithReadinessReset_Opens_WithoutResetDoesNot()
    {
        var reset = new Drive().Run(900, obd: s => s % 30 == 0 ? (s < 600 ? Drive.Obd(s, dtcs: [1u, 2u]) : Drive.Obd(s, readiness: 0x0C01)) : null);
        Assert.Equal(1, reset.Opened("R8"));
        Assert.Equal(2, reset.First("R8").Measured["clearedFaultCodes"]);
        var repaired = new Drive().Run(900, obd: s => s % 30 == 0 ? (s < 600 ? Drive.Obd(s, dtcs: [1u, 2u]) : Drive.Obd(s)) : null);
        Assert.Equal(0, repaired.Opened("R8"));
    }
}
