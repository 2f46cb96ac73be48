using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>
/// Reads and writes binary frames (PROTOCOL.md, "Frame"). Decoding never throws: a frame is
/// either decoded whole or rejected with a <see cref="Rejection"/>. No length field can make it
/// read or allocate beyond the bytes it was given.
/// </summary>
public static class FrameCodec
{
    /// <summary>Start (2) + command (1) + VIN (17) + version (1) + encryption (1) + data length (2).</summary>
    public const int HeaderLength = 24;

    /// <summary>Header plus check code: a frame is exactly data length + 25 bytes.</summary>
    public const int Overhead = HeaderLength + 1;

    /// <summary>Largest data length a frame may declare.</summary>
    public const int MaxDataLength = 65_531;

    /// <summary>Largest possible frame.</summary>
    public const int MaxFrameLength = MaxDataLength + Overhead;

    /// <summary>Login data unit: time (6) + serial (2) + ICCID (20).</summary>
    public const int LoginLength = 28;

    /// <summary>Logout data unit: time (6) + serial (2).</summary>
    public const int LogoutLength = 8;

    /// <summary>Removal alarm data unit: time (6) + serial (2) + status (1) + longitude (4) + latitude (4).</summary>
    public const int RemovalAlarmLength = 17;

    /// <summary>Length of the ICCID field of a login.</summary>
    public const int IccidLength = 20;

    /// <summary>Length of the R and S parts of the placeholder signature written when none is given.</summary>
    public const int PlaceholderSignaturePartLength = 32;

    // ------------------------------------------------------------------ decoding

    /// <summary>Decodes every part of <paramref name="frame"/>, supplementary records and signature included.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> frame, TerminalProfile profile, [NotNullWhen(true)] out Frame? result, out Rejection rejection)
    {
        ArgumentNullException.ThrowIfNull(profile);
        result = null;
        if (!TryReadEnvelope(frame, profile, out var data, out rejection))
            return false;
        var command = (FrameKind)frame[2];
        var vin = Encoding.ASCII.GetString(frame.Slice(3, 17));
        var head = new Frame { Command = command, Vin = vin, SoftwareVersion = frame[20], Encryption = (FrameEncryption)frame[21] };
        switch (command)
        {
            case FrameKind.Login:
                if (!TryReadLogin(data, profile, out var loginTime, out var loginSerial, out var iccid, out rejection))
                    return false;
                result = head with { TimeUtc = loginTime, Serial = loginSerial, Iccid = iccid };
                return true;
            case FrameKind.Logout:
                if (!TryReadTimeAndSerial(data, profile, LogoutLength, "logout", out var logoutTime, out var logoutSerial, out rejection))
                    return false;
                result = head with { TimeUtc = logoutTime, Serial = logoutSerial };
                return true;
            case FrameKind.TimeSync:
                if (!data.IsEmpty)
                {
                    rejection = new(RejectReason.BadLength, $"A time calibration frame has an empty data unit; this one has {data.Length} bytes.");
                    return false;
                }
                result = head;
                return true;
            case FrameKind.RemovalAlarm:
                if (!TryReadTimeAndSerial(data, profile, RemovalAlarmLength, "removal alarm", out var alarmTime, out var alarmSerial, out rejection))
                    return false;
                result = head with { TimeUtc = alarmTime, Serial = alarmSerial, AlarmPosition = DieselFields.ReadPosition(data[8..]) };
                return true;
            default:
                return TryReadDataFrame(data, profile, head, out result, out rejection);
        }
    }

    private static bool TryReadDataFrame(ReadOnlySpan<byte> data, TerminalProfile profile, Frame head, [NotNullWhen(true)] out Frame? result, out Rejection rejection)
    {
        result = null;
        if (!TryReadDataHead(data, profile, out var frameTime, out var frameSerial, out var records, out rejection))
            return false;
        var reader = new RecordReader(records, profile);
        var count = 0;
        int step;
        while ((step = reader.Next()) > 0)
            count++;
        if (step < 0)
        {
            rejection = reader.Rejection;
            return false;
        }

        var items = new FrameRecord[count];
        var clock = new Wire.DayClock(data, profile);
        reader = new RecordReader(records, profile);
        int dieselIndex = 0, supplementaryIndex = 0;
        var signedRecords = profile.Layout == DataLayout.SignedRecords;
        for (var i = 0; reader.Next() > 0; i++)
        {
            var index = reader.Type == RecordTypes.Supplementary ? supplementaryIndex : dieselIndex;
            if (!TryRecordTime(ref reader, clock, profile, frameTime, index, out var time, out rejection))
                return false;
            var item = reader.Type switch
            {
                RecordTypes.DieselStream => FrameRecord.ForSample(DieselFields.Read(reader.Body, time), reader.Serial),
                RecordTypes.Obd => FrameRecord.ForObd(ObdCodec.Read(reader.Body, time), reader.Serial),
                _ => new FrameRecord { Type = reader.Type, Serial = reader.Serial, TimeUtc = time, Body = reader.Body.ToImmutableArray() },
            };
            items[i] = signedRecords ? item with { Signature = new FrameSignature(reader.RecordR.ToImmutableArray(), reader.RecordS.ToImmutableArray()) } : item;
            if (reader.Type == RecordTypes.DieselStream)
                dieselIndex++;
            else if (reader.Type == RecordTypes.Supplementary)
                supplementaryIndex++;
        }
        var signature = reader.HasSignature ? new FrameSignature(reader.SignatureR.ToImmutableArray(), reader.SignatureS.ToImmutableArray()) : null;
        var serial = profile.Layout != DataLayout.Gb17691 ? frameSerial : (items.Length > 0 ? items[0].Serial : (ushort)0);
        result = head with
        {
            TimeUtc = frameTime,
            Serial = serial,
            Records = ImmutableCollectionsMarshal.AsImmutableArray(items),
            Signature = signature,
        };
        return true;
    }

    /// <summary>
    /// Decodes <paramref name="frame"/> straight into the batch the vehicle grain consumes: the
    /// allocation-lean path of ingest. When <paramref name="expectedVin"/> is given, a frame with
    /// another VIN is rejected as <see cref="RejectReason.VinMismatch"/> and the batch reuses that string.
    /// </summary>
    public static bool TryDecodeBatch(ReadOnlySpan<byte> frame, TerminalProfile profile, string? expectedVin, DateTime receivedUtc,
        [NotNullWhen(true)] out TelemetryBatch? batch, out Rejection rejection) =>
        TryDecodeBatch(frame, profile, expectedVin, receivedUtc, null, out batch, out rejection, out _);

    /// <summary>
    /// <see cref="TryDecodeBatch(ReadOnlySpan{byte}, TerminalProfile, string?, DateTime, out TelemetryBatch?, out Rejection)"/>
    /// that also checks the SM2 signatures of a signed profile with <paramref name="publicKeyHex"/> (the
    /// terminal's registered key). Without a key the samples are marked <see cref="SignatureCheck.NoKey"/>;
    /// a signature that does not verify marks them <see cref="SignatureCheck.Failed"/>. Neither rejects the frame.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // the key-less overload above is the hot path of ingest: no extra call
    public static bool TryDecodeBatch(ReadOnlySpan<byte> frame, TerminalProfile profile, string? expectedVin, DateTime receivedUtc, string? publicKeyHex,
        [NotNullWhen(true)] out TelemetryBatch? batch, out Rejection rejection, out SignatureOutcome signature)
    {
        ArgumentNullException.ThrowIfNull(profile);
        batch = null;
        signature = default;
        if (!TryReadEnvelope(frame, profile, out var data, out rejection))
            return false;
        var vinBytes = frame.Slice(3, 17);
        string vin;
        if (expectedVin is null)
        {
            vin = Encoding.ASCII.GetString(vinBytes);
        }
        else if (Wire.AsciiEquals(vinBytes, expectedVin))
        {
            vin = expectedVin;
        }
        else
        {
            rejection = new(RejectReason.VinMismatch, $"The frame's VIN {Encoding.ASCII.GetString(vinBytes)} differs from the topic's VIN {expectedVin}.");
            return false;
        }

        var command = (FrameKind)frame[2];
        switch (command)
        {
            case FrameKind.Login:
                if (!TryReadLogin(data, profile, out var loginTime, out var loginSerial, out var iccid, out rejection))
                    return false;
                batch = new TelemetryBatch(vin, command, loginTime, loginSerial, [], [], receivedUtc) { Iccid = iccid };
                return true;
            case FrameKind.Logout:
                if (!TryReadTimeAndSerial(data, profile, LogoutLength, "logout", out var logoutTime, out var logoutSerial, out rejection))
                    return false;
                batch = new TelemetryBatch(vin, command, logoutTime, logoutSerial, [], [], receivedUtc);
                return true;
            case FrameKind.TimeSync:
                if (!data.IsEmpty)
                {
                    rejection = new(RejectReason.BadLength, $"A time calibration frame has an empty data unit; this one has {data.Length} bytes.");
                    return false;
                }
                batch = new TelemetryBatch(vin, command, receivedUtc, 0, [], [], receivedUtc);
                return true;
            case FrameKind.RemovalAlarm:
                if (!TryReadTimeAndSerial(data, profile, RemovalAlarmLength, "removal alarm", out var alarmTime, out var alarmSerial, out rejection))
                    return false;
                batch = new TelemetryBatch(vin, command, alarmTime, alarmSerial, [], [], receivedUtc)
                {
                    AlarmPosition = DieselFields.ReadPosition(data[8..]).ToGeoFix(),
                };
                return true;
            default:
                return TryReadDataBatch(data, profile, vin, command, receivedUtc, publicKeyHex, out batch, out rejection, out signature);
        }
    }

    private static bool TryReadDataBatch(ReadOnlySpan<byte> data, TerminalProfile profile, string vin, FrameKind command, DateTime receivedUtc, string? publicKeyHex,
        [NotNullWhen(true)] out TelemetryBatch? batch, out Rejection rejection, out SignatureOutcome signature)
    {
        batch = null;
        signature = default;
        if (!TryReadDataHead(data, profile, out var frameTime, out var frameSerial, out var records, out rejection))
            return false;

        // First pass: structure and counts, so that the arrays are allocated once at their exact size.
        var reader = new RecordReader(records, profile);
        int dieselCount = 0, obdCount = 0, supplementaryCount = 0, otherCount = 0, step;
        var serial = profile.Layout != DataLayout.Gb17691 ? frameSerial : (ushort)0;
        var first = true;
        while ((step = reader.Next()) > 0)
        {
            if (first && profile.Layout == DataLayout.Gb17691)
                serial = reader.Serial;
            first = false;
            if (reader.Type == RecordTypes.DieselStream)
                dieselCount++;
            else if (reader.Type == RecordTypes.Obd)
                obdCount++;
            else if (reader.Type == RecordTypes.Supplementary && reader.Body.Length == RecordTypes.SupplementaryLength)
                supplementaryCount++;
            else
                otherCount++;
        }
        if (step < 0)
        {
            rejection = reader.Rejection;
            return false;
        }

        // A signed HJ 1239 data unit: one signature over everything before it.
        var frameCheck = SignatureCheck.NotSigned;
        if (reader.HasSignature)
        {
            var failure = publicKeyHex is null
                ? SignatureFailure.None
                : Sm2Signatures.Verify(publicKeyHex, data[..(data.Length - records.Length + reader.SignatureOffset)], reader.SignatureR, reader.SignatureS);
            frameCheck = Sm2Signatures.ToCheck(publicKeyHex is not null, failure);
            signature = new SignatureOutcome(frameCheck, failure, 1, failure == SignatureFailure.None ? 0 : 1);
        }

        var samples = dieselCount == 0 ? [] : new Sample[dieselCount];
        var snapshots = obdCount == 0 ? [] : new ObdSnapshot[obdCount];
        var clock = new Wire.DayClock(data, profile);
        var signedRecords = profile.Layout == DataLayout.SignedRecords;
        reader = new RecordReader(records, profile);
        int dieselIndex = 0, obdIndex = 0;
        while (reader.Next() > 0)
        {
            var type = reader.Type;
            // Every record's time is checked (hj1239), also of the records decoded below or skipped.
            if (!TryRecordTime(ref reader, clock, profile, frameTime, dieselIndex, out var time, out rejection))
                return false;
            if (type is not (RecordTypes.DieselStream or RecordTypes.Obd))
                continue;
            var check = frameCheck;
            if (signedRecords)
                signature = signature.Add(check = CheckRecord(ref reader, publicKeyHex, out var failure), failure);
            if (type == RecordTypes.DieselStream)
                samples[dieselIndex++] = DieselFields.Read(reader.Body, time, check);
            else
                snapshots[obdIndex++] = ObdCodec.Read(reader.Body, time);
        }
        if ((supplementaryCount > 0 || (signedRecords && otherCount > 0))
            && !TryOtherRecords(records, profile, clock, frameTime, publicKeyHex, frameCheck, ref samples, ref signature, out rejection))
            return false;
        batch = new TelemetryBatch(vin, command, frameTime, serial,
            ImmutableCollectionsMarshal.AsImmutableArray(samples), ImmutableCollectionsMarshal.AsImmutableArray(snapshots), receivedUtc);
        return true;
    }

    /// <summary>
    /// Third pass, only for frames with supplementary records (or other signed records): each
    /// supplementary record joins the data-stream sample of its time, or becomes a sample of its own;
    /// the signatures of the records not read before are checked. Kept out of the hot path above.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryOtherRecords(ReadOnlySpan<byte> records, TerminalProfile profile, in Wire.DayClock clock, DateTime frameTime, string? publicKeyHex,
        SignatureCheck frameCheck, ref Sample[] samples, ref SignatureOutcome signature, out Rejection rejection)
    {
        rejection = default;
        var signedRecords = profile.Layout == DataLayout.SignedRecords;
        var reader = new RecordReader(records, profile);
        var supplementaryIndex = 0;
        var merged = new bool[samples.Length];
        List<Sample>? own = null;
        while (reader.Next() > 0)
        {
            if (reader.Type != RecordTypes.Supplementary || reader.Body.Length != RecordTypes.SupplementaryLength)
            {
                if (signedRecords && reader.Type is not (RecordTypes.DieselStream or RecordTypes.Obd))
                    signature = signature.Add(CheckRecord(ref reader, publicKeyHex, out var other), other);
                continue;
            }
            if (!TryRecordTime(ref reader, clock, profile, frameTime, supplementaryIndex++, out var time, out rejection))
                return false;
            var check = frameCheck;
            if (signedRecords)
                signature = signature.Add(check = CheckRecord(ref reader, publicKeyHex, out var failure), failure);
            if (!MergeSupplementary(samples, merged, reader.Body, time, check))
            {
                var alone = SupplementaryFields.Apply(reader.Body, Sample.Empty(time));
                (own ??= []).Add(check == SignatureCheck.NotSigned ? alone : alone with { Signature = check });
            }
        }
        if (own is not null)
            samples = [.. samples, .. own];
        return true;
    }

    /// <summary>
    /// Puts a supplementary record's fields into the first data-stream sample of the same time that has
    /// none yet; false when there is none (the caller makes it a sample of its own, every other field
    /// missing). A merged sample keeps the worse of the two signature checks.
    /// </summary>
    private static bool MergeSupplementary(Sample[] samples, bool[] merged, ReadOnlySpan<byte> body, DateTime time, SignatureCheck check)
    {
        for (var i = 0; i < samples.Length; i++)
        {
            if (!merged[i] && samples[i].TimeUtc == time)
            {
                merged[i] = true;
                var joined = SupplementaryFields.Apply(body, samples[i]);
                samples[i] = check > joined.Signature ? joined with { Signature = check } : joined;
                return true;
            }
        }
        return false;
    }

    private static SignatureCheck CheckRecord(ref RecordReader reader, string? publicKeyHex, out SignatureFailure failure)
    {
        failure = publicKeyHex is null ? SignatureFailure.None : Sm2Signatures.Verify(publicKeyHex, reader.Signed, reader.RecordR, reader.RecordS);
        return Sm2Signatures.ToCheck(publicKeyHex is not null, failure);
    }

    private static bool TryRecordTime(ref RecordReader reader, in Wire.DayClock clock, TerminalProfile profile, DateTime frameTime, int index, out DateTime time, out Rejection rejection)
    {
        rejection = default;
        if (profile.Layout == DataLayout.Hj1239)
        {
            if (clock.TryRead(reader.Time, out time))
                return true;
            rejection = new(RejectReason.TimeOutOfRange, $"Record type 0x{reader.Type:X2} has a sample time that is not a calendar time ({Convert.ToHexString(reader.Time)}).");
            return false;
        }
        // GB 17691 and signed records: the k-th data-stream record of a frame was sampled at frame
        // time + k seconds; so was the k-th supplementary data-stream record.
        time = reader.Type is RecordTypes.DieselStream or RecordTypes.Supplementary
            ? new DateTime(frameTime.Ticks + (index * Wire.TicksPerSecond), DateTimeKind.Utc)
            : frameTime;
        return true;
    }

    /// <summary>Checks start, lengths, check code, command, VIN and encryption; returns the data unit.</summary>
    private static bool TryReadEnvelope(ReadOnlySpan<byte> frame, TerminalProfile profile, out ReadOnlySpan<byte> data, out Rejection rejection)
    {
        data = default;
        if ((frame.Length >= 1 && !IsStartByte(frame[0], profile)) || (frame.Length >= 2 && frame[1] != frame[0]))
        {
            rejection = new(RejectReason.BadStart, frame.Length >= 2
                ? $"The frame starts with 0x{frame[0]:X2} 0x{frame[1]:X2}, not with ## (0x23 0x23){(profile.AcceptTildeStart ? " or 0x7E 0x7E" : "")}."
                : $"The frame starts with 0x{frame[0]:X2}, not with ## (0x23 0x23){(profile.AcceptTildeStart ? " or 0x7E 0x7E" : "")}.");
            return false;
        }
        if (frame.Length < Overhead)
        {
            rejection = new(RejectReason.Truncated, $"The frame has {frame.Length} bytes; header and check code alone take {Overhead}.");
            return false;
        }
        int length = BinaryPrimitives.ReadUInt16BigEndian(frame[22..]);
        if (length > MaxDataLength)
        {
            rejection = new(RejectReason.BadLength, $"The data length field says {length} bytes; at most {MaxDataLength} are allowed.");
            return false;
        }
        if (frame.Length < length + Overhead)
        {
            rejection = new(RejectReason.Truncated, $"The data length field says {length} bytes, so the frame needs {length + Overhead} bytes; only {frame.Length} arrived.");
            return false;
        }
        if (frame.Length > length + Overhead)
        {
            rejection = new(RejectReason.BadLength, $"The data length field says {length} bytes, so the frame is {length + Overhead} bytes; {frame.Length - length - Overhead} more bytes follow it.");
            return false;
        }
        var expected = Wire.Xor(frame[2..(HeaderLength + length)]);
        if (expected != frame[HeaderLength + length])
        {
            rejection = new(RejectReason.BadCheckCode, $"The check code is 0x{frame[HeaderLength + length]:X2}; the frame's bytes XOR to 0x{expected:X2}.");
            return false;
        }
        var command = frame[2];
        if (command is < (byte)FrameKind.Login or > (byte)FrameKind.RemovalAlarm)
        {
            rejection = new(RejectReason.UnsupportedCommand, command switch
            {
                0x07 or 0x08 => $"Command 0x{command:X2} (anti-tamper activation/reply) is not supported.",
                >= 0x80 and <= 0xFE => $"Command 0x{command:X2} is user-defined and not supported.",
                _ => $"Command 0x{command:X2} is unknown.",
            });
            return false;
        }
        if (!Wire.IsValidVin(frame.Slice(3, 17)))
        {
            rejection = new(RejectReason.BadVin, $"The VIN bytes {Convert.ToHexString(frame.Slice(3, 17))} are not 17 characters of [A-HJ-NPR-Z0-9].");
            return false;
        }
        var encryption = frame[21];
        if (encryption != (byte)FrameEncryption.None)
        {
            rejection = new(RejectReason.UnsupportedEncryption, encryption switch
            {
                0x02 => "The data unit is RSA-encrypted and cannot be read without keys.",
                0x03 => "The data unit is SM2-encrypted and cannot be read without keys.",
                0xFE => "The terminal marks its encryption as abnormal (0xFE).",
                0xFF => "The terminal marks its encryption as invalid (0xFF).",
                _ => $"Encryption byte 0x{encryption:X2} is unknown.",
            });
            return false;
        }
        data = frame.Slice(HeaderLength, length);
        rejection = default;
        return true;
    }

    private static bool IsStartByte(byte b, TerminalProfile profile) => b == 0x23 || (b == 0x7E && profile.AcceptTildeStart);

    private static bool TryReadLogin(ReadOnlySpan<byte> data, TerminalProfile profile, out DateTime time, out ushort serial, out string iccid, out Rejection rejection)
    {
        iccid = "";
        if (!TryReadTimeAndSerial(data, profile, LoginLength, "login", out time, out serial, out rejection))
            return false;
        iccid = Wire.ReadText(data.Slice(8, IccidLength));
        return true;
    }

    private static bool TryReadTimeAndSerial(ReadOnlySpan<byte> data, TerminalProfile profile, int length, string what, out DateTime time, out ushort serial, out Rejection rejection)
    {
        time = default;
        serial = 0;
        if (data.Length != length)
        {
            rejection = new(RejectReason.BadLength, $"A {what} data unit has {length} bytes; this one has {data.Length}.");
            return false;
        }
        if (!Wire.TryReadTime(data, profile, out time))
        {
            rejection = new(RejectReason.TimeOutOfRange, $"The {what} time {Convert.ToHexString(data[..6])} is not a calendar time in {profile.TimeEncoding} encoding.");
            return false;
        }
        serial = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        rejection = default;
        return true;
    }

    private static bool TryReadDataHead(ReadOnlySpan<byte> data, TerminalProfile profile, out DateTime time, out ushort serial, out ReadOnlySpan<byte> records, out Rejection rejection)
    {
        time = default;
        serial = 0;
        records = default;
        var headLength = profile.Layout == DataLayout.Gb17691 ? 6 : 8;
        if (data.Length < headLength)
        {
            rejection = new(RejectReason.BadLength, $"A {profile.Layout} data frame starts with {headLength} bytes of time{(headLength == 8 ? " and serial" : "")}; this data unit has {data.Length}.");
            return false;
        }
        if (!Wire.TryReadTime(data, profile, out time))
        {
            rejection = new(RejectReason.TimeOutOfRange, $"The frame time {Convert.ToHexString(data[..6])} is not a calendar time in {profile.TimeEncoding} encoding.");
            return false;
        }
        if (headLength == 8)
            serial = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        records = data[headLength..];
        rejection = default;
        return true;
    }

    /// <summary>
    /// The total length of the frame at the start of <paramref name="buffer"/> according to its
    /// length field, or -1 when fewer than <see cref="HeaderLength"/> bytes are present. Used to
    /// split a stream of concatenated frames; the frame itself is checked by the decoder.
    /// </summary>
    public static int PeekFrameLength(ReadOnlySpan<byte> buffer) =>
        buffer.Length < HeaderLength ? -1 : BinaryPrimitives.ReadUInt16BigEndian(buffer[22..]) + Overhead;

    // ------------------------------------------------------------------ encoding

    /// <summary>
    /// Encodes <paramref name="frame"/> in <paramref name="profile"/>'s layout. The encryption byte
    /// is written as given (so rejected frames can be crafted); a signed profile without a
    /// signature gets a zero placeholder of 32 + 32 bytes. Throws <see cref="ArgumentException"/>
    /// when a value cannot be carried.
    /// </summary>
    public static byte[] Encode(Frame frame, TerminalProfile profile)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(profile);
        var hj = profile.Layout == DataLayout.Hj1239;
        var signedRecords = profile.Layout == DataLayout.SignedRecords;
        var recordHead = RecordHeadLength(profile);
        if (frame.Signature is not null && !(hj && profile.RequiresSignature))
            throw new ArgumentException($"The frame carries a signature and profile {profile.Name} is not a signed HJ 1239 profile.", nameof(frame));
        if (!signedRecords && frame.Records.Any(r => r.Signature is not null))
            throw new ArgumentException($"A record carries a signature and profile {profile.Name} does not sign records.", nameof(frame));
        int length;
        switch (frame.Command)
        {
            case FrameKind.Login: length = LoginLength; break;
            case FrameKind.Logout: length = LogoutLength; break;
            case FrameKind.TimeSync: length = 0; break;
            case FrameKind.RemovalAlarm: length = RemovalAlarmLength; break;
            case FrameKind.RealTime or FrameKind.Reissue:
                length = hj || signedRecords ? 8 : 6;
                foreach (var record in frame.Records)
                    length += recordHead + RecordBodyLength(record) + (signedRecords ? SignatureLength(record.Signature) : 0);
                if (hj && profile.RequiresSignature)
                    length += SignatureLength(frame.Signature);
                break;
            default:
                throw new ArgumentException($"Command {frame.Command} cannot be encoded.", nameof(frame));
        }
        if (frame.Command is not (FrameKind.RealTime or FrameKind.Reissue) && !frame.Records.IsDefaultOrEmpty)
            throw new ArgumentException($"A {frame.Command} frame carries no records.", nameof(frame));

        var bytes = StartFrame((byte)frame.Command, frame.Vin, frame.SoftwareVersion, (byte)frame.Encryption, length, profile.WriteTildeStart);
        var data = bytes.AsSpan(HeaderLength, length);
        switch (frame.Command)
        {
            case FrameKind.Login:
                WriteTimeAndSerial(data, frame.TimeUtc, frame.Serial, profile);
                Wire.WriteText(data.Slice(8, IccidLength), frame.Iccid, "iccid");
                break;
            case FrameKind.Logout:
                WriteTimeAndSerial(data, frame.TimeUtc, frame.Serial, profile);
                break;
            case FrameKind.RemovalAlarm:
                WriteTimeAndSerial(data, frame.TimeUtc, frame.Serial, profile);
                DieselFields.WritePosition(data[8..], frame.AlarmPosition ?? new FramePosition(0x01, double.NaN, double.NaN));
                break;
            case FrameKind.RealTime or FrameKind.Reissue:
                Wire.WriteTime(data, frame.TimeUtc, profile, "The frame time");
                var position = 6;
                if (hj || signedRecords)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(data[6..], frame.Serial);
                    position = 8;
                }
                foreach (var record in frame.Records)
                {
                    data[position] = record.Type;
                    if (hj)
                        Wire.WriteTime(data[(position + 1)..], record.TimeUtc, profile, "The record time");
                    else if (!signedRecords)
                        BinaryPrimitives.WriteUInt16BigEndian(data[(position + 1)..], record.Serial);
                    position += recordHead;
                    var bodyLength = RecordBodyLength(record);
                    WriteRecordBody(data.Slice(position, bodyLength), record);
                    position += bodyLength;
                    if (signedRecords)
                    {
                        WriteSignature(data[position..], record.Signature);
                        position += SignatureLength(record.Signature);
                    }
                }
                if (hj && profile.RequiresSignature)
                    WriteSignature(data[position..], frame.Signature);
                break;
        }
        Seal(bytes);
        return bytes;
    }

    /// <summary>
    /// Wraps any data unit in a frame: start, header, check code. For crafting frames the codec
    /// would not write (unsupported commands, encrypted units); the data unit is not checked.
    /// </summary>
    public static byte[] Wrap(byte command, string vin, ReadOnlySpan<byte> dataUnit, byte softwareVersion = 0x01,
        byte encryption = (byte)FrameEncryption.None, bool tildeStart = false)
    {
        if (dataUnit.Length > MaxDataLength)
            throw new ArgumentException($"The data unit has {dataUnit.Length} bytes; at most {MaxDataLength} fit.", nameof(dataUnit));
        var bytes = StartFrame(command, vin, softwareVersion, encryption, dataUnit.Length, tildeStart);
        dataUnit.CopyTo(bytes.AsSpan(HeaderLength));
        Seal(bytes);
        return bytes;
    }

    internal static byte[] StartFrame(byte command, string vin, byte softwareVersion, byte encryption, int dataLength, bool tildeStart)
    {
        if (!Wire.IsValidVin(vin))
            throw new ArgumentException($"VIN '{vin}' is not 17 characters of [A-HJ-NPR-Z0-9].", nameof(vin));
        if (dataLength > MaxDataLength)
            throw new ArgumentException($"The data unit would have {dataLength} bytes; at most {MaxDataLength} fit in a frame.", nameof(dataLength));
        var bytes = new byte[dataLength + Overhead];
        bytes[0] = bytes[1] = tildeStart ? (byte)0x7E : (byte)0x23;
        bytes[2] = command;
        Encoding.ASCII.GetBytes(vin, bytes.AsSpan(3, 17));
        bytes[20] = softwareVersion;
        bytes[21] = encryption;
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(22), (ushort)dataLength);
        return bytes;
    }

    internal static void Seal(byte[] bytes) =>
        bytes[^1] = Wire.Xor(bytes.AsSpan(2, bytes.Length - 3));

    internal static void WriteTimeAndSerial(Span<byte> data, DateTime time, ushort serial, TerminalProfile profile)
    {
        Wire.WriteTime(data, time, profile, "The frame time");
        BinaryPrimitives.WriteUInt16BigEndian(data[6..], serial);
    }

    /// <summary>Bytes before a record's body: type + serial (gb17691), type + time (hj1239), type (signed records).</summary>
    internal static int RecordHeadLength(TerminalProfile profile) => profile.Layout switch
    {
        DataLayout.Hj1239 => 7,
        DataLayout.SignedRecords => 1,
        _ => 3,
    };

    internal static int SignatureLength(FrameSignature? signature) => signature is null
        ? 2 + (2 * PlaceholderSignaturePartLength)
        : 2 + signature.R.Length + signature.S.Length;

    internal static void WriteSignature(Span<byte> bytes, FrameSignature? signature)
    {
        var r = signature is null ? new byte[PlaceholderSignaturePartLength] : signature.R.AsSpan();
        var s = signature is null ? new byte[PlaceholderSignaturePartLength] : signature.S.AsSpan();
        if (r.Length > 255 || s.Length > 255)
            throw new ArgumentException("A signature part has at most 255 bytes.", nameof(signature));
        bytes[0] = (byte)r.Length;
        r.CopyTo(bytes[1..]);
        bytes[1 + r.Length] = (byte)s.Length;
        s.CopyTo(bytes[(2 + r.Length)..]);
    }

    private static int RecordBodyLength(FrameRecord record) => record.Type switch
    {
        RecordTypes.DieselStream => RecordTypes.DieselStreamLength,
        RecordTypes.Obd => ObdCodec.BodyLength(record.Obd ?? throw new ArgumentException("An OBD record (0x01) needs its Obd snapshot.", nameof(record))),
        _ => record.Body.IsDefault ? 0 : record.Body.Length,
    };

    private static void WriteRecordBody(Span<byte> body, FrameRecord record)
    {
        switch (record.Type)
        {
            case RecordTypes.DieselStream:
                DieselFields.Write(body, record.DataStream ?? throw new ArgumentException("A data-stream record (0x02) needs its sample.", nameof(record)));
                break;
            case RecordTypes.Obd:
                ObdCodec.Write(body, record.Obd!);
                break;
            default:
                record.Body.AsSpan().CopyTo(body);
                break;
        }
    }
}
