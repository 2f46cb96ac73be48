using System.Buffers.Binary;
using Telemetry.Abstractions;

namespace Telemetry.Protocol;

/// <summary>
/// Writes a <see cref="TelemetryBatch"/> as one binary frame of a profile: what a terminal (or the
/// fleet simulator) sends. Times are written in whole seconds in the profile's clock.
/// </summary>
public static class FrameEncoder
{
    /// <summary>
    /// Encodes <paramref name="batch"/>. Real-time and re-issued batches write their OBD snapshots
    /// first, then their samples; in the <c>gb17691</c> layout every record carries
    /// <see cref="TelemetryBatch.Serial"/> and sample k must be at frame time + k seconds (the layout
    /// has no per-record time, and the same holds for <c>signedRecords</c>); in the <c>hj1239</c> layout
    /// each record carries its own time. Throws <see cref="ArgumentException"/>
    /// (naming the field) when the batch holds something the frame cannot carry. A sample with any
    /// supplementary field (<see cref="SupplementaryFields"/>) makes every sample of the batch carry a
    /// supplementary record (0x80) after its data-stream record. In the signed layouts,
    /// <paramref name="privateKeyHex"/> (64 hex digits) signs with SM2; without it a zero placeholder
    /// signature (32 + 32 bytes) is written.
    /// </summary>
    public static byte[] Encode(TelemetryBatch batch, TerminalProfile profile, byte softwareVersion = 0x01, string? privateKeyHex = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(profile);
        var samples = batch.Samples.IsDefault ? [] : batch.Samples;
        var obd = batch.Obd.IsDefault ? [] : batch.Obd;
        var isData = batch.Kind is FrameKind.RealTime or FrameKind.Reissue;
        if (!isData && (samples.Length > 0 || obd.Length > 0))
            throw new ArgumentException($"A {batch.Kind} frame carries no samples or OBD snapshots.", nameof(batch));

        switch (batch.Kind)
        {
            case FrameKind.Login:
            {
                var bytes = FrameCodec.StartFrame((byte)batch.Kind, batch.Vin, softwareVersion, (byte)FrameEncryption.None, FrameCodec.LoginLength, profile.WriteTildeStart);
                var data = bytes.AsSpan(FrameCodec.HeaderLength);
                FrameCodec.WriteTimeAndSerial(data, batch.FrameTimeUtc, batch.Serial, profile);
                Wire.WriteText(data.Slice(8, FrameCodec.IccidLength), batch.Iccid, "iccid");
                FrameCodec.Seal(bytes);
                return bytes;
            }
            case FrameKind.Logout:
            {
                var bytes = FrameCodec.StartFrame((byte)batch.Kind, batch.Vin, softwareVersion, (byte)FrameEncryption.None, FrameCodec.LogoutLength, profile.WriteTildeStart);
                FrameCodec.WriteTimeAndSerial(bytes.AsSpan(FrameCodec.HeaderLength), batch.FrameTimeUtc, batch.Serial, profile);
                FrameCodec.Seal(bytes);
                return bytes;
            }
            case FrameKind.TimeSync:
            {
                var bytes = FrameCodec.StartFrame((byte)batch.Kind, batch.Vin, softwareVersion, (byte)FrameEncryption.None, 0, profile.WriteTildeStart);
                FrameCodec.Seal(bytes);
                return bytes;
            }
            case FrameKind.RemovalAlarm:
            {
                var bytes = FrameCodec.StartFrame((byte)batch.Kind, batch.Vin, softwareVersion, (byte)FrameEncryption.None, FrameCodec.RemovalAlarmLength, profile.WriteTildeStart);
                var data = bytes.AsSpan(FrameCodec.HeaderLength);
                FrameCodec.WriteTimeAndSerial(data, batch.FrameTimeUtc, batch.Serial, profile);
                var position = batch.AlarmPosition is { } fix ? FramePosition.FromGeoFix(fix) : new FramePosition(0x01, double.NaN, double.NaN);
                DieselFields.WritePosition(data[8..], position);
                FrameCodec.Seal(bytes);
                return bytes;
            }
            case FrameKind.RealTime or FrameKind.Reissue:
                return EncodeData(batch, samples, obd, profile, softwareVersion, privateKeyHex);
            default:
                throw new ArgumentException($"Kind {batch.Kind} cannot be encoded.", nameof(batch));
        }
    }

    private static byte[] EncodeData(TelemetryBatch batch, System.Collections.Immutable.ImmutableArray<Sample> samples,
        System.Collections.Immutable.ImmutableArray<ObdSnapshot> obd, TerminalProfile profile, byte softwareVersion, string? privateKeyHex)
    {
        var hj = profile.Layout == DataLayout.Hj1239;
        var signedRecords = profile.Layout == DataLayout.SignedRecords;
        var recordHead = FrameCodec.RecordHeadLength(profile);
        var recordSignature = signedRecords ? FrameCodec.SignatureLength(null) : 0;
        // Supplementary records go with every sample once any sample has a supplementary value, so
        // that the k-th of them is at frame time + k s in the layouts without record times.
        var supplementary = false;
        foreach (var sample in samples)
            supplementary |= SupplementaryFields.HasAny(sample);
        var perSample = recordHead + RecordTypes.DieselStreamLength + recordSignature
            + (supplementary ? recordHead + RecordTypes.SupplementaryLength + recordSignature : 0);
        var length = (hj || signedRecords ? 8 : 6) + (samples.Length * perSample);
        foreach (var snapshot in obd)
            length += recordHead + ObdCodec.BodyLength(snapshot) + recordSignature;
        if (hj && profile.RequiresSignature)
            length += FrameCodec.SignatureLength(null);

        if (!hj)
        {
            var frameSecond = Wire.TruncateToSecond(batch.FrameTimeUtc).Ticks;
            for (var k = 0; k < samples.Length; k++)
            {
                if (Wire.TruncateToSecond(samples[k].TimeUtc).Ticks != frameSecond + (k * Wire.TicksPerSecond))
                    throw new ArgumentException($"Sample {k} is at {samples[k].TimeUtc:O}; the {profile.Name} layout has no record time, so it must be at frame time + {k} s ({batch.FrameTimeUtc.AddSeconds(k):O}).", nameof(batch));
            }
        }

        var bytes = FrameCodec.StartFrame((byte)batch.Kind, batch.Vin, softwareVersion, (byte)FrameEncryption.None, length, profile.WriteTildeStart);
        var data = bytes.AsSpan(FrameCodec.HeaderLength, length);
        Wire.WriteTime(data, batch.FrameTimeUtc, profile, "The frame time");
        var position = 6;
        if (hj || signedRecords)
        {
            BinaryPrimitives.WriteUInt16BigEndian(data[6..], batch.Serial);
            position = 8;
        }
        foreach (var snapshot in obd)
        {
            var start = position;
            position = WriteRecordHead(data, position, RecordTypes.Obd, snapshot.TimeUtc, batch.Serial, profile);
            var bodyLength = ObdCodec.BodyLength(snapshot);
            ObdCodec.Write(data.Slice(position, bodyLength), snapshot);
            position = Sign(data, start, position + bodyLength, signedRecords, privateKeyHex);
        }
        foreach (var sample in samples)
        {
            var start = position;
            position = WriteRecordHead(data, position, RecordTypes.DieselStream, sample.TimeUtc, batch.Serial, profile);
            DieselFields.Write(data.Slice(position, RecordTypes.DieselStreamLength), sample);
            position = Sign(data, start, position + RecordTypes.DieselStreamLength, signedRecords, privateKeyHex);
            if (supplementary)
            {
                start = position;
                position = WriteRecordHead(data, position, RecordTypes.Supplementary, sample.TimeUtc, batch.Serial, profile);
                SupplementaryFields.Write(data.Slice(position, RecordTypes.SupplementaryLength), sample);
                position = Sign(data, start, position + RecordTypes.SupplementaryLength, signedRecords, privateKeyHex);
            }
        }
        if (hj && profile.RequiresSignature)
            FrameCodec.WriteSignature(data[position..], privateKeyHex is null ? null : Sm2Signatures.Sign(privateKeyHex, data[..position]));
        FrameCodec.Seal(bytes);
        return bytes;
    }

    /// <summary>Signed-records layout: writes the signature of <c>data[start..end]</c> after it; returns the position after it.</summary>
    private static int Sign(Span<byte> data, int start, int end, bool signedRecords, string? privateKeyHex)
    {
        if (!signedRecords)
            return end;
        var signature = privateKeyHex is null ? null : Sm2Signatures.Sign(privateKeyHex, data[start..end]);
        FrameCodec.WriteSignature(data[end..], signature);
        return end + FrameCodec.SignatureLength(signature);
    }

    private static int WriteRecordHead(Span<byte> data, int position, byte type, DateTime time, ushort serial, TerminalProfile profile)
    {
        data[position] = type;
        switch (profile.Layout)
        {
            case DataLayout.Hj1239:
                Wire.WriteTime(data[(position + 1)..], time, profile, "The record time");
                return position + 7;
            case DataLayout.SignedRecords:
                return position + 1;
            default:
                BinaryPrimitives.WriteUInt16BigEndian(data[(position + 1)..], serial);
                return position + 3;
        }
    }
}
