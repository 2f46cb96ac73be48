using Telemetry.Abstractions;

namespace Telemetry.Storage.Benchmarks;

/// <summary>The samples of an HJ 1239 frame that the storage benchmarks render: realistic values, one second apart.</summary>
internal static class BenchmarkFrames
{
    /// <summary>Second <paramref name="i"/> of a frame from <paramref name="time"/>: every field of the diesel record.</summary>
    public static Sample Diesel(DateTime time, int i) => new()
    {
        TimeUtc = time,
        SpeedKmh = 62.5 + i * 0.25,
        BarometricPressureKpa = 100.5,
        EngineTorquePercent = 47 + i,
        FrictionTorquePercent = 8,
        EngineSpeedRpm = 1412.375 + i,
        FuelFlowLph = 21.35 + i * 0.05,
        NoxUpstreamPpm = 812.4 - i,
        NoxDownstreamPpm = 38.15 + i * 0.5,
        ReagentLevelPercent = 61.2,
        IntakeAirFlowKgph = 1003.65 + i,
        ScrInletTempC = 318.03125 + i,
        ScrOutletTempC = 301.5 + i,
        DpfPressureDropKpa = 2.1,
        CoolantTempC = 86,
        FuelLevelPercent = 55.6,
        PositionStatus = 0,
        Longitude = 117.120_345 + i * 1e-5,
        Latitude = 36.651_234 + i * 1e-5,
        OdometerKm = 183_456.7 + i * 0.02,
    };

    /// <summary>As <see cref="Diesel"/>, with every field of the supplementary record too.</summary>
    public static Sample WithSupplementary(DateTime time, int i) => Diesel(time, i) with
    {
        EngineTorqueMode = 1,
        AcceleratorPedalPercent = 32.4,
        TotalFuelUsedL = 120_345.5 + i * 0.01,
        UreaTankTempC = 24,
        UreaDosingMlph = 812,
        TotalUreaUsedG = 45_678 + i,
        DpfExhaustTempC = 402.5 + i,
    };
}
