using System.Collections.Frozen;
using System.Text;
using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

/// <summary>Every command and both data-unit layouts, from hand-made frames.</summary>
public sealed class CommandAndLayoutTests
{
    private static readonly string T0 = HandFrames.Time(2021, 8, 14, 8, 47, 35);
    private static readonly DateTime Received = new(2021, 8, 14, 0, 50, 0, DateTimeKind.Utc);

    private static TelemetryBatch Decode(byte[] frame, TerminalProfile? profile = null)
    {
        Assert.True(FrameCodec.TryDecodeBatch(frame, profile ?? TerminalProfile.Gb17691, HandFrames.Vin, Received, out var batch, out var rejection), rejection.ToString());
        return batch;
    }

    private static Rejection Reject(byte[] frame, TerminalProfile? profile = null)
    {
        Assert.False(FrameCodec.TryDecodeBatch(frame, profile ?? TerminalProfile.Gb17691, HandFrames.Vin, Received, out var batch, out var rejection));
        Assert.Null(batch);
        return rejection;
    }

    [Fact]
    public void Decode_Login_YieldsTimeSerialAndIccid()
    {
        var iccid = Convert.ToHexString(Encoding.ASCII.GetBytes("89860012345678901234"));
        var batch = Decode(HandFrames.Frame(0x01, T0 + "0005" + iccid));

        Assert.Equal(FrameKind.Login, batch.Kind);
        Assert.Equal(HandFrames.CaptureTimeUtc, batch.FrameTimeUtc);
        Assert.Equal(5, batch.Serial);
        Assert.Equal("89860012345678901234", batch.Iccid);
        Assert.Empty(batch.Samples);
    }

    [Fact]
    public void Decode_Logout_YieldsTimeAndSerial()
    {
        var batch = Decode(HandFrames.Frame(0x04, T0 + "0102"));

        Assert.Equal(FrameKind.Logout, batch.Kind);
        Assert.Equal(HandFrames.CaptureTimeUtc, batch.FrameTimeUtc);
        Assert.Equal(0x0102, batch.Serial);
    }

    [Fact]
    public void Decode_TimeCalibration_TakesTheReceiveTime()
    {
        var batch = Decode(HandFrames.Frame(0x05, ""));

        Assert.Equal(FrameKind.TimeSync, batch.Kind);
        Assert.Equal(Received, batch.FrameTimeUtc);
        Assert.Equal(Received, batch.ReceivedUtc);
    }

    [Fact]
    public void Decode_RemovalAlarm_YieldsSignedPosition()
    {
        var batch = Decode(HandFrames.Frame(0x06, T0 + "0007" + "06" + "06AFD317" + "01EA55FE"));

        Assert.Equal(FrameKind.RemovalAlarm, batch.Kind);
        Assert.Equal(7, batch.Serial);
        Assert.Equal(new GeoFix(-112.186135, -32.134654, true), batch.AlarmPosition);
    }

    [Fact]
    public void Decode_RemovalAlarmWithInvalidFix_KeepsCoordinatesAndInvalidFlag()
    {
        var batch = Decode(HandFrames.Frame(0x06, T0 + "0007" + "01" + "06AFD317" + "01EA55FE"));
        Assert.Equal(new GeoFix(112.186135, 32.134654, false), batch.AlarmPosition);
    }

    [Fact]
    public void Decode_Reissue_IsMarkedAsReissue()
    {
        var batch = Decode(HandFrames.Frame(0x03, T0 + "02" + "0001" + HandFrames.DieselBody()));

        Assert.Equal(FrameKind.Reissue, batch.Kind);
        Assert.True(batch.IsReissue);
        Assert.Single(batch.Samples);
    }

    [Fact]
    public void Decode_GbFrameWithSeveralDataStreams_SpacesSamplesOneSecondApart()
    {
        var records = string.Concat(Enumerable.Range(0, 3).Select(k => "02" + $"{k + 40:X4}" + HandFrames.DieselBody((0, $"{k + 1:X2}00"))));
        var batch = Decode(HandFrames.Frame(0x02, T0 + records));

        Assert.Equal(40, batch.Serial);
        Assert.Equal(3, batch.Samples.Length);
        for (var k = 0; k < 3; k++)
        {
            Assert.Equal(HandFrames.CaptureTimeUtc.AddSeconds(k), batch.Samples[k].TimeUtc);
            Assert.Equal(k + 1, batch.Samples[k].SpeedKmh);
        }
    }

    [Fact]
    public void Decode_GbFrameWithoutRecords_YieldsAnEmptyBatch()
    {
        var batch = Decode(HandFrames.Frame(0x02, T0));

        Assert.Empty(batch.Samples);
        Assert.Empty(batch.Obd);
        Assert.Equal(0, batch.Serial);
    }

    [Fact]
    public void Decode_Hj1239FrameWithTenRecords_UsesEachRecordsTimeAndTheFrameSerial()
    {
        var records = string.Concat(Enumerable.Range(0, 10).Select(k => "02" + HandFrames.Time(2021, 8, 14, 8, 47, 25 + k) + HandFrames.DieselBody((22, $"{100 + k:X2}"))));
        var batch = Decode(HandFrames.Frame(0x02, T0 + "0007" + records), TerminalProfile.Hj1239);

        Assert.Equal(7, batch.Serial);
        Assert.Equal(HandFrames.CaptureTimeUtc, batch.FrameTimeUtc);
        Assert.Equal(10, batch.Samples.Length);
        for (var k = 0; k < 10; k++)
        {
            Assert.Equal(HandFrames.CaptureTimeUtc.AddSeconds(k - 10), batch.Samples[k].TimeUtc);
            Assert.Equal(100 + k - 40, batch.Samples[k].CoolantTempC);
        }
    }

    [Fact]
    public void Decode_Hj1239ObdRecord_UsesItsOwnTime()
    {
        var obdBody = "02" + "00" + "0000" + "0000" + new string('0', 2 * (17 + 18 + 18 + 36)) + "00";
        var batch = Decode(HandFrames.Frame(0x02, T0 + "0001" + "01" + HandFrames.Time(2021, 8, 14, 8, 40, 0) + obdBody), TerminalProfile.Hj1239);

        var obd = Assert.Single(batch.Obd);
        Assert.Equal(new DateTime(2021, 8, 14, 0, 40, 0, DateTimeKind.Utc), obd.TimeUtc);
    }

    [Fact]
    public void Decode_Hj1239RecordWithBadTime_IsRejectedAsTimeOutOfRange()
    {
        var records = "02" + "150D0E082F23" + HandFrames.DieselBody();
        Assert.Equal(RejectReason.TimeOutOfRange, Reject(HandFrames.Frame(0x02, T0 + "0001" + records), TerminalProfile.Hj1239).Reason);
    }

    [Fact]
    public void Decode_SignedHj1239Frame_KeepsTheSignature()
    {
        var r = string.Concat(Enumerable.Repeat("AB", 32));
        var s = string.Concat(Enumerable.Repeat("CD", 32));
        var data = T0 + "0001" + "02" + T0 + HandFrames.DieselBody() + "20" + r + "20" + s;
        var signed = TerminalProfile.Hj1239 with { RequiresSignature = true };

        Assert.True(FrameCodec.TryDecode(HandFrames.Frame(0x02, data), signed, out var frame, out var rejection), rejection.ToString());

        Assert.NotNull(frame.Signature);
        Assert.Equal(Enumerable.Repeat((byte)0xAB, 32), frame.Signature.R);
        Assert.Equal(Enumerable.Repeat((byte)0xCD, 32), frame.Signature.S);
        Assert.Single(frame.Records);
        Assert.Single(Decode(HandFrames.Frame(0x02, data), signed).Samples);
    }

    [Fact]
    public void Decode_SignedFrameWithUnsignedProfile_IsRejected()
    {
        var data = T0 + "0001" + "02" + T0 + HandFrames.DieselBody() + "20" + new string('A', 64) + "20" + new string('C', 64);
        Assert.Equal(RejectReason.UnsupportedRecordType, Reject(HandFrames.Frame(0x02, data), TerminalProfile.Hj1239).Reason);
    }

    [Fact]
    public void Decode_UnsignedFrameWithSignedProfile_IsRejectedAsBadSignature()
    {
        var data = T0 + "0001" + "02" + T0 + HandFrames.DieselBody();
        Assert.Equal(RejectReason.BadSignature, Reject(HandFrames.Frame(0x02, data), TerminalProfile.Hj1239 with { RequiresSignature = true }).Reason);
    }

    [Fact]
    public void Decode_SignatureWithLyingLength_IsRejectedAsBadSignature()
    {
        var data = T0 + "0001" + "02" + T0 + HandFrames.DieselBody() + "20" + new string('A', 64) + "21" + new string('C', 64);
        Assert.Equal(RejectReason.BadSignature, Reject(HandFrames.Frame(0x02, data), TerminalProfile.Hj1239 with { RequiresSignature = true }).Reason);
    }

    [Fact]
    public void Decode_BcdProfile_ReadsBcdTime()
    {
        var bcd = TerminalProfile.Gb17691 with { TimeEncoding = FrameTimeEncoding.Bcd };
        var batch = Decode(HandFrames.Frame(0x04, "210814084735" + "0001"), bcd);
        Assert.Equal(HandFrames.CaptureTimeUtc, batch.FrameTimeUtc);
    }

    [Theory]
    [InlineData("2108140847 3A")]
    [InlineData("2113140847 35")]
    [InlineData("21081A0847 35")]
    [InlineData("2102300847 35")]
    public void Decode_BcdProfileWithBadDigits_IsRejectedAsTimeOutOfRange(string time)
    {
        var bcd = TerminalProfile.Gb17691 with { TimeEncoding = FrameTimeEncoding.Bcd };
        Assert.Equal(RejectReason.TimeOutOfRange, Reject(HandFrames.Frame(0x04, time + "0001"), bcd).Reason);
    }

    [Fact]
    public void Decode_UtcProfile_ReadsTimeAsUtc()
    {
        var utc = TerminalProfile.Gb17691 with { TimeZone = FrameTimeZone.Utc };
        var batch = Decode(HandFrames.Frame(0x04, T0 + "0001"), utc);
        Assert.Equal(new DateTime(2021, 8, 14, 8, 47, 35, DateTimeKind.Utc), batch.FrameTimeUtc);
    }

    [Fact]
    public void Decode_ChinaTimeJustAfterMidnight_BecomesThePreviousUtcDay()
    {
        var batch = Decode(HandFrames.Frame(0x04, HandFrames.Time(2024, 3, 1, 2, 0, 0) + "0001"));
        Assert.Equal(new DateTime(2024, 2, 29, 18, 0, 0, DateTimeKind.Utc), batch.FrameTimeUtc);
    }

    [Fact]
    public void Decode_TildeStart_IsAcceptedOnlyWhenConfigured()
    {
        var frame = HandFrames.Frame(0x04, T0 + "0001", start: "7E7E");

        Assert.Equal(RejectReason.BadStart, Reject(frame).Reason);
        Assert.Equal(FrameKind.Logout, Decode(frame, TerminalProfile.Gb17691 with { AcceptTildeStart = true }).Kind);
    }

    [Fact]
    public void Decode_ConfiguredSupplementaryRecord_IsSkippedInTheBatchAndKeptInTheFrame()
    {
        var profile = TerminalProfile.Gb17691 with { SupplementaryRecordLengths = new Dictionary<byte, int> { [0x80] = 4 }.ToFrozenDictionary() };
        var data = T0 + "80" + "0001" + "DEADBEEF" + "02" + "0001" + HandFrames.DieselBody();

        var batch = Decode(HandFrames.Frame(0x02, data), profile);
        Assert.True(FrameCodec.TryDecode(HandFrames.Frame(0x02, data), profile, out var frame, out _));

        Assert.Single(batch.Samples);
        Assert.Equal(2, frame.Records.Length);
        Assert.Equal(0x80, frame.Records[0].Type);
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF }, frame.Records[0].Body);
    }

    [Theory]
    [InlineData("03")]
    [InlineData("04")]
    [InlineData("05")]
    [InlineData("80")]
    [InlineData("FE")]
    [InlineData("00")]
    [InlineData("7F")]
    public void Decode_UnsupportedRecordType_IsRejected(string type)
    {
        var data = T0 + type + "0001" + HandFrames.DieselBody();
        Assert.Equal(RejectReason.UnsupportedRecordType, Reject(HandFrames.Frame(0x02, data)).Reason);
    }

    [Fact]
    public void Decode_DataStreamCutShort_IsRejectedAsBadLength()
    {
        var data = T0 + "02" + "0001" + HandFrames.DieselBody()[..^2];
        Assert.Equal(RejectReason.BadLength, Reject(HandFrames.Frame(0x02, data)).Reason);
    }

    [Theory]
    [InlineData(0x01, 27)]
    [InlineData(0x01, 29)]
    [InlineData(0x04, 7)]
    [InlineData(0x04, 9)]
    [InlineData(0x05, 1)]
    [InlineData(0x06, 16)]
    [InlineData(0x02, 5)]
    public void Decode_DataUnitOfWrongSizeForItsCommand_IsRejectedAsBadLength(byte command, int length)
    {
        var data = (T0 + "0001" + new string('3', 80))[..(2 * length)];
        Assert.Equal(RejectReason.BadLength, Reject(HandFrames.Frame(command, data)).Reason);
    }

    [Fact]
    public void Decode_SoftwareVersionAndEncryption_AreKeptInTheFrame()
    {
        Assert.True(FrameCodec.TryDecode(HandFrames.Frame(0x04, T0 + "0001", version: 0x11), TerminalProfile.Gb17691, out var frame, out _));
        Assert.Equal(0x11, frame.SoftwareVersion);
        Assert.Equal(FrameEncryption.None, frame.Encryption);
        Assert.Equal(HandFrames.Vin, frame.Vin);
    }
}
