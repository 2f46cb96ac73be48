using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

/// <summary>
/// Normal driving that must raise nothing, with realistic sensor noise: every rule runs, and not one
/// episode of any rule opens.
/// </summary>
public sealed class NoAlertTests
{
    /// <summary>A healthy warm truck at <paramref name="speed"/> km/h and <paramref name="torque"/> % (friction 10 %), noisy like real sensors.</summary>
    private static Sample Healthy(Noise n, int s, double speed = 70, double torque = 38, double scr = 330) => Drive.Warm(s) with
    {
        SpeedKmh = Math.Max(0, n.Around(speed, speed > 0 ? 0.8 : 0, 1.0 / 256)),
        EngineTorquePercent = Math.Round(torque + n.Gauss(1.5)),
        FrictionTorquePercent = 10,
        EngineSpeedRpm = n.Around(speed > 0 ? 1300 : 650, 8, 0.125),
        FuelFlowLph = Math.Max(0, n.Around((torque * 0.8) + 2, 0.5)),
        NoxUpstreamPpm = n.Around(200 + (torque * 10), 20),
        NoxDownstreamPpm = Math.Max(0.5, n.Around(8 + (torque * 0.2), 2)),
        IntakeAirFlowKgph = n.Around(300 + (torque * 14), 10),
        ScrInletTempC = n.Around(scr, 2, 0.03125),
        ScrOutletTempC = n.Around(scr - 10, 2, 0.03125),
        DpfPressureDropKpa = Math.Round((2 + (torque * 0.1) + n.Gauss(0.2)) * 10) / 10,
        CoolantTempC = Math.Round(86 + n.Gauss(0.6)),
        ReagentLevelPercent = Math.Round((55 - (s / 7200.0) + n.Gauss(0.3)) / 0.4) * 0.4,
    };

    public static TheoryData<string> Situations => new(
        "winter cold start", "long idle", "DPF regeneration", "urea refill stop", "engine-brake descent", "heavy climb", "tunnel",
        "ignition on, engine off", "single CAN drop-outs", "MIL at key-on");

    [Theory]
    [MemberData(nameof(Situations))]
    public void NormalDriving_RaisesNoAlertOfAnyRule(string situation)
    {
        var n = new Noise(situation.GetHashCode(StringComparison.Ordinal));
        Func<int, Sample> trace;
        Func<int, ObdSnapshot?> obd = s => s == 40 ? Drive.Obd(s) : null;
        switch (situation)
        {
            case "winter cold start":
                // -15 deg C: coolant and SCR warm over 20 min, NOx sensors read -200 while they heat, the cold SCR lets NOx through.
                trace = s =>
                {
                    var warmth = Math.Min(1, s / 1200.0);
                    var scr = -15 + (345 * warmth);
                    return Healthy(n, s, scr: scr) with
                    {
                        CoolantTempC = Math.Round(-15 + (101 * Math.Min(1, s / 900.0))),
                        NoxUpstreamPpm = s < 300 ? -200 : n.Around(600, 30),
                        NoxDownstreamPpm = s < 360 ? -200 : scr < 220 ? n.Around(520, 30) : n.Around(20, 2),
                    };
                };
                break;
            case "long idle":
                // 40 min at idle after a run: the SCR cools to 150 deg C, downstream NOx climbs.
                trace = s =>
                {
                    if (s is <= 1200 or > 3600)
                        return Healthy(n, s);
                    var scr = Math.Max(150, 330 - ((s - 1200) * 0.2));
                    return Healthy(n, s, speed: 0, torque: 5, scr: scr) with
                    {
                        NoxUpstreamPpm = n.Around(180, 15),
                        NoxDownstreamPpm = n.Around(scr < 220 ? 140 : 20, 5),
                    };
                };
                break;
            case "DPF regeneration":
                // 20 min regeneration: SCR inlet 520-600 deg C, pressure drop falls from 9 to 2.5 kPa.
                trace = s => s is > 1200 and <= 2400
                    ? Healthy(n, s, scr: n.Around(560, 20)) with
                    {
                        DpfPressureDropKpa = Math.Round((9 - ((s - 1200) * 6.5 / 1200) + n.Gauss(0.2)) * 10) / 10,
                        NoxDownstreamPpm = n.Around(25, 4),
                    }
                    : Healthy(n, s);
                break;
            case "urea refill stop":
                // Parked 6 min with the engine idling while the tank goes from 15 to 90 %.
                trace = s => s is > 1500 and <= 1860
                    ? Healthy(n, s, speed: 0, torque: 4) with
                    {
                        ReagentLevelPercent = Math.Round((s < 1650 ? 15 : s < 1750 ? 15 + ((s - 1650) * 0.75) : 90) / 0.4) * 0.4,
                    }
                    : Healthy(n, s) with { ReagentLevelPercent = Math.Round(((s <= 1500 ? 15 : 90) + n.Gauss(0.6)) / 0.4) * 0.4 };
                break;
            case "engine-brake descent":
                // 15 min downhill on the engine brake: actual torque 0, friction 12 %, no fuel, NOx near 0.
                trace = s => s is > 1200 and <= 2100
                    ? Healthy(n, s, speed: 65, torque: 0) with
                    {
                        EngineTorquePercent = 0,
                        FrictionTorquePercent = 12,
                        FuelFlowLph = 0,
                        NoxUpstreamPpm = n.Around(6, 1),
                        NoxDownstreamPpm = Math.Max(0, n.Around(0.5, 0.3)),
                        ScrInletTempC = n.Around(Math.Max(220, 330 - ((s - 1200) * 0.1)), 2, 0.03125),
                    }
                    : Healthy(n, s);
                break;
            case "heavy climb":
                // 25 min at 85 % torque: 1,100 ppm engine-out, a hot, working SCR.
                trace = s => s is > 900 and <= 2400
                    ? Healthy(n, s, speed: 45, torque: 85, scr: 430) with { NoxUpstreamPpm = n.Around(1100, 40), NoxDownstreamPpm = n.Around(45, 5) }
                    : Healthy(n, s);
                break;
            case "tunnel":
                // 4 min without a fix at 80 km/h, then a fix 5.3 km further on.
                trace = s => s is > 1200 and <= 1440
                    ? Healthy(n, s, speed: 80) with { PositionStatus = 1 }
                    : Healthy(n, s, speed: 80);
                break;
            case "ignition on, engine off":
                // 15 min with the ignition on and the engine off: zero rpm, NOx not ready, then a normal start and drive.
                trace = s => s <= 900
                    ? Drive.Warm(s) with
                    {
                        SpeedKmh = 0, EngineSpeedRpm = 0, EngineTorquePercent = 0, FuelFlowLph = 0, IntakeAirFlowKgph = double.NaN,
                        NoxUpstreamPpm = -200, NoxDownstreamPpm = -200, ScrInletTempC = n.Around(25, 0.5), DpfPressureDropKpa = 0,
                        CoolantTempC = 25, ReagentLevelPercent = 55,
                    }
                    : Healthy(n, s);
                obd = s => s == 5 ? Drive.Obd(s) : null;
                break;
            case "single CAN drop-outs":
                // About one sample in 90 with every CAN field missing.
                trace = s => n.Uniform() < 0.011
                    ? Sample.Empty(Drive.At(s)) with { PositionStatus = 0 }
                    : Healthy(n, s);
                break;
            case "MIL at key-on":
                // The bulb check lights the MIL at key-on (engine not yet running); the only OBD record of the day sees it.
                trace = s => s <= 20
                    ? Drive.Warm(s) with { SpeedKmh = 0, EngineSpeedRpm = 0, EngineTorquePercent = 0, NoxUpstreamPpm = -200, NoxDownstreamPpm = -200 }
                    : Healthy(n, s);
                obd = s => s == 3 ? Drive.Obd(s, mil: true) : null;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(situation));
        }
        // Position and odometer follow the distance driven (0.0112 deg of longitude per km at this latitude).
        var km = 0.0;
        Sample Located(int s)
        {
            var x = trace(s);
            if (Sample.Has(x.SpeedKmh))
                km += x.SpeedKmh / 3600.0;
            return x.PositionStatus == 1
                ? x with { Longitude = 0, Latitude = 0, OdometerKm = 1000 + km }
                : x with { PositionStatus = 0, Longitude = 117.0 + (km * 0.0112), Latitude = 36.65, OdometerKm = 1000 + km };
        }
        var d = new Drive().Run(4200, Located, obd);
        Assert.True(d.Detector.RuleStatuses.Where(r => r.RuleId is "R1" or "R3" or "R4" or "R5" or "R10").All(r => r.Active), situation);
        Assert.Empty(d.Changes.Select(c => $"{c.Kind} {c.Alert.RuleId}: {c.Alert.Summary}"));
    }
}
