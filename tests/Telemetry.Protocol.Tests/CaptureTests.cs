using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

public sealed class CaptureTests
{
    [Fact]
    public void Decode_DomainCapture_YieldsTheDocumentedValues()
    {
        var bytes = HandFrames.Hex(HandFrames.DomainCapture);

        Assert.True(FrameCodec.TryDecodeBatch(bytes, TerminalProfile.Gb17691, HandFrames.Vin, DateTime.UtcNow, out var batch, out var rejection), rejection.ToString());

        Assert.Equal(HandFrames.Vin, batch.Vin);
        Assert.Equal(FrameKind.RealTime, batch.Kind);
        Assert.Equal(HandFrames.CaptureTimeUtc, batch.FrameTimeUtc);
        Assert.Equal(DateTimeKind.Utc, batch.FrameTimeUtc.Kind);
        Assert.Equal(1, batch.Serial);

        var sample = Assert.Single(batch.Samples);
        Assert.Equal(HandFrames.CaptureTimeUtc, sample.TimeUtc);
        Assert.Equal(98.5, sample.BarometricPressureKpa);
        Assert.Equal(21, sample.CoolantTempC);
        Assert.Equal(38.8, sample.ReagentLevelPercent);
        Assert.True(double.IsNaN(sample.ScrInletTempC));
        Assert.True(double.IsNaN(sample.ScrOutletTempC));
        Assert.True(double.IsNaN(sample.DpfPressureDropKpa));
        Assert.Equal(112.186135, sample.Longitude);
        Assert.Equal(32.134654, sample.Latitude);
        Assert.Equal(4.0, sample.OdometerKm);
        Assert.Equal(0, sample.SpeedKmh);
        Assert.Equal(0, sample.EngineTorquePercent);
        Assert.Equal(6, sample.FrictionTorquePercent);
        Assert.Equal(-200, sample.NoxUpstreamPpm);
        Assert.Equal(-200, sample.NoxDownstreamPpm);
        Assert.True(sample.PositionValid);

        var obd = Assert.Single(batch.Obd);
        Assert.Equal(HandFrames.CaptureTimeUtc, obd.TimeUtc);
        Assert.Equal((byte)1, obd.ObdProtocol);
        Assert.False(obd.MilOn);
        Assert.Equal(0xABDE, obd.DiagnosticSupport);
        Assert.Equal(0xA9D6, obd.DiagnosticReadiness);
        Assert.Equal(HandFrames.Vin, obd.Vin);
        Assert.Equal("YCY30165-60", obd.CalibrationId);
        Assert.Equal("0xEC40A1BF", obd.Cvn);
        Assert.Equal(36, obd.Iupr.Length);
        Assert.Equal(7, obd.DtcCount);
        Assert.Equal([0x145600AFu, 0xE00200AF, 0xE06200AF, 0xE00900AF, 0x204700AF, 0x245500AF, 0xE01200AF], obd.Dtcs.ToArray());
    }

    [Fact]
    public void Decode_DomainCaptureAsFrame_KeepsHeaderAndRecordSerials()
    {
        Assert.True(FrameCodec.TryDecode(HandFrames.Hex(HandFrames.DomainCapture), TerminalProfile.Gb17691, out var frame, out var rejection), rejection.ToString());

        Assert.Equal(FrameKind.RealTime, frame.Command);
        Assert.Equal(0x01, frame.SoftwareVersion);
        Assert.Equal(FrameEncryption.None, frame.Encryption);
        Assert.Equal(2, frame.Records.Length);
        Assert.Equal(RecordTypes.Obd, frame.Records[0].Type);
        Assert.Equal(RecordTypes.DieselStream, frame.Records[1].Type);
        Assert.All(frame.Records, r => Assert.Equal(1, r.Serial));
        Assert.Null(frame.Signature);
    }
}
