using System.Text;

namespace Telemetry.Protocol.Tests;

/// <summary>The OBD record (type 0x01) decoded from hand-made frames.</summary>
public sealed class ObdRecordTests
{
    private static string ObdBody(string protocol = "02", string mil = "01", string support = "0C01", string readiness = "0400",
        string vin = HandFrames.Vin, string calibration = "CAL-123", string cvnHex = "", string iupr = "", params string[] dtcs)
    {
        static string Text(string text, int length) =>
            Convert.ToHexString(Encoding.ASCII.GetBytes(text)).PadRight(length * 2, '0');
        var cvn = cvnHex.Length > 0 ? cvnHex.PadRight(36, '0') : Text("CVN-9", 18);
        return protocol + mil + support + readiness + Text(vin, 17) + Text(calibration, 18) + cvn
            + (iupr.Length > 0 ? iupr : new string('0', 72))
            + dtcs.Length.ToString("X2", System.Globalization.CultureInfo.InvariantCulture) + string.Concat(dtcs);
    }

    private static byte[] GbObdFrame(string body) =>
        HandFrames.Frame(0x02, HandFrames.Time(2021, 8, 14, 8, 47, 35) + "01" + "0009" + body);

    [Fact]
    public void Decode_ObdRecord_YieldsEveryField()
    {
        var iupr = string.Concat(Enumerable.Range(1, 36).Select(i => i.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
        var frame = GbObdFrame(ObdBody(iupr: iupr, dtcs: ["00000001", "FFFFFFFF"]));

        Assert.True(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, HandFrames.Vin, DateTime.UtcNow, out var batch, out var rejection), rejection.ToString());

        var obd = Assert.Single(batch.Obd);
        Assert.Empty(batch.Samples);
        Assert.Equal(9, batch.Serial);
        Assert.Equal(HandFrames.CaptureTimeUtc, obd.TimeUtc);
        Assert.Equal((byte)2, obd.ObdProtocol);
        Assert.True(obd.MilOn);
        Assert.Equal(0x0C01, obd.DiagnosticSupport);
        Assert.Equal(0x0400, obd.DiagnosticReadiness);
        Assert.Equal(HandFrames.Vin, obd.Vin);
        Assert.Equal("CAL-123", obd.CalibrationId);
        Assert.Equal("CVN-9", obd.Cvn);
        Assert.Equal(Enumerable.Range(1, 36).Select(i => (byte)i), obd.Iupr);
        Assert.Equal([1u, 0xFFFFFFFFu], obd.Dtcs.ToArray());
    }

    [Theory]
    [InlineData("00", (byte)0)]
    [InlineData("01", (byte)1)]
    [InlineData("02", (byte)2)]
    [InlineData("FE", null)]
    [InlineData("FF", null)]
    public void Decode_ObdProtocolByte_YieldsProtocolOrNull(string raw, byte? expected)
    {
        var obd = DecodeObd(ObdBody(protocol: raw));
        Assert.Equal(expected, obd.ObdProtocol);
    }

    [Theory]
    [InlineData("00", false)]
    [InlineData("01", true)]
    [InlineData("FE", null)]
    [InlineData("02", null)]
    public void Decode_MilByte_YieldsLampOrNull(string raw, bool? expected)
    {
        var obd = DecodeObd(ObdBody(mil: raw));
        Assert.Equal(expected, obd.MilOn);
    }

    [Fact]
    public void Decode_BinaryCvn_IsHexWithPrefix()
    {
        var obd = DecodeObd(ObdBody(cvnHex: "EC40A1BF"));
        Assert.Equal("0xEC40A1BF", obd.Cvn);
    }

    [Fact]
    public void Decode_ObdWith252FaultCodes_IsAccepted()
    {
        var obd = DecodeObd(ObdBody(dtcs: [.. Enumerable.Repeat("0000ABCD", 252)]));
        Assert.Equal(252, obd.DtcCount);
        Assert.All(obd.Dtcs, d => Assert.Equal(0xABCDu, d));
    }

    [Fact]
    public void Decode_ObdDeclaring253FaultCodes_IsRejectedAsBadField()
    {
        var frame = GbObdFrame(ObdBody(dtcs: [.. Enumerable.Repeat("0000ABCD", 253)]));

        Assert.False(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, DateTime.UtcNow, out _, out var rejection));
        Assert.Equal(RejectReason.BadField, rejection.Reason);
    }

    [Fact]
    public void Decode_ObdWhoseFaultCodesRunPastTheDataUnit_IsRejectedAsBadLength()
    {
        // Declares 3 fault codes, carries 2.
        var body = ObdBody(dtcs: ["00000001", "00000002"]);
        body = body[..^18] + "03" + body[^16..];
        var frame = GbObdFrame(body);

        Assert.False(FrameCodec.TryDecodeBatch(frame, TerminalProfile.Gb17691, null, DateTime.UtcNow, out _, out var rejection));
        Assert.Equal(RejectReason.BadLength, rejection.Reason);
    }

    private static Telemetry.Abstractions.ObdSnapshot DecodeObd(string body)
    {
        Assert.True(FrameCodec.TryDecodeBatch(GbObdFrame(body), TerminalProfile.Gb17691, null, DateTime.UtcNow, out var batch, out var rejection), rejection.ToString());
        return Assert.Single(batch.Obd);
    }
}
