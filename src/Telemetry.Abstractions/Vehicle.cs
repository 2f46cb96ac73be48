namespace Telemetry.Abstractions;

/// <summary>Reference data of one vehicle from the registry. Every field but the VIN may be unknown.</summary>
[GenerateSerializer, Immutable]
public sealed record class VehicleInfo
{
    [Id(0)] public required string Vin { get; init; }
    /// <summary>Fleet (operator) that owns the truck; fleet operators only see their own.</summary>
    [Id(1)] public string? Fleet { get; init; }
    /// <summary>Administrative region of registration.</summary>
    [Id(2)] public string? Region { get; init; }
    [Id(3)] public string? EngineModel { get; init; }
    /// <summary>Engine reference torque, N m: needed for power and mg/kWh.</summary>
    [Id(4)] public double? ReferenceTorqueNm { get; init; }
    /// <summary>Emission stage, such as "China VI".</summary>
    [Id(5)] public string? EmissionStage { get; init; }
    /// <summary>
    /// Terminal profile of this vehicle's binary frames (such as <c>signedRecords</c>); when set it
    /// replaces the topic's format, for fleets whose terminals' firmware differs on one topic format.
    /// </summary>
    [Id(6)] public string? TerminalProfile { get; init; }
    /// <summary>The terminal's SM2 public key in hex (<c>04 || X || Y</c>); signed frames are verified with it.</summary>
    [Id(7)] public string? TerminalPublicKey { get; init; }
}
