using System.Runtime.CompilerServices;

namespace Telemetry.Abstractions;

/// <summary>
/// One second of diesel data stream (GB 17691 Annex Q record type 0x02), in engineering units.
/// A field that the terminal marked not available, abnormal or out of the J1939 valid range
/// is <see cref="double.NaN"/>: a missing value, never a number. Use <see cref="Has(double)"/>.
/// </summary>
/// <remarks>A struct so a frame's records live in one array and rules read them without allocation.</remarks>
[GenerateSerializer, Immutable]
public readonly record struct Sample
{
    /// <summary>Sample time, UTC.</summary>
    [Id(0)] public DateTime TimeUtc { get; init; }
    /// <summary>Vehicle speed, km/h.</summary>
    [Id(1)] public double SpeedKmh { get; init; }
    /// <summary>Barometric pressure, kPa.</summary>
    [Id(2)] public double BarometricPressureKpa { get; init; }
    /// <summary>Actual engine torque, % of reference torque.</summary>
    [Id(3)] public double EngineTorquePercent { get; init; }
    /// <summary>Friction torque, % of reference torque.</summary>
    [Id(4)] public double FrictionTorquePercent { get; init; }
    /// <summary>Engine speed, rpm.</summary>
    [Id(5)] public double EngineSpeedRpm { get; init; }
    /// <summary>Engine fuel flow, L/h.</summary>
    [Id(6)] public double FuelFlowLph { get; init; }
    /// <summary>NOx sensor upstream of the SCR, ppm (-200 while the sensor is not ready).</summary>
    [Id(7)] public double NoxUpstreamPpm { get; init; }
    /// <summary>NOx sensor downstream of the SCR (tailpipe), ppm (-200 while not ready).</summary>
    [Id(8)] public double NoxDownstreamPpm { get; init; }
    /// <summary>Reagent (urea) tank level, %.</summary>
    [Id(9)] public double ReagentLevelPercent { get; init; }
    /// <summary>Intake air mass flow, kg/h.</summary>
    [Id(10)] public double IntakeAirFlowKgph { get; init; }
    /// <summary>SCR inlet temperature, deg C.</summary>
    [Id(11)] public double ScrInletTempC { get; init; }
    /// <summary>SCR outlet temperature, deg C.</summary>
    [Id(12)] public double ScrOutletTempC { get; init; }
    /// <summary>DPF differential pressure, kPa.</summary>
    [Id(13)] public double DpfPressureDropKpa { get; init; }
    /// <summary>Engine coolant temperature, deg C.</summary>
    [Id(14)] public double CoolantTempC { get; init; }
    /// <summary>Fuel tank level, %.</summary>
    [Id(15)] public double FuelLevelPercent { get; init; }
    /// <summary>Raw position status byte: bit0 invalid, bit1 south, bit2 west.</summary>
    [Id(16)] public byte PositionStatus { get; init; }
    /// <summary>Longitude in degrees, negative west (already signed by the status bits).</summary>
    [Id(17)] public double Longitude { get; init; }
    /// <summary>Latitude in degrees, negative south (already signed by the status bits).</summary>
    [Id(18)] public double Latitude { get; init; }
    /// <summary>Total distance, km.</summary>
    [Id(19)] public double OdometerKm { get; init; }

    // Supplementary data stream (record type 0x80). Kept in one optional object so that samples of
    // terminals without that record stay as small and cheap as before; NaN when it is absent.

    /// <summary>The supplementary data stream of this second (record type 0x80), or null when the terminal sent none (or only missing values).</summary>
    [Id(20)] public SupplementaryStream? Supplementary { get; init; }

    /// <summary>J1939 engine torque mode code (0-250).</summary>
    public double EngineTorqueMode
    {
        get => Supplementary?.EngineTorqueMode ?? double.NaN;
        init => Supplementary = SupplementaryStream.OrNull((Supplementary ?? SupplementaryStream.Missing) with { EngineTorqueMode = value });
    }
    /// <summary>Accelerator pedal position, %.</summary>
    public double AcceleratorPedalPercent
    {
        get => Supplementary?.AcceleratorPedalPercent ?? double.NaN;
        init => Supplementary = SupplementaryStream.OrNull((Supplementary ?? SupplementaryStream.Missing) with { AcceleratorPedalPercent = value });
    }
    /// <summary>Cumulative fuel used, L.</summary>
    public double TotalFuelUsedL
    {
        get => Supplementary?.TotalFuelUsedL ?? double.NaN;
        init => Supplementary = SupplementaryStream.OrNull((Supplementary ?? SupplementaryStream.Missing) with { TotalFuelUsedL = value });
    }
    /// <summary>Urea (reagent) tank temperature, deg C.</summary>
    public double UreaTankTempC
    {
        get => Supplementary?.UreaTankTempC ?? double.NaN;
        init => Supplementary = SupplementaryStream.OrNull((Supplementary ?? SupplementaryStream.Missing) with { UreaTankTempC = value });
    }
    /// <summary>Actual urea dosing, mL/h.</summary>
    public double UreaDosingMlph
    {
        get => Supplementary?.UreaDosingMlph ?? double.NaN;
        init => Supplementary = SupplementaryStream.OrNull((Supplementary ?? SupplementaryStream.Missing) with { UreaDosingMlph = value });
    }
    /// <summary>Cumulative urea used, g.</summary>
    public double TotalUreaUsedG
    {
        get => Supplementary?.TotalUreaUsedG ?? double.NaN;
        init => Supplementary = SupplementaryStream.OrNull((Supplementary ?? SupplementaryStream.Missing) with { TotalUreaUsedG = value });
    }
    /// <summary>DPF exhaust temperature, deg C.</summary>
    public double DpfExhaustTempC
    {
        get => Supplementary?.DpfExhaustTempC ?? double.NaN;
        init => Supplementary = SupplementaryStream.OrNull((Supplementary ?? SupplementaryStream.Missing) with { DpfExhaustTempC = value });
    }

    /// <summary>Whether the record this sample came from was signed and what checking the signature found.</summary>
    [Id(21)] public SignatureCheck Signature { get; init; }

    /// <summary>True when the terminal reported a valid position fix (status bit0 clear).</summary>
    public bool PositionValid => (PositionStatus & 0x01) == 0 && Has(Longitude) && Has(Latitude);

    /// <summary>True when <paramref name="value"/> is a measurement, false when it is missing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Has(double value) => !double.IsNaN(value);

    /// <summary>A sample at <paramref name="timeUtc"/> with every field missing and the position invalid.</summary>
    public static Sample Empty(DateTime timeUtc) => new()
    {
        TimeUtc = timeUtc,
        SpeedKmh = double.NaN,
        BarometricPressureKpa = double.NaN,
        EngineTorquePercent = double.NaN,
        FrictionTorquePercent = double.NaN,
        EngineSpeedRpm = double.NaN,
        FuelFlowLph = double.NaN,
        NoxUpstreamPpm = double.NaN,
        NoxDownstreamPpm = double.NaN,
        ReagentLevelPercent = double.NaN,
        IntakeAirFlowKgph = double.NaN,
        ScrInletTempC = double.NaN,
        ScrOutletTempC = double.NaN,
        DpfPressureDropKpa = double.NaN,
        CoolantTempC = double.NaN,
        FuelLevelPercent = double.NaN,
        PositionStatus = 0x01,
        Longitude = double.NaN,
        Latitude = double.NaN,
        OdometerKm = double.NaN,
    };
}

/// <summary>
/// The supplementary data stream (record type 0x80) of one second, in engineering units; NaN is a
/// missing value. Reached through the sample's properties of the same names.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record class SupplementaryStream
{
    /// <summary>Every value missing.</summary>
    public static SupplementaryStream Missing { get; } = new();

    /// <summary>True when at least one value is a measurement.</summary>
    public bool HasAny => !(double.IsNaN(EngineTorqueMode) && double.IsNaN(AcceleratorPedalPercent) && double.IsNaN(TotalFuelUsedL)
        && double.IsNaN(UreaTankTempC) && double.IsNaN(UreaDosingMlph) && double.IsNaN(TotalUreaUsedG) && double.IsNaN(DpfExhaustTempC));

    /// <summary><paramref name="stream"/>, or null when it holds no measurement: "all missing" and "none sent" are one state.</summary>
    public static SupplementaryStream? OrNull(SupplementaryStream? stream) => stream is { HasAny: true } ? stream : null;

    /// <summary>J1939 engine torque mode code (0-250).</summary>
    [Id(0)] public double EngineTorqueMode { get; init; } = double.NaN;
    /// <summary>Accelerator pedal position, %.</summary>
    [Id(1)] public double AcceleratorPedalPercent { get; init; } = double.NaN;
    /// <summary>Cumulative fuel used, L.</summary>
    [Id(2)] public double TotalFuelUsedL { get; init; } = double.NaN;
    /// <summary>Urea tank temperature, deg C.</summary>
    [Id(3)] public double UreaTankTempC { get; init; } = double.NaN;
    /// <summary>Actual urea dosing, mL/h.</summary>
    [Id(4)] public double UreaDosingMlph { get; init; } = double.NaN;
    /// <summary>Cumulative urea used, g.</summary>
    [Id(5)] public double TotalUreaUsedG { get; init; } = double.NaN;
    /// <summary>DPF exhaust temperature, deg C.</summary>
    [Id(6)] public double DpfExhaustTempC { get; init; } = double.NaN;
}

/// <summary>What is known about the signature of the record a sample came from.</summary>
public enum SignatureCheck : byte
{
    /// <summary>The terminal's profile does not sign (or the sample came as JSON).</summary>
    NotSigned = 0,
    /// <summary>Signed, and the signature verified with the terminal's registered public key.</summary>
    Verified = 1,
    /// <summary>Signed, but no public key is registered for the terminal: not verified.</summary>
    NoKey = 2,
    /// <summary>Signed, and the signature did not verify (or the registered key is unusable).</summary>
    Failed = 3,
}
