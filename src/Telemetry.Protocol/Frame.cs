using System.Collections.Immutable;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>The encryption byte of the frame header.</summary>
public enum FrameEncryption : byte
{
    /// <summary>Data unit in clear: the only one this codec reads.</summary>
    None = 0x01,
    /// <summary>RSA-encrypted data unit.</summary>
    Rsa = 0x02,
    /// <summary>SM2-encrypted data unit.</summary>
    Sm2 = 0x03,
    /// <summary>The terminal flags its encryption as abnormal.</summary>
    Abnormal = 0xFE,
    /// <summary>The terminal flags its encryption as invalid.</summary>
    Invalid = 0xFF,
}

/// <summary>Record types of real-time and re-issued data units.</summary>
public static class RecordTypes
{
    /// <summary>OBD information, 96 + 4 x n bytes.</summary>
    public const byte Obd = 0x01;
    /// <summary>Diesel data stream, 37 bytes.</summary>
    public const byte DieselStream = 0x02;
    /// <summary>Body length of a diesel data-stream record.</summary>
    public const int DieselStreamLength = 37;
    /// <summary>Body length of an OBD record without fault codes.</summary>
    public const int ObdFixedLength = 96;
    /// <summary>Most fault codes one OBD record may carry.</summary>
    public const int MaxDtcCount = 252;
    /// <summary>Fault-code count byte meaning "count invalid": no codes follow.</summary>
    public const byte DtcCountInvalid = 0xFE;
    /// <summary>Hybrid data, skipped with its bytes kept.</summary>
    public const byte Hybrid = 0x04;
    /// <summary>Body length of a hybrid record in field firmware.</summary>
    public const int HybridLength = 8;
    /// <summary>Supplementary data stream (torque mode, pedal, fuel and urea totals, urea dosing, DPF exhaust temperature).</summary>
    public const byte Supplementary = 0x80;
    /// <summary>Body length of a supplementary data-stream record.</summary>
    public const int SupplementaryLength = 17;
}

/// <summary>
/// One binary frame, every part of it: header, time, serial, records, login ICCID, removal-alarm
/// position and the HJ 1239 signature. <see cref="FrameCodec"/> reads and writes it;
/// <see cref="ToBatch"/> maps it to what the vehicle grain consumes.
/// </summary>
public sealed record class Frame
{
    /// <summary>The command byte (login, real-time, re-issue, logout, time calibration, removal alarm).</summary>
    public required FrameKind Command { get; init; }

    /// <summary>The 17-character VIN of the header.</summary>
    public required string Vin { get; init; }

    /// <summary>Terminal software version byte (0x01, 0x02, 0x11 seen in the field).</summary>
    public byte SoftwareVersion { get; init; } = 0x01;

    /// <summary>Encryption byte; the decoder only returns frames with <see cref="FrameEncryption.None"/>.</summary>
    public FrameEncryption Encryption { get; init; } = FrameEncryption.None;

    /// <summary>Frame time, UTC; <c>default</c> for time calibration (0x05), which carries no time.</summary>
    public DateTime TimeUtc { get; init; }

    /// <summary>
    /// Login/logout/alarm serial, or the HJ 1239 frame serial. GB 17691 real-time frames have no
    /// frame serial: the decoder sets the first record's serial here, and the encoder writes each
    /// record's own <see cref="FrameRecord.Serial"/>.
    /// </summary>
    public ushort Serial { get; init; }

    /// <summary>Records of a real-time or re-issued frame, in frame order.</summary>
    public ImmutableArray<FrameRecord> Records { get; init; } = [];

    /// <summary>SIM ICCID of a login frame.</summary>
    public string? Iccid { get; init; }

    /// <summary>Position of a removal alarm (0x06).</summary>
    public FramePosition? AlarmPosition { get; init; }

    /// <summary>The closing signature of a signed HJ 1239 data unit (signed-records layout: see <see cref="FrameRecord.Signature"/>).</summary>
    public FrameSignature? Signature { get; init; }

    /// <summary>
    /// What the vehicle grain consumes: data-stream records become samples, OBD records become
    /// snapshots, a supplementary data-stream record (0x80, 17 bytes) joins the sample of its time
    /// (or becomes a sample of its own), other records are dropped. Signatures are not checked here. The batch serial is the HJ 1239 frame serial,
    /// the login/logout/alarm serial, or the first record's serial of a GB 17691 real-time frame.
    /// Time calibration frames take <paramref name="receivedUtc"/> as their time.
    /// </summary>
    public TelemetryBatch ToBatch(DateTime receivedUtc)
    {
        var samples = ImmutableArray.CreateBuilder<Sample>();
        var obd = ImmutableArray.CreateBuilder<ObdSnapshot>();
        // Signatures are kept, not checked: the samples of a signed frame or record are "not verified".
        var frameCheck = Signature is null ? SignatureCheck.NotSigned : SignatureCheck.NoKey;
        foreach (var record in Records)
        {
            var check = record.Signature is null ? frameCheck : SignatureCheck.NoKey;
            if (record.DataStream is { } sample)
                samples.Add(check == SignatureCheck.NotSigned ? sample : sample with { Signature = check });
            else if (record.Obd is { } snapshot)
                obd.Add(snapshot);
        }
        var merged = new bool[samples.Count + Records.Length];
        foreach (var record in Records)
        {
            if (record.Type != RecordTypes.Supplementary || record.Body.Length != RecordTypes.SupplementaryLength)
                continue;
            var check = record.Signature is null ? frameCheck : SignatureCheck.NoKey;
            var at = -1;
            for (var i = 0; i < samples.Count && at < 0; i++)
            {
                if (!merged[i] && samples[i].TimeUtc == record.TimeUtc)
                    at = i;
            }
            if (at < 0)
            {
                at = samples.Count;
                samples.Add(Sample.Empty(record.TimeUtc));
            }
            merged[at] = true;
            var joined = SupplementaryFields.Apply(record.Body.AsSpan(), samples[at]);
            samples[at] = check > joined.Signature ? joined with { Signature = check } : joined;
        }
        return new TelemetryBatch(Vin, Command, Command == FrameKind.TimeSync ? receivedUtc : TimeUtc, Serial,
            samples.DrainToImmutable(), obd.DrainToImmutable(), receivedUtc)
        {
            Iccid = Iccid,
            AlarmPosition = AlarmPosition is { } p ? p.ToGeoFix() : null,
        };
    }
}

/// <summary>
/// One record of a real-time or re-issued data unit. Exactly one of <see cref="DataStream"/>,
/// <see cref="Obd"/> is set for types 0x02 and 0x01; other (supplementary) types keep their raw body.
/// </summary>
public sealed record class FrameRecord
{
    /// <summary>Record type byte.</summary>
    public required byte Type { get; init; }

    /// <summary>GB 17691 layout: the record's info serial. Zero in the HJ 1239 layout.</summary>
    public ushort Serial { get; init; }

    /// <summary>Sample time, UTC: read from the record (HJ 1239) or frame time + k seconds (GB 17691).</summary>
    public DateTime TimeUtc { get; init; }

    /// <summary>The decoded diesel data stream of a 0x02 record.</summary>
    public Sample? DataStream { get; init; }

    /// <summary>The decoded OBD information of a 0x01 record.</summary>
    public ObdSnapshot? Obd { get; init; }

    /// <summary>The raw body of any other record: supplementary (0x80 and configured types), hybrid (0x04).</summary>
    public ImmutableArray<byte> Body { get; init; } = [];

    /// <summary>Signed-records layout: the signature that follows this record (its <c>type + body</c>).</summary>
    public FrameSignature? Signature { get; init; }

    /// <summary>A data-stream record at the sample's time.</summary>
    public static FrameRecord ForSample(Sample sample, ushort serial = 0) =>
        new() { Type = RecordTypes.DieselStream, Serial = serial, TimeUtc = sample.TimeUtc, DataStream = sample };

    /// <summary>An OBD record at the snapshot's time.</summary>
    public static FrameRecord ForObd(ObdSnapshot obd, ushort serial = 0) =>
        new() { Type = RecordTypes.Obd, Serial = serial, TimeUtc = obd.TimeUtc, Obd = obd };
}

/// <summary>A position as the frame carries it: the raw status byte and signed degrees (NaN when not available).</summary>
/// <param name="Status">bit0 = 1 position invalid, bit1 = 1 south, bit2 = 1 west.</param>
/// <param name="Longitude">Degrees, negative west.</param>
/// <param name="Latitude">Degrees, negative south.</param>
public readonly record struct FramePosition(byte Status, double Longitude, double Latitude)
{
    /// <summary>True when bit0 is clear and both coordinates are present.</summary>
    public bool Valid => (Status & 0x01) == 0 && !double.IsNaN(Longitude) && !double.IsNaN(Latitude);

    /// <summary>The position as the shared model keeps it.</summary>
    public GeoFix ToGeoFix() => new(Longitude, Latitude, Valid);

    /// <summary>The frame form of <paramref name="fix"/>: status bit0 from validity, bits 1-2 from the signs.</summary>
    public static FramePosition FromGeoFix(GeoFix fix) =>
        new((byte)(fix.Valid ? 0x00 : 0x01), fix.Longitude, fix.Latitude);
}

/// <summary>An SM2 signature: the one that closes a signed HJ 1239 data unit, or one that follows a record of the signed-records layout.</summary>
public sealed record class FrameSignature(ImmutableArray<byte> R, ImmutableArray<byte> S);
