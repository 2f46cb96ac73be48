using System.Collections.Immutable;

namespace Telemetry.Abstractions;

/// <summary>OBD information record (GB 17691 Annex Q record type 0x01). Invalid markers (0xFE) are null.</summary>
[GenerateSerializer, Immutable]
public sealed record class ObdSnapshot
{
    /// <summary>Time of the frame or record that carried this snapshot, UTC.</summary>
    [Id(0)] public DateTime TimeUtc { get; init; }
    /// <summary>0 ISO 15765, 1 ISO 27145, 2 SAE J1939; null when the terminal marked it invalid.</summary>
    [Id(1)] public byte? ObdProtocol { get; init; }
    /// <summary>Malfunction indicator lamp; null when invalid.</summary>
    [Id(2)] public bool? MilOn { get; init; }
    /// <summary>Diagnostic support bitmask (see <see cref="DiagnosticBits"/>).</summary>
    [Id(3)] public ushort DiagnosticSupport { get; init; }
    /// <summary>Diagnostic readiness bitmask: a set bit means the monitor is not complete.</summary>
    [Id(4)] public ushort DiagnosticReadiness { get; init; }
    /// <summary>VIN as the engine control unit reports it.</summary>
    [Id(5)] public string Vin { get; init; } = "";
    /// <summary>Software calibration identification.</summary>
    [Id(6)] public string CalibrationId { get; init; } = "";
    /// <summary>Calibration verification number.</summary>
    [Id(7)] public string Cvn { get; init; } = "";
    /// <summary>In-use performance ratios, 36 raw bytes.</summary>
    [Id(8)] public ImmutableArray<byte> Iupr { get; init; } = [];
    /// <summary>Fault codes, 4 bytes each.</summary>
    [Id(9)] public ImmutableArray<uint> Dtcs { get; init; } = [];

    /// <summary>The terminal marked the fault-code count invalid (0xFE): no codes were sent, which says nothing about the codes.</summary>
    [Id(10)] public bool DtcCountInvalid { get; init; }

    /// <summary>Number of fault codes.</summary>
    public int DtcCount => Dtcs.IsDefault ? 0 : Dtcs.Length;
}

/// <summary>Bits of the OBD diagnostic support and readiness masks.</summary>
public static class DiagnosticBits
{
    public const ushort Catalyst = 0x0001;
    public const ushort EgrVvt = 0x0080;
    public const ushort Dpf = 0x0400;
    public const ushort ScrNoxAdsorber = 0x0800;
    public const ushort ComprehensiveComponents = 0x8000;
}
