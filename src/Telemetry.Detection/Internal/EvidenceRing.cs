using System.Buffers.Binary;
using System.Collections.Immutable;
using Telemetry.Abstractions;
using Telemetry.Protocol;

namespace Telemetry.Detection.Internal;

/// <summary>
/// The last samples of a timeline, kept as evidence for the next episode, in 68 bytes a sample
/// instead of a <see cref="Sample"/> (168 bytes) and its supplementary object (72 more).
/// </summary>
/// <remarks>
/// Lossless: each value is stored as the raw integer of the record it came from (the codec's
/// <see cref="FieldScale"/> of its field), and only when decoding that integer gives back exactly the
/// same double. Samples decoded from binary frames always do; a sample with a value
/// off that grid (JSON with more decimals than the terminal could send) is kept whole in a side
/// array, allocated the first time it is needed. Every vehicle holds one of these, so it counts
/// in the memory per vehicle. The packed entries are saved with the detector state
/// (<see cref="EvaluatorState.EvidencePacked"/>): a change to their layout needs a new state version.
/// </remarks>
internal sealed class EvidenceRing
{
    // The codec's own field scales, in record order: stored integers decode exactly as a frame's do.
    private static readonly FieldScale[] Diesel = [.. DieselFields.All];
    private static readonly FieldScale[] Supplementary = [.. SupplementaryFields.All];

    private const int DieselBytes = 37;
    private const int SupplementaryBytes = 17;
    private const int EntryBytes = 8 + 1 + 1 + 1 + DieselBytes + SupplementaryBytes + 3; // time, status, signature, flags, values, padding
    private const byte HasSupplementary = 1;
    private const byte Whole = 2;

    private readonly byte[] _entries;
    private Sample[]? _whole;
    private int _next;
    private int _count;

    public EvidenceRing(int capacity) => _entries = new byte[Math.Max(1, capacity) * EntryBytes];

    public int Capacity => _entries.Length / EntryBytes;

    public int Count => _count;

    /// <summary>Samples held whole (off the terminals' grid) rather than packed.</summary>
    public int WholeSamples
    {
        get
        {
            var n = 0;
            for (var slot = 0; slot < Capacity; slot++)
                n += _entries[(slot * EntryBytes) + 10] == Whole ? 1 : 0;
            return n;
        }
    }

    /// <summary>Adds <paramref name="s"/>, dropping the oldest sample once full.</summary>
    public void Push(in Sample s)
    {
        var entry = _entries.AsSpan(_next * EntryBytes, EntryBytes);
        if (!TryPack(s, entry))
        {
            entry[10] = Whole;
            (_whole ??= new Sample[Capacity])[_next] = s;
        }
        else if (_whole is not null)
        {
            _whole[_next] = default;
        }
        _next = _next + 1 == Capacity ? 0 : _next + 1;
        if (_count < Capacity)
            _count++;
    }

    /// <summary>The samples kept, oldest first.</summary>
    public ImmutableArray<Sample> ToImmutableArray()
    {
        if (_count == 0)
            return [];
        var b = ImmutableArray.CreateBuilder<Sample>(_count);
        var start = (_next - _count + Capacity) % Capacity;
        for (var i = 0; i < _count; i++)
        {
            var slot = (start + i) % Capacity;
            var entry = _entries.AsSpan(slot * EntryBytes, EntryBytes);
            b.Add(entry[10] == Whole ? _whole![slot] : Unpack(entry));
        }
        return b.MoveToImmutable();
    }

    /// <summary>
    /// The ring for a saved state: the packed entries oldest first (<see cref="EntryBytes"/> each) and the
    /// samples held whole, in the order of their entries. Empty arrays when nothing is held.
    /// </summary>
    public (byte[] Packed, Sample[] Whole) Export()
    {
        if (_count == 0)
            return ([], []);
        var packed = new byte[_count * EntryBytes];
        var whole = new List<Sample>();
        var start = (_next - _count + Capacity) % Capacity;
        for (var i = 0; i < _count; i++)
        {
            var slot = (start + i) % Capacity;
            var entry = _entries.AsSpan(slot * EntryBytes, EntryBytes);
            entry.CopyTo(packed.AsSpan(i * EntryBytes));
            if (entry[10] == Whole)
                whole.Add(_whole![slot]);
        }
        return (packed, [.. whole]);
    }

    /// <summary>
    /// A ring of <paramref name="capacity"/> holding what <see cref="Export"/> gave (the newest entries when
    /// it held more); null when nothing usable was saved (a state from before evidence was kept, or damaged).
    /// </summary>
    public static EvidenceRing? Import(int capacity, byte[]? packed, Sample[]? whole)
    {
        if (packed is null || packed.Length == 0 || packed.Length % EntryBytes != 0)
            return null;
        var ring = new EvidenceRing(capacity);
        var count = packed.Length / EntryBytes;
        var wholeIndex = 0;
        for (var i = 0; i < count; i++)
        {
            var entry = packed.AsSpan(i * EntryBytes, EntryBytes);
            if (entry[10] == Whole)
            {
                if (whole is null || wholeIndex >= whole.Length)
                    return null;
                ring.Push(whole[wholeIndex++]);
                continue;
            }
            entry.CopyTo(ring._entries.AsSpan(ring._next * EntryBytes, EntryBytes));
            if (ring._whole is not null)
                ring._whole[ring._next] = default;
            ring._next = ring._next + 1 == ring.Capacity ? 0 : ring._next + 1;
            if (ring._count < ring.Capacity)
                ring._count++;
        }
        return ring;
    }

    private static bool TryPack(in Sample s, Span<byte> entry)
    {
        BinaryPrimitives.WriteInt64LittleEndian(entry, s.TimeUtc.ToBinary());
        entry[8] = s.PositionStatus;
        entry[9] = (byte)s.Signature;
        var values = entry.Slice(11, DieselBytes);
        var o = 0;
        if (!(Put(values, ref o, Diesel[0], s.SpeedKmh) && Put(values, ref o, Diesel[1], s.BarometricPressureKpa)
            && Put(values, ref o, Diesel[2], s.EngineTorquePercent) && Put(values, ref o, Diesel[3], s.FrictionTorquePercent)
            && Put(values, ref o, Diesel[4], s.EngineSpeedRpm) && Put(values, ref o, Diesel[5], s.FuelFlowLph)
            && Put(values, ref o, Diesel[6], s.NoxUpstreamPpm) && Put(values, ref o, Diesel[7], s.NoxDownstreamPpm)
            && Put(values, ref o, Diesel[8], s.ReagentLevelPercent) && Put(values, ref o, Diesel[9], s.IntakeAirFlowKgph)
            && Put(values, ref o, Diesel[10], s.ScrInletTempC) && Put(values, ref o, Diesel[11], s.ScrOutletTempC)
            && Put(values, ref o, Diesel[12], s.DpfPressureDropKpa) && Put(values, ref o, Diesel[13], s.CoolantTempC)
            && Put(values, ref o, Diesel[14], s.FuelLevelPercent) && PutSigned(values, ref o, Diesel[15], s.Longitude)
            && PutSigned(values, ref o, Diesel[16], s.Latitude) && Put(values, ref o, Diesel[17], s.OdometerKm)))
            return false;
        if (s.Supplementary is not { } x)
        {
            entry[10] = 0;
            return true;
        }
        entry[10] = HasSupplementary;
        var sup = entry.Slice(11 + DieselBytes, SupplementaryBytes);
        o = 0;
        return Put(sup, ref o, Supplementary[0], x.EngineTorqueMode) && Put(sup, ref o, Supplementary[1], x.AcceleratorPedalPercent)
            && Put(sup, ref o, Supplementary[2], x.TotalFuelUsedL) && Put(sup, ref o, Supplementary[3], x.UreaTankTempC)
            && Put(sup, ref o, Supplementary[4], x.UreaDosingMlph) && Put(sup, ref o, Supplementary[5], x.TotalUreaUsedG)
            && Put(sup, ref o, Supplementary[6], x.DpfExhaustTempC);
    }

    private static Sample Unpack(ReadOnlySpan<byte> entry)
    {
        var values = entry.Slice(11, DieselBytes);
        var o = 0;
        var s = new Sample
        {
            TimeUtc = DateTime.FromBinary(BinaryPrimitives.ReadInt64LittleEndian(entry)),
            PositionStatus = entry[8],
            Signature = (SignatureCheck)entry[9],
            SpeedKmh = Get(values, ref o, Diesel[0]),
            BarometricPressureKpa = Get(values, ref o, Diesel[1]),
            EngineTorquePercent = Get(values, ref o, Diesel[2]),
            FrictionTorquePercent = Get(values, ref o, Diesel[3]),
            EngineSpeedRpm = Get(values, ref o, Diesel[4]),
            FuelFlowLph = Get(values, ref o, Diesel[5]),
            NoxUpstreamPpm = Get(values, ref o, Diesel[6]),
            NoxDownstreamPpm = Get(values, ref o, Diesel[7]),
            ReagentLevelPercent = Get(values, ref o, Diesel[8]),
            IntakeAirFlowKgph = Get(values, ref o, Diesel[9]),
            ScrInletTempC = Get(values, ref o, Diesel[10]),
            ScrOutletTempC = Get(values, ref o, Diesel[11]),
            DpfPressureDropKpa = Get(values, ref o, Diesel[12]),
            CoolantTempC = Get(values, ref o, Diesel[13]),
            FuelLevelPercent = Get(values, ref o, Diesel[14]),
            Longitude = GetSigned(values, ref o, Diesel[15]),
            Latitude = GetSigned(values, ref o, Diesel[16]),
            OdometerKm = Get(values, ref o, Diesel[17]),
        };
        if ((entry[10] & HasSupplementary) == 0)
            return s;
        var sup = entry.Slice(11 + DieselBytes, SupplementaryBytes);
        o = 0;
        return s with
        {
            Supplementary = new SupplementaryStream
            {
                EngineTorqueMode = Get(sup, ref o, Supplementary[0]),
                AcceleratorPedalPercent = Get(sup, ref o, Supplementary[1]),
                TotalFuelUsedL = Get(sup, ref o, Supplementary[2]),
                UreaTankTempC = Get(sup, ref o, Supplementary[3]),
                UreaDosingMlph = Get(sup, ref o, Supplementary[4]),
                TotalUreaUsedG = Get(sup, ref o, Supplementary[5]),
                DpfExhaustTempC = Get(sup, ref o, Supplementary[6]),
            },
        };
    }

    private static bool Put(Span<byte> values, ref int offset, FieldScale f, double value)
    {
        uint raw;
        if (double.IsNaN(value))
        {
            raw = f.NotAvailable;
        }
        else
        {
            var r = Math.Round(((value * f.Denominator) + f.Bias) / f.Numerator);
            if (!(r >= 0 && r <= f.MaxRaw))
                return false;
            raw = (uint)r;
            // Only exact: the double decoded from the integer must be the very value measured.
            if (BitConverter.DoubleToInt64Bits(f.Decode(raw)) != BitConverter.DoubleToInt64Bits(value))
                return false;
        }
        Write(values.Slice(offset, f.Size), raw);
        offset += f.Size;
        return true;
    }

    private static bool PutSigned(Span<byte> values, ref int offset, FieldScale f, double degrees)
    {
        int raw;
        if (double.IsNaN(degrees))
        {
            raw = int.MinValue;
        }
        else
        {
            var r = Math.Round(degrees * f.Denominator);
            if (!(r > int.MinValue && r <= int.MaxValue))
                return false;
            raw = (int)r;
            if (BitConverter.DoubleToInt64Bits(DecodeSigned(raw, f)) != BitConverter.DoubleToInt64Bits(degrees))
                return false;
        }
        BinaryPrimitives.WriteInt32LittleEndian(values.Slice(offset, 4), raw);
        offset += 4;
        return true;
    }

    // As the codec decodes: the unsigned microdegrees through the field's scale, then the sign of the status bits.
    private static double DecodeSigned(int raw, FieldScale f) => raw < 0 ? -f.Decode((uint)-(long)raw) : f.Decode((uint)raw);

    private static double Get(ReadOnlySpan<byte> values, ref int offset, FieldScale f)
    {
        var slice = values.Slice(offset, f.Size);
        offset += f.Size;
        var raw = f.Size switch
        {
            1 => slice[0],
            2 => BinaryPrimitives.ReadUInt16LittleEndian(slice),
            _ => BinaryPrimitives.ReadUInt32LittleEndian(slice),
        };
        return f.Decode(raw); // NaN for the not-available marker (above MaxRaw)
    }

    private static double GetSigned(ReadOnlySpan<byte> values, ref int offset, FieldScale f)
    {
        var raw = BinaryPrimitives.ReadInt32LittleEndian(values.Slice(offset, 4));
        offset += 4;
        return raw == int.MinValue ? double.NaN : DecodeSigned(raw, f);
    }

    private static void Write(Span<byte> slice, uint raw)
    {
        switch (slice.Length)
        {
            case 1:
                slice[0] = (byte)raw;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16LittleEndian(slice, (ushort)raw);
                break;
            default:
                BinaryPrimitives.WriteUInt32LittleEndian(slice, raw);
                break;
        }
    }
}
