using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

/// <summary>
/// What terminals in the field send beyond the first two profiles, from hand-built bytes: several
/// frames in one payload, the supplementary record 0x80, the hybrid record 0x04, a fault-code count
/// marked invalid, placeholder texts, the signedRecords layout and its signatures.
/// </summary>
public sealed class FieldFirmwareTests
{
    private static readonly DateTime Received = new(2026, 11, 28, 10, 0, 0, DateTimeKind.Utc);
    private static readonly string FrameTime = HandFrames.Time(2021, 8, 14, 8, 47, 35);
    private static readonly PayloadDecoder Decoder = new(new ProtocolOptions { MaxFutureSkew = null });

    /// <summary>0x80 body: torque mode 1, pedal 50 %, fuel 2048 L, urea tank 20 C, dosing 100 mL/h, urea 1024 g, DPF 105 C.</summary>
    private const string SupplementaryBody = "01" + "7D" + "00001000" + "3C" + "00002710" + "00000400" + "2F40";

    private static byte[] Gb(ushort serial, string speedHex = "0F00") =>
        HandFrames.GbDieselFrame(HandFrames.DieselBody((0, speedHex)), serial);

    // ------------------------------------------------------------------ several frames in one payload

    [Fact]
    public void DecodeAll_ThreeConcatenatedFrames_DecodesEachInOrderWithItsOffset()
    {
        byte[] a = Gb(1), b = Gb(2), c = Gb(3);
        var payload = a.Concat(b).Concat(c).ToArray();

        var frames = Decoder.DecodeAll("gb17691", HandFrames.Vin, payload, Received);

        Assert.Equal(3, frames.Count);
        Assert.All(frames, f => Assert.True(f.Decoded));
        Assert.Equal([0, a.Length, a.Length + b.Length], frames.Select(f => f.Offset));
        Assert.Equal([(ushort)1, (ushort)2, (ushort)3], frames.Select(f => f.Batch!.Serial));
    }

    [Fact]
    public void DecodeAll_MiddleFrameWithBadCheckCode_RejectsOnlyThatOne()
    {
        var bad = Gb(2);
        bad[^1] ^= 0x5A;
        var payload = Gb(1).Concat(bad).Concat(Gb(3)).ToArray();

        var frames = Decoder.DecodeAll("gb17691", HandFrames.Vin, payload, Received);

        Assert.Equal([true, false, true], frames.Select(f => f.Decoded));
        Assert.Equal(RejectReason.BadCheckCode, frames[1].Rejection.Reason);
        Assert.Equal(bad.Length, frames[1].Length);
    }

    [Fact]
    public void DecodeAll_DataContainingHashHash_IsNotSplitThere()
    {
        // Speed raw 0x2323 puts "##" inside the first frame's data unit.
        var first = Gb(1, "2323");
        var payload = first.Concat(Gb(2)).ToArray();

        var frames = Decoder.DecodeAll("gb17691", HandFrames.Vin, payload, Received);

        Assert.Equal(2, frames.Count);
        Assert.All(frames, f => Assert.True(f.Decoded, f.Rejection.ToString()));
        Assert.Equal(0x2323 / 256.0, frames[0].Batch!.Samples[0].SpeedKmh);
        Assert.Equal(first.Length, frames[1].Offset);
    }

    [Fact]
    public void DecodeAll_GarbageBetweenFrames_IsOneBadStartAndTheNextFrameIsFound()
    {
        var payload = Gb(1).Concat(HandFrames.Hex("DEADBEEF2323")).Concat(Gb(2)).ToArray();

        var frames = Decoder.DecodeAll("gb17691", HandFrames.Vin, payload, Received);

        Assert.Equal([true, false, true], frames.Select(f => f.Decoded));
        Assert.Equal(RejectReason.BadStart, frames[1].Rejection.Reason);
        Assert.Equal(6, frames[1].Length);
    }

    [Fact]
    public void DecodeAll_LastFrameCutShort_IsTruncatedAndTheFirstIsKept()
    {
        var payload = Gb(1).Concat(Gb(2)[..40]).ToArray();

        var frames = Decoder.DecodeAll("gb17691", HandFrames.Vin, payload, Received);

        Assert.Equal([true, false], frames.Select(f => f.Decoded));
        Assert.Equal(RejectReason.Truncated, frames[1].Rejection.Reason);
    }

    [Fact]
    public void DecodeAll_SingleFrame_IsOneFrameLikeTryDecode()
    {
        var frame = Gb(1);

        var frames = Decoder.DecodeAll("gb17691", HandFrames.Vin, frame, Received);

        var only = Assert.Single(frames);
        Assert.True(Decoder.TryDecode("gb17691", HandFrames.Vin, frame, Received, out var batch, out _));
        BatchAssert.Equal(batch, only.Batch!);
    }

    // ------------------------------------------------------------------ supplementary record 0x80

    [Fact]
    public void Decode_SupplementaryRecord_JoinsTheSampleOfItsTime()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "02" + "0001" + HandFrames.DieselBody((0, "0F00")) + "80" + "0001" + SupplementaryBody);

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out var batch, out var rejection), rejection.ToString());

        var s = Assert.Single(batch.Samples);
        Assert.Equal(15.0, s.SpeedKmh);
        Assert.Equal(1, s.EngineTorqueMode);
        Assert.Equal(50, s.AcceleratorPedalPercent);
        Assert.Equal(2048, s.TotalFuelUsedL);
        Assert.Equal(20, s.UreaTankTempC);
        Assert.Equal(100, s.UreaDosingMlph);
        Assert.Equal(1024, s.TotalUreaUsedG);
        Assert.Equal(105, s.DpfExhaustTempC);
    }

    [Theory]
    [InlineData("FE" + "FE" + "FEFFFFFF" + "FE" + "FEFFFFFF" + "FEFFFFFF" + "FEFF")]
    [InlineData("FF" + "FF" + "FFFFFFFF" + "FF" + "FFFFFFFF" + "FFFFFFFF" + "FFFF")]
    [InlineData("FB" + "FB" + "FB000000" + "FB" + "FB000000" + "FB000000" + "FB00")]
    public void Decode_SupplementaryInvalidMarkers_AreMissingValues(string body)
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "02" + "0001" + HandFrames.DieselBody() + "80" + "0001" + body);

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out var batch, out _));

        var s = Assert.Single(batch.Samples);
        foreach (var field in SampleFields.Supplementary)
            Assert.True(double.IsNaN(field.Get(s)), field.Name);
    }

    [Fact]
    public void Decode_SupplementaryRecordWithoutDataStream_IsASampleOfItsOwn()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "80" + "0001" + SupplementaryBody);

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out var batch, out _));

        var s = Assert.Single(batch.Samples);
        Assert.Equal(HandFrames.CaptureTimeUtc, s.TimeUtc);
        Assert.Equal(100, s.UreaDosingMlph);
        Assert.True(double.IsNaN(s.SpeedKmh));
        Assert.False(s.PositionValid);
    }

    [Fact]
    public void Decode_HjSupplementaryRecords_JoinBySampleTime()
    {
        var t0 = HandFrames.Time(2021, 8, 14, 8, 47, 30);
        var t1 = HandFrames.Time(2021, 8, 14, 8, 47, 31);
        var frame = HandFrames.Frame(0x02, FrameTime + "0007"
            + "02" + t0 + HandFrames.DieselBody((0, "0F00"))
            + "02" + t1 + HandFrames.DieselBody((0, "1000"))
            + "80" + t1 + SupplementaryBody);

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Hj1239, null, Received, out var batch, out _));

        Assert.Equal(2, batch.Samples.Length);
        Assert.True(double.IsNaN(batch.Samples[0].UreaDosingMlph));
        Assert.Equal(16.0, batch.Samples[1].SpeedKmh);
        Assert.Equal(100, batch.Samples[1].UreaDosingMlph);
    }

    [Fact]
    public void Decode_SupplementaryRecordCutShort_IsBadLength()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "80" + "0001" + SupplementaryBody[..20]);

        Assert.False(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out _, out var rejection));
        Assert.Equal(RejectReason.BadLength, rejection.Reason);
    }

    // ------------------------------------------------------------------ hybrid 0x04, fault-code count 0xFE, placeholders

    [Fact]
    public void Decode_HybridRecord_IsSkippedWithItsBytesKept()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "04" + "0001" + "0102030405060708" + "02" + "0001" + HandFrames.DieselBody((0, "0F00")));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out var batch, out var rejection), rejection.ToString());
        Assert.True(FrameCodec.TryDecode(frame, TerminalProfile.Gb17691, out var full, out _));

        Assert.Equal(15.0, Assert.Single(batch.Samples).SpeedKmh);
        Assert.Equal("0102030405060708", Convert.ToHexString(full.Records[0].Body.AsSpan()));
        Assert.Equal(RecordTypes.Hybrid, full.Records[0].Type);
    }

    [Theory]
    [InlineData("03")]
    [InlineData("05")]
    public void Decode_GasEngineRecords_AreStillUnsupported(string type)
    {
        var frame = HandFrames.Frame(0x02, FrameTime + type + "0001" + "0102030405060708");

        Assert.False(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out _, out var rejection));
        Assert.Equal(RejectReason.UnsupportedRecordType, rejection.Reason);
    }

    private static string ObdBody(string calibrationIdHex, string cvnHex, string countAndCodes) =>
        "02" + "00" + "0C01" + "0000" + Convert.ToHexString(Encoding.ASCII.GetBytes(HandFrames.Vin))
        + calibrationIdHex + cvnHex + new string('0', 72) + countAndCodes;

    [Fact]
    public void Decode_FaultCodeCountInvalid_DecodesWithNoCodesAndSaysSo()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "01" + "0001" + ObdBody(Ascii18("CAL1"), Ascii18("CVN1"), "FE"));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out var batch, out var rejection), rejection.ToString());

        var obd = Assert.Single(batch.Obd);
        Assert.True(obd.DtcCountInvalid);
        Assert.Equal(0, obd.DtcCount);
        Assert.Equal("CAL1", obd.CalibrationId);
    }

    [Fact]
    public void Decode_FaultCodeCountInvalidFollowedByCodes_IsRejected()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "01" + "0001" + ObdBody(Ascii18("CAL1"), Ascii18("CVN1"), "FE" + "145600AF"));

        Assert.False(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out _, out var rejection));
        Assert.Equal(RejectReason.UnsupportedRecordType, rejection.Reason); // the 4 code bytes are read as the next record
    }

    [Theory]
    [InlineData("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")]
    [InlineData("303030303030303030303030303030303030")]
    [InlineData("313131313131313131313131313131313131")]
    [InlineData("202020202020202020202020202020202020")]
    [InlineData("000000000000000000000000000000000000")]
    public void Decode_PlaceholderCalibrationIdAndCvn_AreNotAvailable(string placeholder)
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "01" + "0001" + ObdBody(placeholder, placeholder, "00"));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out var batch, out _));

        var obd = Assert.Single(batch.Obd);
        Assert.Equal("", obd.CalibrationId);
        Assert.Equal("", obd.Cvn);
    }

    [Fact]
    public void Decode_CalibrationIdOfZerosWithText_IsKept()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "01" + "0001" + ObdBody(Ascii18("0000000001"), Ascii18("1111A"), "00"));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, Received, out var batch, out _));

        Assert.Equal("0000000001", batch.Obd[0].CalibrationId);
        Assert.Equal("1111A", batch.Obd[0].Cvn);
    }

    private static string Ascii18(string text) => Convert.ToHexString(Encoding.ASCII.GetBytes(text.PadRight(18, '\0')));

    // ------------------------------------------------------------------ signedRecords layout and signatures

    private static readonly string Zero32 = new('0', 64);

    private static string SignedRecord(string typeAndBody, string? privateKey)
    {
        if (privateKey is null)
            return typeAndBody + "20" + Zero32 + "20" + Zero32;
        var signature = Sm2Signatures.Sign(privateKey, Convert.FromHexString(typeAndBody));
        return typeAndBody + "20" + Convert.ToHexString(signature.R.AsSpan()) + "20" + Convert.ToHexString(signature.S.AsSpan());
    }

    [Fact]
    public void Decode_SignedRecordsWithoutKey_DecodesAndMarksSamplesNotVerified()
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "002A"
            + SignedRecord("02" + HandFrames.DieselBody((0, "0F00")), null)
            + SignedRecord("02" + HandFrames.DieselBody((0, "1000")), null));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.SignedRecords, null, Received, null, out var batch, out var rejection, out var signature), rejection.ToString());

        Assert.Equal(42, batch.Serial);
        Assert.Equal([15.0, 16.0], batch.Samples.Select(s => s.SpeedKmh));
        Assert.Equal([HandFrames.CaptureTimeUtc, HandFrames.CaptureTimeUtc.AddSeconds(1)], batch.Samples.Select(s => s.TimeUtc));
        Assert.All(batch.Samples, s => Assert.Equal(SignatureCheck.NoKey, s.Signature));
        Assert.Equal(new SignatureOutcome(SignatureCheck.NoKey, SignatureFailure.None, 2, 0), signature);
    }

    [Fact]
    public void Decode_SignedRecordsWithTheTerminalKey_AreVerified()
    {
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        var frame = HandFrames.Frame(0x02, FrameTime + "002A"
            + SignedRecord("02" + HandFrames.DieselBody((0, "0F00")), privateKey)
            + SignedRecord("80" + SupplementaryBody, privateKey));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.SignedRecords, null, Received, publicKey, out var batch, out _, out var signature));

        var s = Assert.Single(batch.Samples);
        Assert.Equal(SignatureCheck.Verified, s.Signature);
        Assert.Equal(100, s.UreaDosingMlph);
        Assert.Equal(new SignatureOutcome(SignatureCheck.Verified, SignatureFailure.None, 2, 0), signature);
    }

    [Fact]
    public void Decode_SignedRecordAlteredAfterSigning_FailsAsMismatchButIsKept()
    {
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        var record = SignedRecord("02" + HandFrames.DieselBody((0, "0F00")), privateKey);
        var altered = string.Concat("02", "1000", record.AsSpan(6)); // speed changed after signing
        var frame = HandFrames.Frame(0x02, FrameTime + "002A" + altered);

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.SignedRecords, null, Received, publicKey, out var batch, out _, out var signature));

        Assert.Equal(SignatureCheck.Failed, Assert.Single(batch.Samples).Signature);
        Assert.Equal(SignatureFailure.Mismatch, signature.Failure);
        Assert.Equal(1, signature.Failures);
    }

    [Fact]
    public void Decode_SignedRecordsWithAnotherTerminalsKey_Fail()
    {
        var (privateKey, _) = Sm2Signatures.GenerateKeyPair();
        var (_, otherPublicKey) = Sm2Signatures.GenerateKeyPair();
        var frame = HandFrames.Frame(0x02, FrameTime + "002A" + SignedRecord("02" + HandFrames.DieselBody(), privateKey));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.SignedRecords, null, Received, otherPublicKey, out var batch, out _, out var signature));

        Assert.Equal(SignatureCheck.Failed, batch.Samples[0].Signature);
        Assert.Equal(SignatureFailure.Mismatch, signature.Failure);
    }

    [Theory]
    [InlineData("0000", SignatureFailure.Malformed)]   // placeholder zeros: R = 0 is no signature
    [InlineData("badkey", SignatureFailure.BadKey)]
    public void Decode_SignedRecordsUnusableSignatureOrKey_FailWithTheirReason(string which, SignatureFailure expected)
    {
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        var key = which == "badkey" ? "04" + new string('1', 128) : publicKey;
        var frame = HandFrames.Frame(0x02, FrameTime + "002A" + SignedRecord("02" + HandFrames.DieselBody(), which == "badkey" ? privateKey : null));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.SignedRecords, null, Received, key, out var batch, out _, out var signature));

        Assert.Equal(SignatureCheck.Failed, batch.Samples[0].Signature);
        Assert.Equal(expected, signature.Failure);
        Assert.Equal("badKey", Sm2Signatures.Code(SignatureFailure.BadKey));
    }

    [Theory]
    [InlineData("20")]                          // R length only
    [InlineData("20" + "00")]                   // R cut short
    [InlineData("")]                            // no signature at all
    public void Decode_SignedRecordWithoutWholeSignature_IsBadSignature(string tail)
    {
        var frame = HandFrames.Frame(0x02, FrameTime + "002A" + "02" + HandFrames.DieselBody() + tail);

        Assert.False(FrameCodec.TryDecodeBatch(frame, TerminalProfile.SignedRecords, null, Received, out _, out var rejection));
        Assert.Equal(RejectReason.BadSignature, rejection.Reason);
    }

    [Fact]
    public void Decode_SignedHj1239WithKey_VerifiesTheClosingSignature()
    {
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        var profile = TerminalProfile.Hj1239 with { RequiresSignature = true };
        var sample = Sample.Empty(HandFrames.CaptureTimeUtc) with { SpeedKmh = 15 };
        var bytes = FrameEncoder.Encode(new TelemetryBatch(HandFrames.Vin, FrameKind.RealTime, HandFrames.CaptureTimeUtc, 9, [sample], [], Received), profile, 0x01, privateKey);

        Assert.True(FrameCodec.TryDecodeBatch(bytes, profile, null, Received, publicKey, out var batch, out _, out var signature));
        Assert.Equal(SignatureCheck.Verified, batch.Samples[0].Signature);
        Assert.Equal(1, signature.Signatures);

        bytes[FrameCodec.HeaderLength + 8 + 7] ^= 0x01; // a data byte changed: the check code is fixed, the signature is not
        bytes[^1] ^= 0x01;
        Assert.True(FrameCodec.TryDecodeBatch(bytes, profile, null, Received, publicKey, out batch, out _, out signature));
        Assert.Equal(SignatureCheck.Failed, batch.Samples[0].Signature);
        Assert.Equal(SignatureFailure.Mismatch, signature.Failure);
    }

    // ------------------------------------------------------------------ per-vehicle profile and key from the registry

    [Fact]
    public void DecodeAll_VehicleWithSignedRecordsProfile_IsDecodedSoOnAGbTopic()
    {
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        var frame = HandFrames.Frame(0x02, FrameTime + "002A" + SignedRecord("02" + HandFrames.DieselBody((0, "0F00")), privateKey));
        var vehicle = new VehicleInfo { Vin = HandFrames.Vin, TerminalProfile = "signedRecords", TerminalPublicKey = publicKey };

        Assert.False(Decoder.DecodeAll("gb17691", HandFrames.Vin, frame, Received)[0].Decoded);
        var decoded = Assert.Single(Decoder.DecodeAll("gb17691", HandFrames.Vin, frame, Received, vehicle));

        Assert.True(decoded.Decoded, decoded.Rejection.ToString());
        Assert.Equal(SignatureCheck.Verified, decoded.Batch!.Samples[0].Signature);
        Assert.Equal(1, decoded.Signature.Signatures);
    }

    [Fact]
    public void DecodeAll_VehicleProfileNotConfigured_IsUnknownFormatNamingTheRegistry()
    {
        var vehicle = new VehicleInfo { Vin = HandFrames.Vin, TerminalProfile = "acme" };

        var frame = Assert.Single(Decoder.DecodeAll("gb17691", HandFrames.Vin, Gb(1), Received, vehicle));

        Assert.Equal(RejectReason.UnknownFormat, frame.Rejection.Reason);
        Assert.Contains("registry", frame.Rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeAll_KeyOfAnUnsignedProfile_IsIgnored()
    {
        var (_, publicKey) = Sm2Signatures.GenerateKeyPair();
        var vehicle = new VehicleInfo { Vin = HandFrames.Vin, TerminalPublicKey = publicKey };

        var frame = Assert.Single(Decoder.DecodeAll("gb17691", HandFrames.Vin, Gb(1), Received, vehicle));

        Assert.Equal(SignatureCheck.NotSigned, frame.Batch!.Samples[0].Signature);
        Assert.Equal(0, frame.Signature.Signatures);
    }
}
