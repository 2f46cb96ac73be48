using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>
/// Scaling of one diesel data-stream field: <c>value = (raw x Numerator - Bias) / Denominator</c>,
/// valid for raw values 0..<see cref="MaxRaw"/>. The form keeps one rounding step, so 97 x 0.4
/// decodes to the double nearest 38.8 and encode(decode(raw)) == raw.
/// </summary>
/// <param name="Name">Canonical name (PROTOCOL.md) (<see cref="SampleFields"/>).</param>
/// <param name="Offset">Byte offset in the 37-byte body.</param>
/// <param name="Size">1, 2 or 4 bytes, big-endian.</param>
/// <param name="Numerator">Integer numerator of the resolution.</param>
/// <param name="Bias">Offset in raw units x numerator (for example 200 ppm / 0.05 = 4000).</param>
/// <param name="Denominator">Integer denominator of the resolution.</param>
/// <param name="MaxRaw">Largest raw value that is a measurement; above it the value is missing.</param>
public sealed record class FieldScale(string Name, int Offset, int Size, int Numerator, long Bias, double Denominator, uint MaxRaw)
{
    /// <summary>Smallest value the field can carry (raw 0).</summary>
    public double Min => -Bias / Denominator;

    /// <summary>Largest value the field can carry (raw <see cref="MaxRaw"/>).</summary>
    public double Max => (((long)MaxRaw * Numerator) - Bias) / Denominator;

    /// <summary>The raw value meaning "not available" (all ones).</summary>
    public uint NotAvailable => Size switch { 1 => 0xFF, 2 => 0xFFFF, _ => 0xFFFF_FFFF };

    /// <summary>The engineering value of <paramref name="raw"/>, or NaN when it is a marker or out of range.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Decode(uint raw) => raw <= MaxRaw ? (((long)raw * Numerator) - Bias) / Denominator : double.NaN;

    /// <summary>
    /// The raw value of <paramref name="value"/> (rounded to the resolution); NaN encodes as not available.
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the field when the value cannot be carried.
    /// </summary>
    public uint Encode(double value)
    {
        if (double.IsNaN(value))
            return NotAvailable;
        var raw = Math.Round(((value * Denominator) + Bias) / Numerator, MidpointRounding.AwayFromZero);
        if (!(raw >= 0 && raw <= MaxRaw))
            throw new ArgumentOutOfRangeException(nameof(value), value, $"{Name} = {value} is outside {Min}..{Max} and cannot be encoded.");
        return (uint)raw;
    }
}

/// <summary>The diesel data-stream record (type 0x02, 37 bytes): layout, scaling and codec.</summary>
public static class DieselFields
{
    /// <summary>Offset of the position status byte in the body.</summary>
    public const int PositionStatusOffset = 24;

    public static readonly FieldScale Speed = new("speedKmh", 0, 2, 1, 0, 256, 0xFAFF);
    public static readonly FieldScale BarometricPressure = new("barometricPressureKpa", 2, 1, 1, 0, 2, 0xFA);
    public static readonly FieldScale EngineTorque = new("engineTorquePercent", 3, 1, 1, 125, 1, 0xFA);
    public static readonly FieldScale FrictionTorque = new("frictionTorquePercent", 4, 1, 1, 125, 1, 0xFA);
    public static readonly FieldScale EngineSpeed = new("engineSpeedRpm", 5, 2, 1, 0, 8, 0xFAFF);
    public static readonly FieldScale FuelFlow = new("fuelFlowLph", 7, 2, 1, 0, 20, 0xFAFF);
    public static readonly FieldScale NoxUpstream = new("noxUpstreamPpm", 9, 2, 1, 4000, 20, 0xFAFF);
    public static readonly FieldScale NoxDownstream = new("noxDownstreamPpm", 11, 2, 1, 4000, 20, 0xFAFF);
    public static readonly FieldScale ReagentLevel = new("reagentLevelPercent", 13, 1, 2, 0, 5, 0xFA);
    public static readonly FieldScale IntakeAirFlow = new("intakeAirFlowKgph", 14, 2, 1, 0, 20, 0xFAFF);
    public static readonly FieldScale ScrInletTemp = new("scrInletTempC", 16, 2, 1, 8736, 32, 0xFAFF);
    public static readonly FieldScale ScrOutletTemp = new("scrOutletTempC", 18, 2, 1, 8736, 32, 0xFAFF);
    public static readonly FieldScale DpfPressureDrop = new("dpfPressureDropKpa", 20, 2, 1, 0, 10, 0xFAFF);
    public static readonly FieldScale CoolantTemp = new("coolantTempC", 22, 1, 1, 40, 1, 0xFA);
    public static readonly FieldScale FuelLevel = new("fuelLevelPercent", 23, 1, 2, 0, 5, 0xFA);
    /// <summary>Magnitude only: the sign comes from status bit2 (west).</summary>
    public static readonly FieldScale Longitude = new("longitude", 25, 4, 1, 0, 1_000_000, 180_000_000);
    /// <summary>Magnitude only: the sign comes from status bit1 (south).</summary>
    public static readonly FieldScale Latitude = new("latitude", 29, 4, 1, 0, 1_000_000, 90_000_000);
    public static readonly FieldScale Odometer = new("odometerKm", 33, 4, 1, 0, 10, 9_999_999);

    /// <summary>Every numeric field, in the order of <see cref="SampleFields.Diesel"/>.</summary>
    public static IReadOnlyList<FieldScale> All { get; } =
    [
        Speed, BarometricPressure, EngineTorque, FrictionTorque, EngineSpeed, FuelFlow, NoxUpstream, NoxDownstream,
        ReagentLevel, IntakeAirFlow, ScrInletTemp, ScrOutletTemp, DpfPressureDrop, CoolantTemp, FuelLevel,
        Longitude, Latitude, Odometer,
    ];

    // One-byte fields decode through 256-entry tables built from their scales: no arithmetic on the hot path.
    private static readonly double[] BarometricTable = Table(BarometricPressure);
    private static readonly double[] TorqueTable = Table(EngineTorque);
    private static readonly double[] PercentTable = Table(ReagentLevel);
    private static readonly double[] CoolantTable = Table(CoolantTemp);

    private static double[] Table(FieldScale scale)
    {
        var table = new double[256];
        for (var raw = 0; raw < 256; raw++)
            table[raw] = scale.Decode((uint)raw);
        return table;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Lookup(double[] table, byte raw) =>
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(table), raw);

    /// <summary>
    /// <paramref name="numerator"/> / <paramref name="denominator"/>, correctly rounded, with one
    /// multiplication and two fused multiply-adds instead of a division (Markstein's correction:
    /// exact for every numerator these fields can hold, as the tests check exhaustively).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Divide(double numerator, double denominator, double reciprocal)
    {
        var q = numerator * reciprocal;
        var remainder = Math.FusedMultiplyAdd(-q, denominator, numerator);
        return Math.FusedMultiplyAdd(remainder, reciprocal, q);
    }

    /// <summary>Decodes a 37-byte body into a sample at <paramref name="timeUtc"/>.</summary>
    /// <remarks>
    /// Written out field by field with constant scales (equal to <see cref="All"/>, which the tests
    /// check) because this is the hot path of ingest: ten of these per HJ 1239 frame.
    /// </remarks>
    public static Sample Read(ReadOnlySpan<byte> body, DateTime timeUtc) => Read(body, timeUtc, SignatureCheck.NotSigned);

    /// <summary><see cref="Read(ReadOnlySpan{byte}, DateTime)"/> with the record's signature check, set in the same initializer (no second copy).</summary>
    internal static Sample Read(ReadOnlySpan<byte> body, DateTime timeUtc, SignatureCheck signature)
    {
        if (body.Length < RecordTypes.DieselStreamLength)
            throw new ArgumentException("A diesel data-stream body has 37 bytes.", nameof(body));
        ref var b = ref MemoryMarshal.GetReference(body);
        uint speed = U16(ref b, 0), rpm = U16(ref b, 5), fuel = U16(ref b, 7), noxUp = U16(ref b, 9), noxDown = U16(ref b, 11);
        uint air = U16(ref b, 14), scrIn = U16(ref b, 16), scrOut = U16(ref b, 18), dpf = U16(ref b, 20);
        uint lon = U32(ref b, 25), lat = U32(ref b, 29), odometer = U32(ref b, 33);
        var status = Unsafe.Add(ref b, PositionStatusOffset);
        var longitude = lon <= 180_000_000 ? Divide(lon, 1e6, 1e-6) : double.NaN;
        var latitude = lat <= 90_000_000 ? Divide(lat, 1e6, 1e-6) : double.NaN;
        return new Sample
        {
            TimeUtc = timeUtc,
            SpeedKmh = speed <= 0xFAFF ? speed * (1.0 / 256) : double.NaN,
            BarometricPressureKpa = Lookup(BarometricTable, Unsafe.Add(ref b, 2)),
            EngineTorquePercent = Lookup(TorqueTable, Unsafe.Add(ref b, 3)),
            FrictionTorquePercent = Lookup(TorqueTable, Unsafe.Add(ref b, 4)),
            EngineSpeedRpm = rpm <= 0xFAFF ? rpm * 0.125 : double.NaN,
            FuelFlowLph = fuel <= 0xFAFF ? Divide(fuel, 20, 0.05) : double.NaN,
            NoxUpstreamPpm = noxUp <= 0xFAFF ? Divide((int)noxUp - 4000, 20, 0.05) : double.NaN,
            NoxDownstreamPpm = noxDown <= 0xFAFF ? Divide((int)noxDown - 4000, 20, 0.05) : double.NaN,
            ReagentLevelPercent = Lookup(PercentTable, Unsafe.Add(ref b, 13)),
            IntakeAirFlowKgph = air <= 0xFAFF ? Divide(air, 20, 0.05) : double.NaN,
            ScrInletTempC = scrIn <= 0xFAFF ? ((int)scrIn - 8736) * 0.03125 : double.NaN,
            ScrOutletTempC = scrOut <= 0xFAFF ? ((int)scrOut - 8736) * 0.03125 : double.NaN,
            DpfPressureDropKpa = dpf <= 0xFAFF ? Divide(dpf, 10, 0.1) : double.NaN,
            CoolantTempC = Lookup(CoolantTable, Unsafe.Add(ref b, 22)),
            FuelLevelPercent = Lookup(PercentTable, Unsafe.Add(ref b, 23)),
            PositionStatus = status,
            Longitude = (status & 0x04) != 0 ? -longitude : longitude,
            Latitude = (status & 0x02) != 0 ? -latitude : latitude,
            OdometerKm = odometer <= 9_999_999 ? Divide(odometer, 10, 0.1) : double.NaN,
            Signature = signature,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint U16(ref byte b, int offset) =>
        BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref b, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint U32(ref byte b, int offset) =>
        BinaryPrimitives.ReverseEndianness(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref b, offset)));

    /// <summary>
    /// Encodes <paramref name="sample"/> into a 37-byte body. NaN becomes "not available"; the south
    /// and west bits of the status byte follow the coordinates' signs (kept from the status when a
    /// coordinate is missing). Throws <see cref="ArgumentOutOfRangeException"/> naming a field that
    /// is outside its range.
    /// </summary>
    public static void Write(Span<byte> body, in Sample sample)
    {
        _ = body[RecordTypes.DieselStreamLength - 1];
        BinaryPrimitives.WriteUInt16BigEndian(body, (ushort)Speed.Encode(sample.SpeedKmh));
        body[2] = (byte)BarometricPressure.Encode(sample.BarometricPressureKpa);
        body[3] = (byte)EngineTorque.Encode(sample.EngineTorquePercent);
        body[4] = (byte)FrictionTorque.Encode(sample.FrictionTorquePercent);
        BinaryPrimitives.WriteUInt16BigEndian(body[5..], (ushort)EngineSpeed.Encode(sample.EngineSpeedRpm));
        BinaryPrimitives.WriteUInt16BigEndian(body[7..], (ushort)FuelFlow.Encode(sample.FuelFlowLph));
        BinaryPrimitives.WriteUInt16BigEndian(body[9..], (ushort)NoxUpstream.Encode(sample.NoxUpstreamPpm));
        BinaryPrimitives.WriteUInt16BigEndian(body[11..], (ushort)NoxDownstream.Encode(sample.NoxDownstreamPpm));
        body[13] = (byte)ReagentLevel.Encode(sample.ReagentLevelPercent);
        BinaryPrimitives.WriteUInt16BigEndian(body[14..], (ushort)IntakeAirFlow.Encode(sample.IntakeAirFlowKgph));
        BinaryPrimitives.WriteUInt16BigEndian(body[16..], (ushort)ScrInletTemp.Encode(sample.ScrInletTempC));
        BinaryPrimitives.WriteUInt16BigEndian(body[18..], (ushort)ScrOutletTemp.Encode(sample.ScrOutletTempC));
        BinaryPrimitives.WriteUInt16BigEndian(body[20..], (ushort)DpfPressureDrop.Encode(sample.DpfPressureDropKpa));
        body[22] = (byte)CoolantTemp.Encode(sample.CoolantTempC);
        body[23] = (byte)FuelLevel.Encode(sample.FuelLevelPercent);
        WritePosition(body[24..], new FramePosition(sample.PositionStatus, sample.Longitude, sample.Latitude));
        BinaryPrimitives.WriteUInt32BigEndian(body[33..], Odometer.Encode(sample.OdometerKm));
    }

    /// <summary>Reads status (1) + longitude (4) + latitude (4), signing the coordinates by the status bits.</summary>
    public static FramePosition ReadPosition(ReadOnlySpan<byte> bytes)
    {
        var status = bytes[0];
        var longitude = Longitude.Decode(BinaryPrimitives.ReadUInt32BigEndian(bytes[1..]));
        var latitude = Latitude.Decode(BinaryPrimitives.ReadUInt32BigEndian(bytes[5..]));
        return new FramePosition(status,
            (status & 0x04) != 0 ? -longitude : longitude,
            (status & 0x02) != 0 ? -latitude : latitude);
    }

    /// <summary>Writes status (1) + longitude (4) + latitude (4); returns the status byte written.</summary>
    public static byte WritePosition(Span<byte> bytes, FramePosition position)
    {
        var status = position.Status;
        if (!double.IsNaN(position.Longitude))
            status = double.IsNegative(position.Longitude) ? (byte)(status | 0x04) : (byte)(status & ~0x04);
        if (!double.IsNaN(position.Latitude))
            status = double.IsNegative(position.Latitude) ? (byte)(status | 0x02) : (byte)(status & ~0x02);
        bytes[0] = status;
        BinaryPrimitives.WriteUInt32BigEndian(bytes[1..], Longitude.Encode(Math.Abs(position.Longitude)));
        BinaryPrimitives.WriteUInt32BigEndian(bytes[5..], Latitude.Encode(Math.Abs(position.Latitude)));
        return status;
    }
}
