namespace Telemetry.Abstractions;

/// <summary>
/// The canonical field names of DOMAIN.md, in record order, with accessors. Used by the JSON
/// format, the time-series mapping and the CLI so that a name is spelled in one place only.
/// </summary>
public static class SampleFields
{
    /// <summary>One numeric field of <see cref="Sample"/>.</summary>
    public sealed record Field(string Name, string Unit, Func<Sample, double> Get, Func<Sample, double, Sample> With);

    /// <summary>Every numeric field, in the order of the diesel data-stream record.</summary>
    public static readonly IReadOnlyList<Field> All =
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
}
