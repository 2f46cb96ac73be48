using System.Text;
using System.Text.Json;
using Telemetry.Abstractions;

namespace Telemetry.Protocol.Tests;

public sealed class JsonFormatTests
{
    private static readonly DateTime Received = new(2026, 11, 28, 10, 0, 5, DateTimeKind.Utc);

    private const string Example = """
        {"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T18:00:00+08:00","serial":12,
         "samples":[
           {"time":"2026-11-28T10:00:00Z","speedKmh":62.5,"engineSpeedRpm":1450,"noxDownstreamPpm":null,
            "positionValid":true,"longitude":-117.123456,"latitude":36.654321,"odometerKm":12345.6,"futureField":"ignored"},
           {"time":"2026-11-28T10:00:01.500Z","coolantTempC":85}
         ],
         "obd":{"obdProtocol":2,"milOn":true,"diagnosticSupport":3073,"calibrationId":"CAL1","cvn":"0xEC40A1BF","dtcs":["145600AF",255]},
         "extra":{"nested":[1,2,3]}}
        """;

    private static TelemetryBatch Decode(string json)
    {
        Assert.True(JsonFrameFormat.TryDecode(Encoding.UTF8.GetBytes(json), Received, 600, out var batch, out var rejection), rejection.ToString());
        return batch;
    }

    private static Rejection Reject(string json)
    {
        Assert.False(JsonFrameFormat.TryDecode(Encoding.UTF8.GetBytes(json), Received, 600, out var batch, out var rejection));
        Assert.Null(batch);
        return rejection;
    }

    [Fact]
    public void Decode_DocumentedExample_YieldsTheBatch()
    {
        var batch = Decode(Example);

        Assert.Equal("LGDCHA1G8MA127733", batch.Vin);
        Assert.Equal(FrameKind.RealTime, batch.Kind);
        Assert.Equal(new DateTime(2026, 11, 28, 10, 0, 0, DateTimeKind.Utc), batch.FrameTimeUtc);
        Assert.Equal(DateTimeKind.Utc, batch.FrameTimeUtc.Kind);
        Assert.Equal(12, batch.Serial);
        Assert.Equal(Received, batch.ReceivedUtc);
        Assert.Equal(2, batch.Samples.Length);
        var first = batch.Samples[0];
        Assert.Equal(62.5, first.SpeedKmh);
        Assert.Equal(1450, first.EngineSpeedRpm);
        Assert.True(double.IsNaN(first.NoxDownstreamPpm));
        Assert.True(double.IsNaN(first.CoolantTempC));
        Assert.Equal(-117.123456, first.Longitude);
        Assert.Equal(0x04, first.PositionStatus);
        Assert.True(first.PositionValid);
        var second = batch.Samples[1];
        Assert.Equal(new DateTime(2026, 11, 28, 10, 0, 1, 500, DateTimeKind.Utc), second.TimeUtc);
        Assert.Equal(85, second.CoolantTempC);
        Assert.False(second.PositionValid);
        var obd = Assert.Single(batch.Obd);
        Assert.Equal(batch.FrameTimeUtc, obd.TimeUtc);
        Assert.True(obd.MilOn);
        Assert.Equal((byte)2, obd.ObdProtocol);
        Assert.Equal(3073, obd.DiagnosticSupport);
        Assert.Equal("0xEC40A1BF", obd.Cvn);
        Assert.Equal([0x145600AFu, 255u], obd.Dtcs.ToArray());
    }

    [Fact]
    public void Decode_ObdAsArray_YieldsEverySnapshot()
    {
        var batch = Decode("""{"vin":"LGDCHA1G8MA127733","command":"reissue","time":"2026-11-28T10:00:00Z","obd":[{"milOn":false},{"milOn":null,"time":"2026-11-28T09:00:00Z"}]}""");

        Assert.Equal(FrameKind.Reissue, batch.Kind);
        Assert.Equal(2, batch.Obd.Length);
        Assert.False(batch.Obd[0].MilOn);
        Assert.Null(batch.Obd[1].MilOn);
        Assert.Equal(new DateTime(2026, 11, 28, 9, 0, 0, DateTimeKind.Utc), batch.Obd[1].TimeUtc);
    }

    [Theory]
    [InlineData("login", FrameKind.Login)]
    [InlineData("logout", FrameKind.Logout)]
    [InlineData("timeSync", FrameKind.TimeSync)]
    [InlineData("removalAlarm", FrameKind.RemovalAlarm)]
    public void Decode_EveryCommandName_IsRecognised(string command, FrameKind kind)
    {
        Assert.Equal(kind, Decode($$"""{"vin":"LGDCHA1G8MA127733","command":"{{command}}","time":"2026-11-28T10:00:00Z"}""").Kind);
    }

    [Fact]
    public void Decode_LoginAndAlarm_KeepIccidAndPosition()
    {
        Assert.Equal("8986001234", Decode("""{"vin":"LGDCHA1G8MA127733","command":"login","time":"2026-11-28T10:00:00Z","iccid":"8986001234"}""").Iccid);
        Assert.Equal(new GeoFix(117.5, -36.25, true),
            Decode("""{"vin":"LGDCHA1G8MA127733","command":"removalAlarm","time":"2026-11-28T10:00:00Z","position":{"longitude":117.5,"latitude":-36.25,"valid":true}}""").AlarmPosition);
    }

    [Theory]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","samples":[{"time":"2026-11-28T10:00:00Z","speedKmh":"fast"}]}""", "samples[0].speedKmh")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","serial":"12"}""", "serial")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","serial":1.5}""", "serial")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":1764324000}""", "time")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","samples":{}}""", "samples")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","obd":{"milOn":1}}""", "obd.milOn")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","obd":{"dtcs":["XYZ"]}}""", "obd.dtcs[0]")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","samples":[{"time":"2026-11-28T10:00:00Z","positionValid":"yes"}]}""", "samples[0].positionValid")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00"}""", "time")]
    [InlineData("""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","samples":[{"speedKmh":1}]}""", "samples[0].time")]
    public void Decode_WrongType_IsRejectedNamingTheField(string json, string field)
    {
        var rejection = Reject(json);
        Assert.Equal(RejectReason.BadJson, rejection.Reason);
        Assert.Contains(field, rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("speedKmh", "251")]
    [InlineData("speedKmh", "-0.1")]
    [InlineData("engineTorquePercent", "-126")]
    [InlineData("noxDownstreamPpm", "-201")]
    [InlineData("noxDownstreamPpm", "3013")]
    [InlineData("reagentLevelPercent", "100.5")]
    [InlineData("scrInletTempC", "-274")]
    [InlineData("coolantTempC", "211")]
    [InlineData("longitude", "180.5")]
    [InlineData("longitude", "-181")]
    [InlineData("latitude", "91")]
    [InlineData("odometerKm", "1000000")]
    [InlineData("engineSpeedRpm", "1e400")]
    public void Decode_AbsurdValue_IsRejectedNamingTheField(string field, string value)
    {
        var rejection = Reject($$"""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","samples":[{"time":"2026-11-28T10:00:00Z","{{field}}":{{value}}}]}""");
        Assert.Equal(RejectReason.ValueOutOfRange, rejection.Reason);
        Assert.Contains($"samples[0].{field}", rejection.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("speedKmh", 250.99609375)]
    [InlineData("engineTorquePercent", -125)]
    [InlineData("noxDownstreamPpm", -200)]
    [InlineData("longitude", -180)]
    [InlineData("latitude", 90)]
    [InlineData("odometerKm", 999999.9)]
    public void Decode_ValueAtRangeEdge_IsAccepted(string field, double value)
    {
        var batch = Decode($$"""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:00Z","samples":[{"time":"2026-11-28T10:00:00Z","{{field}}":{{value.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}]}""");
        Assert.Equal(value, SampleFields.All.Single(f => f.Name == field).Get(batch.Samples[0]));
    }

    [Fact]
    public void Decode_UnknownCommand_IsRejectedAsUnsupportedCommand()
    {
        Assert.Equal(RejectReason.UnsupportedCommand, Reject("""{"vin":"LGDCHA1G8MA127733","command":"antiTamper","time":"2026-11-28T10:00:00Z"}""").Reason);
    }

    [Fact]
    public void Decode_BadVin_IsRejectedAsBadVin()
    {
        Assert.Equal(RejectReason.BadVin, Reject("""{"vin":"LGDCHA1G8MA12773","command":"logout","time":"2026-11-28T10:00:00Z"}""").Reason);
    }

    [Fact]
    public void Decode_SamplesOnALogout_AreRejected()
    {
        Assert.Equal(RejectReason.BadJson, Reject("""{"vin":"LGDCHA1G8MA127733","command":"logout","time":"2026-11-28T10:00:00Z","samples":[{"time":"2026-11-28T10:00:00Z"}]}""").Reason);
    }

    [Fact]
    public void Decode_TimeBeyondWhatFramesCarry_IsRejectedAsTimeOutOfRange()
    {
        Assert.Equal(RejectReason.TimeOutOfRange, Reject("""{"vin":"LGDCHA1G8MA127733","command":"logout","time":"1999-12-31T23:59:59Z"}""").Reason);
    }

    [Fact]
    public void Decode_InvalidUtf8_IsRejectedAsBadJson()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"vin":"LGDCHA1G8MA127733","command":"logout","time":"2026-11-28T10:00:00Z","x":"??"}""");
        bytes[^4] = 0xC3;
        bytes[^3] = 0x28;
        Assert.False(JsonFrameFormat.TryDecode(bytes, Received, 600, out _, out var rejection));
        Assert.Equal(RejectReason.BadJson, rejection.Reason);
    }

    [Fact]
    public void Encode_DomainCapture_WritesCanonicalNamesAndNulls()
    {
        Assert.True(FrameCodec.TryDecodeBatch(HandFrames.Hex(HandFrames.DomainCapture), TerminalProfile.Gb17691, null, Received, out var batch, out _));

        using var json = JsonDocument.Parse(JsonFrameFormat.Encode(batch));
        var root = json.RootElement;

        Assert.Equal("realtime", root.GetProperty("command").GetString());
        Assert.Equal("2021-08-14T00:47:35Z", root.GetProperty("time").GetString());
        var sample = root.GetProperty("samples")[0];
        foreach (var field in SampleFields.Diesel)
            Assert.True(sample.TryGetProperty(field.Name, out _), field.Name);
        // The capture has no supplementary record: its fields are left out rather than written as nulls.
        foreach (var field in SampleFields.Supplementary)
            Assert.False(sample.TryGetProperty(field.Name, out _), field.Name);
        Assert.Equal(JsonValueKind.Null, sample.GetProperty("scrInletTempC").ValueKind);
        Assert.Equal(38.8, sample.GetProperty("reagentLevelPercent").GetDouble());
        Assert.Equal("38.8", sample.GetProperty("reagentLevelPercent").GetRawText());
        Assert.True(sample.GetProperty("positionValid").GetBoolean());
        Assert.Equal(7, root.GetProperty("obd").GetProperty("dtcCount").GetInt32());
        Assert.Equal("145600AF", root.GetProperty("obd").GetProperty("dtcs")[0].GetString());
    }
}
