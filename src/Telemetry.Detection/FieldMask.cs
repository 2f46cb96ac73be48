using System.Numerics;
using System.Runtime.CompilerServices;
using Telemetry.Abstractions;

namespace Telemetry.Detection;

/// <summary>The inputs a rule needs: sample fields (canonical names, listed in RULES.md of this project) plus OBD records and reference data.</summary>
[Flags]
public enum FieldMask
{
    None = 0,
    SpeedKmh = 1 << 0,
    BarometricPressureKpa = 1 << 1,
    EngineTorquePercent = 1 << 2,
    FrictionTorquePercent = 1 << 3,
    EngineSpeedRpm = 1 << 4,
    FuelFlowLph = 1 << 5,
    NoxUpstreamPpm = 1 << 6,
    NoxDownstreamPpm = 1 << 7,
    ReagentLevelPercent = 1 << 8,
    IntakeAirFlowKgph = 1 << 9,
    ScrInletTempC = 1 << 10,
    ScrOutletTempC = 1 << 11,
    DpfPressureDropKpa = 1 << 12,
    CoolantTempC = 1 << 13,
    FuelLevelPercent = 1 << 14,
    Position = 1 << 15,
    OdometerKm = 1 << 16,
    /// <summary>All fields of the diesel data stream.</summary>
    AllSampleFields = (1 << 17) - 1,
    /// <summary>OBD information records (type 0x01).</summary>
    Obd = 1 << 20,
    /// <summary>Reference torque from the vehicle registry.</summary>
    ReferenceTorque = 1 << 21,
}

/// <summary>Presence of fields in a sample, and their canonical names.</summary>
public static class FieldMasks
{
    /// <summary>The fields of <paramref name="s"/> that carry a measurement.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FieldMask Present(in Sample s)
    {
        var m = 0;
        if (Sample.Has(s.SpeedKmh)) m |= 1 << 0;
        if (Sample.Has(s.BarometricPressureKpa)) m |= 1 << 1;
        if (Sample.Has(s.EngineTorquePercent)) m |= 1 << 2;
        if (Sample.Has(s.FrictionTorquePercent)) m |= 1 << 3;
        if (Sample.Has(s.EngineSpeedRpm)) m |= 1 << 4;
        if (Sample.Has(s.FuelFlowLph)) m |= 1 << 5;
        if (Sample.Has(s.NoxUpstreamPpm)) m |= 1 << 6;
        if (Sample.Has(s.NoxDownstreamPpm)) m |= 1 << 7;
        if (Sample.Has(s.ReagentLevelPercent)) m |= 1 << 8;
        if (Sample.Has(s.IntakeAirFlowKgph)) m |= 1 << 9;
        if (Sample.Has(s.ScrInletTempC)) m |= 1 << 10;
        if (Sample.Has(s.ScrOutletTempC)) m |= 1 << 11;
        if (Sample.Has(s.DpfPressureDropKpa)) m |= 1 << 12;
        if (Sample.Has(s.CoolantTempC)) m |= 1 << 13;
        if (Sample.Has(s.FuelLevelPercent)) m |= 1 << 14;
        if (s.PositionValid) m |= 1 << 15;
        if (Sample.Has(s.OdometerKm)) m |= 1 << 16;
        return (FieldMask)m;
    }

    /// <summary>Number of sample fields in the mask.</summary>
    public static int CountFields(FieldMask mask) => BitOperations.PopCount((uint)(mask & FieldMask.AllSampleFields));

    /// <summary>Canonical names of the inputs in <paramref name="mask"/>.</summary>
    public static IReadOnlyList<string> Names(FieldMask mask)
    {
        var names = new List<string>();
        foreach (var (bit, name) in NameTable)
        {
            if ((mask & bit) != 0)
                names.Add(name);
        }
        return names;
    }

    private static readonly (FieldMask Bit, string Name)[] NameTable =
    [
        (FieldMask.SpeedKmh, "speedKmh"),
        (FieldMask.BarometricPressureKpa, "barometricPressureKpa"),
        (FieldMask.EngineTorquePercent, "engineTorquePercent"),
        (FieldMask.FrictionTorquePercent, "frictionTorquePercent"),
        (FieldMask.EngineSpeedRpm, "engineSpeedRpm"),
        (FieldMask.FuelFlowLph, "fuelFlowLph"),
        (FieldMask.NoxUpstreamPpm, "noxUpstreamPpm"),
        (FieldMask.NoxDownstreamPpm, "noxDownstreamPpm"),
        (FieldMask.ReagentLevelPercent, "reagentLevelPercent"),
        (FieldMask.IntakeAirFlowKgph, "intakeAirFlowKgph"),
        (FieldMask.ScrInletTempC, "scrInletTempC"),
        (FieldMask.ScrOutletTempC, "scrOutletTempC"),
        (FieldMask.DpfPressureDropKpa, "dpfPressureDropKpa"),
        (FieldMask.CoolantTempC, "coolantTempC"),
        (FieldMask.FuelLevelPercent, "fuelLevelPercent"),
        (FieldMask.Position, "position"),
        (FieldMask.OdometerKm, "odometerKm"),
        (FieldMask.Obd, "obd"),
        (FieldMask.ReferenceTorque, "referenceTorqueNm"),
    ];
}
