using System.Collections.Frozen;
using System.Collections.Immutable;
using CsCheck;
using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

/// <summary>CsCheck generators of batches and frames that every profile can carry.</summary>
internal static class Generators
{
    private const string Alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
    private const string TextAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_. ";
    private static readonly DateTime Epoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly int MaxSeconds = (int)((new DateTime(2099, 12, 30, 0, 0, 0, DateTimeKind.Utc) - Epoch).TotalSeconds);

    public static readonly TerminalProfile SupplementaryProfile = TerminalProfile.Gb17691 with
    {
        Name = "gb-supp",
        SupplementaryRecordLengths = new Dictionary<byte, int> { [0x80] = 5, [0xA0] = 0 }.ToFrozenDictionary(),
    };

    public static readonly TerminalProfile[] Profiles =
    [
        TerminalProfile.Gb17691,
        TerminalProfile.Hj1239,
        TerminalProfile.Hj1239 with { Name = "hj1239-signed", RequiresSignature = true },
        TerminalProfile.Gb17691 with { Name = "gb-bcd-utc", TimeEncoding = FrameTimeEncoding.Bcd, TimeZone = FrameTimeZone.Utc, AcceptTildeStart = true, WriteTildeStart = true },
        TerminalProfile.Hj1239 with { Name = "hj-bcd", TimeEncoding = FrameTimeEncoding.Bcd },
        TerminalProfile.SignedRecords,
    ];

    /// <summary>What decoding without a key gives: the samples of a signed profile are marked "not verified".</summary>
    public static TelemetryBatch AsDecodedWithoutKey(TelemetryBatch batch, TerminalProfile profile) =>
        profile.IsSigned && !batch.Samples.IsDefaultOrEmpty
            ? batch with { Samples = [.. batch.Samples.Select(s => s with { Signature = SignatureCheck.NoKey })] }
            : batch;

    public static readonly Gen<string> Vin = Gen.Char[Alphabet].Array[17].Select(c => new string(c));

    public static readonly Gen<DateTime> Time = Gen.Int[0, MaxSeconds].Select(s => Epoch.AddSeconds(s));

    private static double Scaled(FieldScale scale, uint raw, int pick) => pick switch
    {
        0 => double.NaN,
        1 => scale.Decode(0),
        2 => scale.Decode(scale.MaxRaw),
        _ => scale.Decode(raw % (scale.MaxRaw + 1)),
    };

    public static Gen<Sample> Sample(Gen<DateTime> time) =>
        Gen.Select(DieselSample(time), Gen.Int[0, 2], Gen.UInt.Array[7], Gen.Int[0, 7].Array[7], (sample, supplementary, raws, picks) =>
        {
            // A third of the samples carry the supplementary record's fields.
            if (supplementary != 0)
                return sample;
            for (var i = 0; i < 7; i++)
                sample = SampleFields.Supplementary[i].With(sample, Scaled(SupplementaryFields.All[i], raws[i], picks[i]));
            return sample;
        });

    private static Gen<Sample> DieselSample(Gen<DateTime> time) =>
        Gen.Select(time, Gen.UInt.Array[18], Gen.Int[0, 7].Array[18], Gen.Byte, Gen.Bool, Gen.Bool, (t, raws, picks, status, west, south) =>
        {
            var values = new double[18];
            for (var i = 0; i < 18; i++)
                values[i] = Scaled(DieselFields.All[i], raws[i], picks[i]);
            if (west && !double.IsNaN(values[15]))
                values[15] = -values[15];
            if (south && !double.IsNaN(values[16]))
                values[16] = -values[16];
            // The status byte's sign bits follow the coordinates wherever a coordinate is present.
            var s = (int)status;
            if (!double.IsNaN(values[15]))
                s = double.IsNegative(values[15]) ? s | 0x04 : s & ~0x04;
            if (!double.IsNaN(values[16]))
                s = double.IsNegative(values[16]) ? s | 0x02 : s & ~0x02;
            var sample = global::Telemetry.Abstractions.Sample.Empty(t) with { PositionStatus = (byte)s };
            for (var i = 0; i < 18; i++)
                sample = SampleFields.All[i].With(sample, values[i]);
            return sample;
        });

    private static readonly Gen<string> AsciiText = Gen.Char[TextAlphabet].Array[0, 17]
        .Select(c => new string(c).TrimEnd(' '));

    private static readonly Gen<string> HexText = Gen.Byte.Array[1, 17].Select(b =>
    {
        b[0] |= 0x80;
        b[^1] = b[^1] == 0 ? (byte)1 : b[^1];
        return "0x" + Convert.ToHexString(b);
    });

    private static readonly Gen<string> Text = Gen.Frequency((3, AsciiText), (1, HexText));

    public static Gen<ObdSnapshot> Obd(Gen<DateTime> time) =>
        Gen.Select(time, Gen.Int[-1, 250], Gen.Int[-1, 1], Gen.UShort, Gen.UShort, Gen.Select(Text, Text, Text), Gen.Byte.Array[36], Gen.UInt.Array[0, 12],
            (t, protocol, mil, support, readiness, texts, iupr, dtcs) => new ObdSnapshot
            {
                TimeUtc = t,
                ObdProtocol = protocol < 0 ? null : (byte)protocol,
                MilOn = mil < 0 ? null : mil == 1,
                DiagnosticSupport = support,
                DiagnosticReadiness = readiness,
                Vin = texts.Item1,
                CalibrationId = texts.Item2,
                Cvn = texts.Item3,
                Iupr = [.. iupr],
                Dtcs = [.. dtcs],
            });

    private static readonly Gen<GeoFix> Fix =
        Gen.Select(Sample(Time), Gen.Bool, (s, valid) => new GeoFix(s.Longitude, s.Latitude, valid && !double.IsNaN(s.Longitude) && !double.IsNaN(s.Latitude)));

    /// <summary>A batch of any kind that <paramref name="profile"/> can carry, received at <paramref name="received"/>.</summary>
    public static Gen<TelemetryBatch> Batch(TerminalProfile profile, DateTime received) =>
        Gen.Select(Gen.Enum<FrameKind>(), Vin, Time, Gen.UShort).SelectMany((kind, vin, time, serial) => kind switch
        {
            FrameKind.Login => Gen.Char[Alphabet].Array[0, 20].Select(c =>
                new TelemetryBatch(vin, kind, time, serial, [], [], received) { Iccid = new string(c) }),
            FrameKind.Logout => Gen.Const(new TelemetryBatch(vin, kind, time, serial, [], [], received)),
            FrameKind.TimeSync => Gen.Const(new TelemetryBatch(vin, kind, received, 0, [], [], received)),
            FrameKind.RemovalAlarm => Fix.Select(fix =>
                new TelemetryBatch(vin, kind, time, serial, [], [], received) { AlarmPosition = fix }),
            _ => DataBatch(profile, kind, vin, time, serial, received),
        });

    private static Gen<TelemetryBatch> DataBatch(TerminalProfile profile, FrameKind kind, string vin, DateTime time, ushort serial, DateTime received)
    {
        if (profile.Layout != DataLayout.Hj1239)
        {
            // No record time in this layout: sample k is at frame time + k s, OBD at frame time.
            return Gen.Select(Gen.Int[0, 5], Gen.Int[0, 2]).SelectMany((samples, obd) =>
                Gen.Select(
                    Sample(Gen.Const(time)).Array[samples],
                    Obd(Gen.Const(time)).Array[obd],
                    (s, o) => new TelemetryBatch(vin, kind, time, s.Length + o.Length == 0 ? (ushort)0 : serial,
                        [.. s.Select((x, k) => x with { TimeUtc = time.AddSeconds(k) })], [.. o], received)));
        }
        return Gen.Select(Sample(Time).Array[0, 10], Obd(Time).Array[0, 2],
            (s, o) => new TelemetryBatch(vin, kind, time, serial, [.. s], [.. o], received));
    }

    /// <summary>A real-time or re-issued frame with every record type, supplementary ones and (signed profiles) a signature.</summary>
    public static Gen<Frame> DataFrame(TerminalProfile profile)
    {
        var hj = profile.Layout == DataLayout.Hj1239;
        var signedRecords = profile.Layout == DataLayout.SignedRecords;
        var serialOf = (ushort serial) => hj || signedRecords ? (ushort)0 : serial;
        var recordSignature = signedRecords
            ? Gen.Select(Gen.Byte.Array[1, 33], Gen.Byte.Array[1, 33], (r, s) => (FrameSignature?)new FrameSignature([.. r], [.. s]))
            : Gen.Const((FrameSignature?)null);
        var plain = Gen.Frequency(
            (4, Gen.Select(DieselSample(Time), Gen.UShort, (s, serial) => FrameRecord.ForSample(s, serialOf(serial)))),
            (1, Gen.Select(Obd(Time), Gen.UShort, (o, serial) => FrameRecord.ForObd(o, serialOf(serial)))),
            (1, Gen.Select(Gen.Byte.Array[5], Gen.UShort, Time, (body, serial, t) => new FrameRecord
            {
                Type = 0x80,
                Serial = serialOf(serial),
                TimeUtc = t,
                Body = [.. body],
            })),
            (1, Gen.Select(Gen.Byte.Array[RecordTypes.HybridLength], Gen.UShort, Time, (body, serial, t) => new FrameRecord
            {
                Type = RecordTypes.Hybrid,
                Serial = serialOf(serial),
                TimeUtc = t,
                Body = [.. body],
            })));
        var record = Gen.Select(plain, recordSignature, (r, sig) => sig is null ? r : r with { Signature = sig });
        // R lengths of 5 and more: real SM2 parts have 32 or 33 bytes, and 1, 2 and 4 are record types.
        var signature = profile.RequiresSignature
            ? Gen.Select(Gen.Byte.Array[5, 64], Gen.Byte.Array[1, 64], (r, s) => (FrameSignature?)new FrameSignature([.. r], [.. s]))
            : Gen.Const((FrameSignature?)null);
        return Gen.Select(Gen.OneOf(Gen.Const(FrameKind.RealTime), Gen.Const(FrameKind.Reissue)), Vin, Time, Gen.UShort, Gen.Byte, record.Array[0, 8], signature,
            (kind, vin, time, serial, version, records, sig) => new Frame
            {
                Command = kind,
                Vin = vin,
                SoftwareVersion = version,
                TimeUtc = time,
                Serial = serial,
                Records = [.. records],
                Signature = sig,
            });
    }
}
