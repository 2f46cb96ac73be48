using System.Buffers.Binary;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>
/// The supplementary data-stream record (type 0x80, 17 bytes): torque mode, accelerator pedal,
/// cumulative fuel, urea tank temperature, actual urea dosing, cumulative urea and DPF exhaust
/// temperature. Same J1939 invalid markers as the diesel record: raw values above the valid range
/// decode to NaN.
/// </summary>
public static class SupplementaryFields
{
    public static readonly FieldScale EngineTorqueMode = new("engineTorqueMode", 0, 1, 1, 0, 1, 0xFA);
    public static readonly FieldScale AcceleratorPedal = new("acceleratorPedalPercent", 1, 1, 2, 0, 5, 0xFA);
    public static readonly FieldScale TotalFuelUsed = new("totalFuelUsedL", 2, 4, 1, 0, 2, 0xFAFF_FFFF);
    public static readonly FieldScale UreaTankTemp = new("ureaTankTempC", 6, 1, 1, 40, 1, 0xFA);
    public static readonly FieldScale UreaDosing = new("ureaDosingMlph", 7, 4, 1, 0, 100, 0xFAFF_FFFF);
    public static readonly FieldScale TotalUreaUsed = new("totalUreaUsedG", 11, 4, 1, 0, 1, 0xFAFF_FFFF);
    public static readonly FieldScale DpfExhaustTemp = new("dpfExhaustTempC", 15, 2, 1, 8736, 32, 0xFAFF);

    /// <summary>Every field of the record, in the order of <see cref="SampleFields.Supplementary"/>.</summary>
    public static IReadOnlyList<FieldScale> All { get; } =
        [EngineTorqueMode, AcceleratorPedal, TotalFuelUsed, UreaTankTemp, UreaDosing, TotalUreaUsed, DpfExhaustTemp];

    /// <summary>The scale of every canonical field, in the order of <see cref="SampleFields.All"/> (diesel, then supplementary).</summary>
    public static IReadOnlyList<FieldScale> Canonical { get; } = [.. DieselFields.All, .. All];

    /// <summary>True when <paramref name="sample"/> holds at least one supplementary measurement.</summary>
    public static bool HasAny(in Sample sample) => sample.Supplementary is { HasAny: true };

    /// <summary>Decodes a 17-byte body into the supplementary fields of <paramref name="sample"/>.</summary>
    public static Sample Apply(ReadOnlySpan<byte> body, Sample sample)
    {
        if (body.Length < RecordTypes.SupplementaryLength)
            throw new ArgumentException("A supplementary data-stream body has 17 bytes.", nameof(body));
        return sample with
        {
            Supplementary = SupplementaryStream.OrNull(new SupplementaryStream
            {
                EngineTorqueMode = Read(body, EngineTorqueMode),
                AcceleratorPedalPercent = Read(body, AcceleratorPedal),
                TotalFuelUsedL = Read(body, TotalFuelUsed),
                UreaTankTempC = Read(body, UreaTankTemp),
                UreaDosingMlph = Read(body, UreaDosing),
                TotalUreaUsedG = Read(body, TotalUreaUsed),
                DpfExhaustTempC = Read(body, DpfExhaustTemp),
            }),
        };
    }

    /// <summary>Encodes the supplementary fields of <paramref name="sample"/>; NaN becomes "not available".</summary>
    public static void Write(Span<byte> body, in Sample sample)
    {
        _ = body[RecordTypes.SupplementaryLength - 1];
        body[0] = (byte)EngineTorqueMode.Encode(sample.EngineTorqueMode);
        body[1] = (byte)AcceleratorPedal.Encode(sample.AcceleratorPedalPercent);
        BinaryPrimitives.WriteUInt32BigEndian(body[2..], TotalFuelUsed.Encode(sample.TotalFuelUsedL));
        body[6] = (byte)UreaTankTemp.Encode(sample.UreaTankTempC);
        BinaryPrimitives.WriteUInt32BigEndian(body[7..], UreaDosing.Encode(sample.UreaDosingMlph));
        BinaryPrimitives.WriteUInt32BigEndian(body[11..], TotalUreaUsed.Encode(sample.TotalUreaUsedG));
        BinaryPrimitives.WriteUInt16BigEndian(body[15..], (ushort)DpfExhaustTemp.Encode(sample.DpfExhaustTempC));
    }

    private static double Read(ReadOnlySpan<byte> body, FieldScale scale) => scale.Decode(scale.Size switch
    {
        1 => body[scale.Offset],
        2 => BinaryPrimitives.ReadUInt16BigEndian(body[scale.Offset..]),
        _ => BinaryPrimitives.ReadUInt32BigEndian(body[scale.Offset..]),
    });
}
