using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Telemetry.Protocol;

/// <summary>
/// Walks the records of a real-time or re-issued data unit (after its time and serial) without
/// decoding their values. Every length it uses is checked against the bytes it was given.
/// </summary>
internal ref struct RecordReader
{
    private readonly ReadOnlySpan<byte> _records;
    private readonly TerminalProfile _profile;
    private readonly bool _hj;
    private readonly bool _signedRecords;
    private readonly int _headerLength;
    private readonly int _fastLength;
    private int _position;

    public RecordReader(ReadOnlySpan<byte> records, TerminalProfile profile)
    {
        _records = records;
        _profile = profile;
        _hj = profile.Layout == DataLayout.Hj1239;
        _signedRecords = profile.Layout == DataLayout.SignedRecords;
        _headerLength = _hj ? 7 : _signedRecords ? 1 : 3;
        // The signed-records layout always takes the full path (each record is followed by its signature).
        _fastLength = _signedRecords ? int.MaxValue : _headerLength + RecordTypes.DieselStreamLength;
    }

    public byte Type;
    public ushort Serial;
    public ReadOnlySpan<byte> Time;
    public ReadOnlySpan<byte> Body;
    public ReadOnlySpan<byte> SignatureR;
    public ReadOnlySpan<byte> SignatureS;
    public bool HasSignature;
    /// <summary>Offset in the records of the closing signature (signed HJ 1239), when <see cref="HasSignature"/>.</summary>
    public int SignatureOffset;
    /// <summary>Signed-records layout: the current record's <c>type + body</c>, which its signature covers.</summary>
    public ReadOnlySpan<byte> Signed;
    /// <summary>Signed-records layout: the current record's own signature.</summary>
    public ReadOnlySpan<byte> RecordR;
    /// <summary>Signed-records layout: the current record's own signature.</summary>
    public ReadOnlySpan<byte> RecordS;
    public Rejection Rejection;

    /// <summary>1 when a record was read, 0 at the end of the data unit, -1 when it is rejected.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Next()
    {
        // The common case, a whole data-stream record, stays small enough to inline.
        var rest = _records[_position..];
        if (rest.Length >= _fastLength && rest[0] == RecordTypes.DieselStream)
        {
            Type = RecordTypes.DieselStream;
            if (_hj)
            {
                Serial = 0;
                Time = rest.Slice(1, 6);
            }
            else
            {
                Serial = BinaryPrimitives.ReadUInt16BigEndian(rest[1..]);
                Time = default;
            }
            Body = rest.Slice(_headerLength, RecordTypes.DieselStreamLength);
            _position += _headerLength + RecordTypes.DieselStreamLength;
            return 1;
        }
        return NextOther();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int NextOther()
    {
        var rest = _records[_position..];
        var hj = _hj;
        var signed = hj && _profile.RequiresSignature;
        if (rest.IsEmpty)
        {
            if (signed && !HasSignature)
                return Fail(RejectReason.BadSignature, "The profile requires a closing signature and the data unit has none.");
            return 0;
        }
        // Records first: a byte that starts a readable record is a record. Any other byte must start
        // the closing signature (SM2 R lengths are 0x20/0x21, never a record type).
        var type = rest[0];
        var readable = type is RecordTypes.DieselStream or RecordTypes.Obd or RecordTypes.Hybrid or RecordTypes.Supplementary
            || (type is >= 0x80 and <= 0xFE && _profile.TryGetSupplementaryLength(type, out _));
        if (signed && !readable && IsExactSignature(rest))
        {
            var rLength = rest[0];
            SignatureR = rest.Slice(1, rLength);
            SignatureS = rest.Slice(2 + rLength, rest[1 + rLength]);
            HasSignature = true;
            SignatureOffset = _position;
            _position = _records.Length;
            return 0;
        }

        var headerLength = _headerLength;
        int bodyLength;
        switch (type)
        {
            case RecordTypes.DieselStream:
                bodyLength = RecordTypes.DieselStreamLength;
                break;
            case RecordTypes.Obd:
                if (rest.Length < headerLength + RecordTypes.ObdFixedLength)
                    return Fail(RejectReason.BadLength, $"An OBD record at data-unit offset {_position} needs {headerLength + RecordTypes.ObdFixedLength} bytes and only {rest.Length} remain.");
                var count = rest[headerLength + RecordTypes.ObdFixedLength - 1];
                if (count == RecordTypes.DtcCountInvalid)
                    count = 0; // count marked invalid: no codes follow
                else if (count > RecordTypes.MaxDtcCount)
                    return Fail(RejectReason.BadField, $"An OBD record declares {count} fault codes; at most {RecordTypes.MaxDtcCount} are allowed.");
                bodyLength = RecordTypes.ObdFixedLength + (4 * count);
                break;
            case RecordTypes.Hybrid:
                bodyLength = RecordTypes.HybridLength;
                break;
            case 0x03 or 0x05:
                return Fail(RejectReason.UnsupportedRecordType, $"Record type 0x{type:X2} (gas-engine data stream) is not supported.");
            case >= 0x80 and <= 0xFE when _profile.TryGetSupplementaryLength(type, out var configured):
                bodyLength = configured;
                break;
            case RecordTypes.Supplementary:
                bodyLength = RecordTypes.SupplementaryLength;
                break;
            case >= 0x80 and <= 0xFE:
                return Fail(RejectReason.UnsupportedRecordType, $"Supplementary record type 0x{type:X2} has no length configured in profile {_profile.Name}, so the rest of the frame cannot be read.");
            default:
                return signed
                    ? Fail(RejectReason.BadSignature, $"The data unit does not end with a well-formed signature (byte 0x{type:X2} at data-unit offset {_position} is neither a record nor a signature).")
                    : Fail(RejectReason.UnsupportedRecordType, $"Record type 0x{type:X2} at data-unit offset {_position} is unknown.");
        }
        if (rest.Length < headerLength + bodyLength)
            return Fail(RejectReason.BadLength, $"Record type 0x{type:X2} at data-unit offset {_position} needs {headerLength + bodyLength} bytes and only {rest.Length} remain.");

        Type = type;
        if (hj)
        {
            Serial = 0;
            Time = rest.Slice(1, 6);
        }
        else if (_signedRecords)
        {
            Serial = 0;
            Time = default;
            // type + body, then R length + R + S length + S, all inside the data unit.
            var at = headerLength + bodyLength;
            if (rest.Length < at + 1 || rest.Length < at + 2 + rest[at])
                return Fail(RejectReason.BadSignature, $"Record type 0x{type:X2} at data-unit offset {_position} is not followed by a whole signature.");
            var rLength = rest[at];
            var sAt = at + 1 + rLength;
            if (rest.Length < sAt + 1 + rest[sAt])
                return Fail(RejectReason.BadSignature, $"Record type 0x{type:X2} at data-unit offset {_position} is not followed by a whole signature.");
            if (rLength is 0 or > 33 || rest[sAt] is 0 or > 33)
                return Fail(RejectReason.BadSignature, $"The signature after record type 0x{type:X2} at data-unit offset {_position} declares R of {rLength} and S of {rest[sAt]} bytes; SM2 parts have 1-33 bytes.");
            Signed = rest[..at];
            RecordR = rest.Slice(at + 1, rLength);
            RecordS = rest.Slice(sAt + 1, rest[sAt]);
            Body = rest.Slice(headerLength, bodyLength);
            _position += sAt + 1 + rest[sAt];
            return 1;
        }
        else
        {
            Serial = BinaryPrimitives.ReadUInt16BigEndian(rest[1..]);
            Time = default;
        }
        Body = rest.Slice(headerLength, bodyLength);
        _position += headerLength + bodyLength;
        return 1;
    }

    /// <summary>True when <paramref name="rest"/> is exactly <c>R length + R + S length + S</c>.</summary>
    private static bool IsExactSignature(ReadOnlySpan<byte> rest)
    {
        if (rest.Length < 2)
            return false;
        var rLength = rest[0];
        if (rest.Length < rLength + 2)
            return false;
        return rest.Length == rLength + 2 + rest[1 + rLength];
    }

    private int Fail(RejectReason reason, string message)
    {
        Rejection = new Rejection(reason, message);
        return -1;
    }
}
