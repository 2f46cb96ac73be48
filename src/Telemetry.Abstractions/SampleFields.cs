namespace Telemetry.Abstractions;

/// <summary>
/// The canonical field names (src/Telemetry.Protocol/PROTOCOL.md), in record order, with accessors. Used by the JSON
/// format, the time-series mapping and the CLI so that a name is spelled in one place only.
/// </summary>
public static class SampleFields
{
    /// <summary>One numeric field of <see cref="Sample"/>.</summary>
    public sealed record Field(string Name, string Unit, Func<Sample, double> Get, Func<Sample, double, Sample> With);

    /// <summary>The numeric fields of the diesel data-stream record (type 0x02), in record order.</summary>
    public static readonly IReadOnlyList<Field> Diesel =
    [
        new("speedKmh", "km/h", s => s.SpeedKmh, (s, v) => s with { SpeedKmh = v }),
        new("barometricPressureKpa", "kPa", s => s.BarometricPressureKpa, (s, v) => s with { BarometricPressureKpa = v }),
        new("engineTorquePercent", "%", s => s.EngineTorquePercent, (s, v) => s with { EngineTorquePercent = v }),
        new("frictionTorquePercent", "%", s => s.FrictionTorquePercent, (s, v) => s with { FrictionTorquePercent = v }),
        new("engineSpeedRpm", "rpm", s => s.EngineSpeedRpm, (s, v) => s with { EngineSpeedRpm = v }),
        new("fuelFlowLph", "L/h", s => s.FuelFlowLph, (s, v) => s with { FuelFlowLph = v }),
        new("noxUpstreamPpm", "ppm", s => s.NoxUpstreamPpm, (s, v) => s with { NoxUpstreamPpm = v }),
        new("noxDownstreamPpm", "ppm", s => s.NoxDownstreamPpm, (s, v) => s with { NoxDownstreamPpm = v }),
        new("reagentLevelPercent", "%", s => s.ReagentLevelPercent, (s, v) => s with { ReagentLevelPercent = v }),
        new("intakeAirFlowKgph", "kg/h", s => s.IntakeAirFlowKgph, (s, v) => s with { IntakeAirFlowKgph = v }),
        new("scrInletTempC", "Cel", s => s.ScrInletTempC, (s, v) => s with { ScrInletTempC = v }),
        new("scrOutletTempC", "Cel", s => s.ScrOutletTempC, (s, v) => s with { ScrOutletTempC = v }),
        new("dpfPressureDropKpa", "kPa", s => s.DpfPressureDropKpa, (s, v) => s with { DpfPressureDropKpa = v }),
        new("coolantTempC", "Cel", s => s.CoolantTempC, (s, v) => s with { CoolantTempC = v }),
        new("fuelLevelPercent", "%", s => s.FuelLevelPercent, (s, v) => s with { FuelLevelPercent = v }),
        new("longitude", "deg", s => s.Longitude, (s, v) => s with { Longitude = v }),
        new("latitude", "deg", s => s.Latitude, (s, v) => s with { Latitude = v }),
        new("odometerKm", "km", s => s.OdometerKm, (s, v) => s with { OdometerKm = v }),
    ];

    /// <summary>The numeric fields of the supplementary data-stream record (type 0x80), in record order.</summary>
    public static readonly IReadOnlyList<Field> Supplementary =
    [
        new("engineTorqueMode", "1", s => s.EngineTorqueMode, (s, v) => s with { EngineTorqueMode = v }),
        new("acceleratorPedalPercent", "%", s => s.AcceleratorPedalPercent, (s, v) => s with { AcceleratorPedalPercent = v }),
        new("totalFuelUsedL", "L", s => s.TotalFuelUsedL, (s, v) => s with { TotalFuelUsedL = v }),
        new("ureaTankTempC", "Cel", s => s.UreaTankTempC, (s, v) => s with { UreaTankTempC = v }),
        new("ureaDosingMlph", "mL/h", s => s.UreaDosingMlph, (s, v) => s with { UreaDosingMlph = v }),
        new("totalUreaUsedG", "g", s => s.TotalUreaUsedG, (s, v) => s with { TotalUreaUsedG = v }),
        new("dpfExhaustTempC", "Cel", s => s.DpfExhaustTempC, (s, v) => s with { DpfExhaustTempC = v }),
    ];

    /// <summary>Every numeric field: the diesel record's, then the supplementary record's.</summary>
    public static readonly IReadOnlyList<Field> All = [.. Diesel, .. Supplementary];

    /// <summary>
    /// The value of field <paramref name="index"/> of <see cref="All"/>, read through a reference: what
    /// <c>All[index].Get(sample)</c> gives without copying the sample into a delegate call for every field
    /// (the storage's per-sample loops). NaN for an index outside <see cref="All"/>.
    /// </summary>
    public static double Value(in Sample sample, int index) => index switch
    {
        0 => sample.SpeedKmh,
        1 => sample.BarometricPressureKpa,
        2 => sample.EngineTorquePercent,
        3 => sample.FrictionTorquePercent,
        4 => sample.EngineSpeedRpm,
        5 => sample.FuelFlowLph,
        6 => sample.NoxUpstreamPpm,
        7 => sample.NoxDownstreamPpm,
        8 => sample.ReagentLevelPercent,
        9 => sample.IntakeAirFlowKgph,
        10 => sample.ScrInletTempC,
        11 => sample.ScrOutletTempC,
        12 => sample.DpfPressureDropKpa,
        13 => sample.CoolantTempC,
        14 => sample.FuelLevelPercent,
        15 => sample.Longitude,
        16 => sample.Latitude,
        17 => sample.OdometerKm,
        18 => sample.EngineTorqueMode,
        19 => sample.AcceleratorPedalPercent,
        20 => sample.TotalFuelUsedL,
        21 => sample.UreaTankTempC,
        22 => sample.UreaDosingMlph,
        23 => sample.TotalUreaUsedG,
        24 => sample.DpfExhaustTempC,
        _ => double.NaN,
    };

    /// <summary>Name of the stored/JSON field that says how a signed sample's signature checked out.</summary>
    public const string SignatureName = "signature";

    /// <summary>The text of <paramref name="check"/> in JSON and storage: <c>verified</c>, <c>noKey</c>, <c>failed</c> (or <c>unsigned</c>).</summary>
    public static string SignatureText(SignatureCheck check) => check switch
    {
        SignatureCheck.Verified => "verified",
        SignatureCheck.NoKey => "noKey",
        SignatureCheck.Failed => "failed",
        _ => "unsigned",
    };

    /// <summary>Reads <see cref="SignatureText"/> back; false for an unknown text.</summary>
    public static bool TryParseSignature(string? text, out SignatureCheck check)
    {
        check = text switch
        {
            "verified" => SignatureCheck.Verified,
            "noKey" => SignatureCheck.NoKey,
            "failed" => SignatureCheck.Failed,
            "unsigned" => SignatureCheck.NotSigned,
            _ => (SignatureCheck)255,
        };
        return check != (SignatureCheck)255;
    }
}
