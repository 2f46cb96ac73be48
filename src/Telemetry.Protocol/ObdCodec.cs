using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>The OBD information record (type 0x01, 96 + 4 x n bytes).</summary>
public static class ObdCodec
{
    /// <summary>Length of the in-use performance ratio block.</summary>
    public const int IuprLength = 36;

    /// <summary>Body length of <paramref name="obd"/>.</summary>
    public static int BodyLength(ObdSnapshot obd) => RecordTypes.ObdFixedLength + (obd.DtcCountInvalid ? 0 : 4 * obd.DtcCount);

    /// <summary>
    /// Decodes a body whose length is already checked to be 96 + 4 x (fault code count). Protocol
    /// above 0xFA and lamp values other than 0/1 are invalid markers and decode to null. A fault-code
    /// count of 0xFE means "count invalid": no codes follow. Placeholder texts (all 0xFF, all '0',
    /// all '1', blank) in the VIN, calibration ID and CVN decode as not available (empty).
    /// </summary>
    public static ObdSnapshot Read(ReadOnlySpan<byte> body, DateTime timeUtc)
    {
        var countInvalid = body[95] == RecordTypes.DtcCountInvalid;
        var count = countInvalid ? 0 : body[95];
        var dtcs = count == 0 ? [] : new uint[count];
        for (var k = 0; k < dtcs.Length; k++)
            dtcs[k] = BinaryPrimitives.ReadUInt32BigEndian(body.Slice(96 + (4 * k), 4));
        return new ObdSnapshot
        {
            TimeUtc = timeUtc,
            ObdProtocol = body[0] <= 0xFA ? body[0] : null,
            MilOn = body[1] switch { 0 => false, 1 => true, _ => null },
            DiagnosticSupport = BinaryPrimitives.ReadUInt16BigEndian(body[2..]),
            DiagnosticReadiness = BinaryPrimitives.ReadUInt16BigEndian(body[4..]),
            Vin = Wire.ReadOptionalText(body.Slice(6, 17)),
            CalibrationId = Wire.ReadOptionalText(body.Slice(23, 18)),
            Cvn = Wire.ReadOptionalText(body.Slice(41, 18)),
            Iupr = body.Slice(59, IuprLength).ToImmutableArray(),
            Dtcs = ImmutableCollectionsMarshal.AsImmutableArray(dtcs),
            DtcCountInvalid = countInvalid,
        };
    }

    /// <summary>Encodes <paramref name="obd"/>; null protocol or lamp become the invalid marker 0xFE, a missing IUPR block 36 zero bytes.</summary>
    public static void Write(Span<byte> body, ObdSnapshot obd)
    {
        ArgumentNullException.ThrowIfNull(obd);
        if (obd.DtcCountInvalid && obd.DtcCount > 0)
            throw new ArgumentException("dtcs must be empty when the fault-code count is marked invalid.", nameof(obd));
        if (obd.DtcCount > RecordTypes.MaxDtcCount)
            throw new ArgumentException($"dtcs has {obd.DtcCount} fault codes; a record carries at most {RecordTypes.MaxDtcCount}.", nameof(obd));
        if (obd.ObdProtocol is > 0xFA)
            throw new ArgumentException($"obdProtocol {obd.ObdProtocol} is a marker value, not a protocol; use null.", nameof(obd));
        var iupr = obd.Iupr.IsDefault ? [] : obd.Iupr;
        if (iupr.Length is not (0 or IuprLength))
            throw new ArgumentException($"iupr has {iupr.Length} bytes; it must have {IuprLength} or none.", nameof(obd));
        body[0] = obd.ObdProtocol ?? 0xFE;
        body[1] = obd.MilOn switch { false => 0, true => 1, null => 0xFE };
        BinaryPrimitives.WriteUInt16BigEndian(body[2..], obd.DiagnosticSupport);
        BinaryPrimitives.WriteUInt16BigEndian(body[4..], obd.DiagnosticReadiness);
        Wire.WriteText(body.Slice(6, 17), obd.Vin, "obd vin");
        Wire.WriteText(body.Slice(23, 18), obd.CalibrationId, "calibrationId");
        Wire.WriteText(body.Slice(41, 18), obd.Cvn, "cvn");
        body.Slice(59, IuprLength).Clear();
        iupr.AsSpan().CopyTo(body.Slice(59, IuprLength));
        body[95] = obd.DtcCountInvalid ? RecordTypes.DtcCountInvalid : (byte)obd.DtcCount;
        for (var k = 0; k < obd.DtcCount; k++)
            BinaryPrimitives.WriteUInt32BigEndian(body.Slice(96 + (4 * k), 4), obd.Dtcs[k]);
    }
}
