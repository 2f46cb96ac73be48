using System.Text;

namespace Telemetry.Protocol.Tests;

/// <summary>Every rejection reason, reached through the ingest facade with hand-made payloads.</summary>
public sealed class RejectionTests
{
    private static readonly DateTime Received = new(2021, 8, 14, 1, 0, 0, DateTimeKind.Utc);
    private static readonly string T0 = HandFrames.Time(2021, 8, 14, 8, 47, 35);
    private readonly PayloadDecoder _decoder = new(new ProtocolOptions());

    private Rejection Reject(byte[] payload, string format = "gb17691", string vin = HandFrames.Vin)
    {
        Assert.False(_decoder.TryDecode(format, vin, payload, Received, out var batch, out var rejection));
        Assert.Null(batch);
        Assert.False(string.IsNullOrWhiteSpace(rejection.Message));
        Assert.EndsWith(".", rejection.Message.TrimEnd(')'), StringComparison.Ordinal);
        return rejection;
    }

    private static byte[] Capture() => HandFrames.Hex(HandFrames.DomainCapture);

    [Fact]
    public void Decode_DomainCaptureThroughTheFacade_IsAccepted()
    {
        Assert.True(_decoder.TryDecode("gb17691", HandFrames.Vin, Capture(), Received, out var batch, out _));
        Assert.Same(HandFrames.Vin, batch.Vin);
    }

    [Theory]
    [InlineData("2424")]
    [InlineData("2300")]
    [InlineData("7E7E")]
    public void Decode_FrameWithBadStart_IsRejected(string start)
    {
        var frame = Capture();
        HandFrames.Hex(start).CopyTo(frame, 0);
        Assert.Equal(RejectReason.BadStart, Reject(frame).Reason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(24)]
    [InlineData(100)]
    [InlineData(197)]
    public void Decode_TruncatedFrame_IsRejected(int length)
    {
        Assert.Equal(RejectReason.Truncated, Reject(Capture()[..length]).Reason);
    }

    [Fact]
    public void Decode_FrameWithBadCheckCode_IsRejected()
    {
        var frame = Capture();
        frame[^1] ^= 0x01;
        Assert.Equal(RejectReason.BadCheckCode, Reject(frame).Reason);
    }

    [Fact]
    public void Decode_FrameWithFlippedDataBit_IsRejectedAsBadCheckCode()
    {
        var frame = Capture();
        frame[100] ^= 0x10;
        Assert.Equal(RejectReason.BadCheckCode, Reject(frame).Reason);
    }

    [Fact]
    public void Decode_FrameWithLengthAboveTheMaximum_IsRejectedAsBadLength()
    {
        var frame = Capture();
        frame[22] = 0xFF;
        frame[23] = 0xFC;
        Assert.Equal(RejectReason.BadLength, Reject(frame).Reason);
    }

    [Fact]
    public void Decode_FrameWhoseLengthClaimsMoreThanArrived_IsRejectedAsTruncated()
    {
        var frame = Capture();
        frame[22] = 0xFF;
        frame[23] = 0xFB;
        Assert.Equal(RejectReason.Truncated, Reject(frame).Reason);
    }

    [Fact]
    public void Decode_FrameFollowedByExtraBytes_IsRejectedAsBadLength()
    {
        Assert.Equal(RejectReason.BadLength, Reject([.. Capture(), 0x00]).Reason);
    }

    [Theory]
    [InlineData("LGDCHA1G8MA12773I")]
    [InlineData("LGDCHA1G8MA12773O")]
    [InlineData("LGDCHA1G8MA12773Q")]
    [InlineData("lgdcha1g8ma127733")]
    [InlineData("LGDCHA1G8MA1277 3")]
    public void Decode_FrameWithBadVin_IsRejected(string vin)
    {
        Assert.Equal(RejectReason.BadVin, Reject(HandFrames.Frame(0x04, T0 + "0001", vin: vin), vin: vin).Reason);
    }

    [Fact]
    public void Decode_FrameWithForeignVinInTopic_IsRejectedAsVinMismatch()
    {
        Assert.Equal(RejectReason.VinMismatch, Reject(Capture(), vin: "LGDCHA1G8MA127734").Reason);
    }

    [Theory]
    [InlineData(0x00)]
    [InlineData(0x07)]
    [InlineData(0x08)]
    [InlineData(0x09)]
    [InlineData(0x80)]
    [InlineData(0xFE)]
    [InlineData(0xFF)]
    public void Decode_UnsupportedCommand_IsRejected(byte command)
    {
        Assert.Equal(RejectReason.UnsupportedCommand, Reject(HandFrames.Frame(command, T0 + "0001")).Reason);
    }

    [Theory]
    [InlineData(0x02)]
    [InlineData(0x03)]
    [InlineData(0xFE)]
    [InlineData(0xFF)]
    [InlineData(0x00)]
    public void Decode_EncryptedOrFlaggedDataUnit_IsRejectedAsUnsupportedEncryption(byte encryption)
    {
        Assert.Equal(RejectReason.UnsupportedEncryption, Reject(HandFrames.Frame(0x02, T0 + "020001" + HandFrames.DieselBody(), encryption: encryption)).Reason);
    }

    [Fact]
    public void Decode_UnsupportedRecordType_IsRejected()
    {
        Assert.Equal(RejectReason.UnsupportedRecordType, Reject(HandFrames.Frame(0x02, T0 + "030001" + HandFrames.DieselBody())).Reason);
    }

    [Theory]
    [InlineData("150D0E082F23")]
    [InlineData("15000E082F23")]
    [InlineData("15080008 2F23")]
    [InlineData("15021E082F23")]
    [InlineData("15080E182F23")]
    [InlineData("15080E083C23")]
    [InlineData("15080E082F3C")]
    public void Decode_FrameTimeThatIsNoCalendarTime_IsRejectedAsTimeOutOfRange(string time)
    {
        Assert.Equal(RejectReason.TimeOutOfRange, Reject(HandFrames.Frame(0x04, time + "0001")).Reason);
    }

    [Fact]
    public void Decode_FrameFarInTheFuture_IsRejectedAsTimeOutOfRange()
    {
        var frame = HandFrames.Frame(0x04, HandFrames.Time(2021, 8, 16, 8, 47, 35) + "0001");
        Assert.Equal(RejectReason.TimeOutOfRange, Reject(frame).Reason);
    }

    [Fact]
    public void Decode_FrameSlightlyInTheFuture_IsAcceptedSoThatClockSkewStaysVisible()
    {
        var frame = HandFrames.Frame(0x04, HandFrames.Time(2021, 8, 14, 12, 0, 0) + "0001");
        Assert.True(_decoder.TryDecode("gb17691", HandFrames.Vin, frame, Received, out _, out _));
    }

    [Fact]
    public void Decode_ObdWithTooManyFaultCodes_IsRejectedAsBadField()
    {
        var body = "02" + "00" + "0000" + "0000" + new string('0', 2 * (17 + 18 + 18 + 36)) + "FD";
        Assert.Equal(RejectReason.BadField, Reject(HandFrames.Frame(0x02, T0 + "010001" + body)).Reason);
    }

    [Fact]
    public void Decode_SignedProfileWithoutSignature_IsRejectedAsBadSignature()
    {
        var options = new ProtocolOptions();
        options.Profiles["hj1239s"] = new TerminalProfileOptions { Layout = DataLayout.Hj1239, RequiresSignature = true };
        var decoder = new PayloadDecoder(options);
        var frame = HandFrames.Frame(0x02, T0 + "0001" + "02" + T0 + HandFrames.DieselBody());

        Assert.False(decoder.TryDecode("hj1239s", HandFrames.Vin, frame, Received, out _, out var rejection));
        Assert.Equal(RejectReason.BadSignature, rejection.Reason);
    }

    [Fact]
    public void Decode_UnknownFormat_IsRejected()
    {
        Assert.Equal(RejectReason.UnknownFormat, Reject(Capture(), format: "jt808").Reason);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{\"vin\":\"LGDCHA1G8MA127733\",\"command\":\"realtime\",\"time\":\"2021-08-14T00:47:35Z\"} {}")]
    [InlineData("{\"vin\":17,\"command\":\"realtime\",\"time\":\"2021-08-14T00:47:35Z\"}")]
    [InlineData("{\"vin\":\"LGDCHA1G8MA127733\",\"command\":\"realtime\"}")]
    public void Decode_BadJson_IsRejected(string json)
    {
        Assert.Equal(RejectReason.BadJson, Reject(Encoding.UTF8.GetBytes(json), format: "json").Reason);
    }

    [Fact]
    public void Decode_JsonWithAbsurdValue_IsRejectedAsValueOutOfRange()
    {
        var json = """{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2021-08-14T00:47:35Z","samples":[{"time":"2021-08-14T00:47:35Z","speedKmh":300}]}""";
        Assert.Equal(RejectReason.ValueOutOfRange, Reject(Encoding.UTF8.GetBytes(json), format: "json").Reason);
    }

    [Fact]
    public void Decode_JsonWithTooManySamples_IsRejected()
    {
        var samples = string.Join(",", Enumerable.Repeat("""{"time":"2021-08-14T00:47:35Z"}""", 601));
        var json = $$"""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2021-08-14T00:47:35Z","samples":[{{samples}}]}""";
        Assert.Equal(RejectReason.TooManySamples, Reject(Encoding.UTF8.GetBytes(json), format: "json").Reason);
    }

    [Fact]
    public void Decode_JsonWithForeignVinInTopic_IsRejectedAsVinMismatch()
    {
        var json = """{"vin":"LGDCHA1G8MA127733","command":"logout","time":"2021-08-14T00:47:35Z"}""";
        Assert.Equal(RejectReason.VinMismatch, Reject(Encoding.UTF8.GetBytes(json), format: "json", vin: "LGDCHA1G8MA127734").Reason);
    }

    [Fact]
    public void Decode_JsonLargerThanTheLimit_IsRejectedAsBadLength()
    {
        var decoder = new PayloadDecoder(new ProtocolOptions { MaxJsonBytes = 256 });
        Assert.False(decoder.TryDecode("json", HandFrames.Vin, new byte[257], Received, out _, out var rejection));
        Assert.Equal(RejectReason.BadLength, rejection.Reason);
    }

    [Fact]
    public void RejectionCodes_AreDistinctCamelCaseWords()
    {
        var codes = Enum.GetValues<RejectReason>().Select(Rejection.ReasonCode).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, c => Assert.Matches("^[a-z][A-Za-z]+$", c));
        Assert.DoesNotContain("unknown", codes);
    }
}
