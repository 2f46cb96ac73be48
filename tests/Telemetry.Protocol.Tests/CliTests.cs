using System.Text;
using System.Text.Json;
using Telemetry.Cli;

namespace Telemetry.Protocol.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("telemetry-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static (int Exit, string[] Lines, string Error) Run(string[] args, byte[]? stdin = null)
    {
        using var input = new MemoryStream(stdin ?? []);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = CliApp.Run(args, input, output, error);
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return (exit, lines, error.ToString());
    }

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Decode_DomainCaptureHexFile_PrintsTheDecodedFrameAndExitsZero()
    {
        var path = WriteFile("capture.hex", HandFrames.DomainCapture + "\n\n");

        var (exit, lines, _) = Run(["decode", "--profile", "gb17691", "--hex", path]);

        Assert.Equal(CliApp.Success, exit);
        var line = Assert.Single(lines);
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        Assert.True(root.GetProperty("ok").GetBoolean());
        Assert.Equal("realtime", root.GetProperty("command").GetString());
        Assert.Equal(HandFrames.Vin, root.GetProperty("vin").GetString());
        Assert.Equal("2021-08-14T00:47:35Z", root.GetProperty("time").GetString());
        var sample = root.GetProperty("samples")[0];
        Assert.Equal(98.5, sample.GetProperty("barometricPressureKpa").GetDouble());
        Assert.Equal(21, sample.GetProperty("coolantTempC").GetDouble());
        Assert.Equal(38.8, sample.GetProperty("reagentLevelPercent").GetDouble());
        Assert.Equal(JsonValueKind.Null, sample.GetProperty("dpfPressureDropKpa").ValueKind);
        Assert.Equal(112.186135, sample.GetProperty("longitude").GetDouble());
        Assert.Equal(32.134654, sample.GetProperty("latitude").GetDouble());
        Assert.Equal(4.0, sample.GetProperty("odometerKm").GetDouble());
        Assert.False(root.GetProperty("obd").GetProperty("milOn").GetBoolean());
        Assert.Equal(7, root.GetProperty("obd").GetProperty("dtcCount").GetInt32());
    }

    [Fact]
    public void Decode_SomeFramesRejected_PrintsOneLinePerFrameInOrderAndExitsTwo()
    {
        var bad = HandFrames.DomainCapture[..^2] + "00";
        var path = WriteFile("mixed.hex", $"{bad}\n{HandFrames.DomainCapture}\nZZ\n");

        var (exit, lines, _) = Run(["decode", "--hex", path]);

        Assert.Equal(CliApp.SomeRejected, exit);
        Assert.Equal(3, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.False(first.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("badCheckCode", first.RootElement.GetProperty("error").GetString());
        Assert.False(string.IsNullOrEmpty(first.RootElement.GetProperty("message").GetString()));
        using var second = JsonDocument.Parse(lines[1]);
        Assert.True(second.RootElement.GetProperty("ok").GetBoolean());
        using var third = JsonDocument.Parse(lines[2]);
        Assert.Equal("badHex", third.RootElement.GetProperty("error").GetString());
    }

    [Fact]
    public void Decode_HexLineWithThreeFrames_PrintsOneLinePerFrameInOrder()
    {
        var bad = HandFrames.DomainCapture[..^2] + "00";
        var path = WriteFile("gateway.hex", HandFrames.DomainCapture + bad + HandFrames.DomainCapture + "\n" + HandFrames.DomainCapture + "\n");

        var (exit, lines, _) = Run(["decode", "--hex", path]);

        Assert.Equal(CliApp.SomeRejected, exit);
        Assert.Equal(4, lines.Length);
        Assert.Contains("\"ok\":true", lines[0], StringComparison.Ordinal);
        Assert.Contains("\"error\":\"badCheckCode\"", lines[1], StringComparison.Ordinal);
        Assert.Contains("\"ok\":true", lines[2], StringComparison.Ordinal);
        Assert.Contains("\"ok\":true", lines[3], StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_SignedRecordsWithKey_PrintsVerifiedSamples()
    {
        var (privateKey, publicKey) = Sm2Signatures.GenerateKeyPair();
        var t = new DateTime(2026, 11, 28, 9, 0, 0, DateTimeKind.Utc);
        var sample = Telemetry.Abstractions.Sample.Empty(t) with { SpeedKmh = 40, UreaDosingMlph = 850.5 };
        var frame = FrameEncoder.Encode(new Telemetry.Abstractions.TelemetryBatch(HandFrames.Vin, Telemetry.Abstractions.FrameKind.RealTime, t, 1, [sample], [], t),
            TerminalProfile.SignedRecords, 0x11, privateKey);
        var path = WriteFile("signed.hex", Convert.ToHexString(frame) + "\n");

        var (exit, lines, _) = Run(["decode", "--profile", "signedRecords", "--key", publicKey, "--hex", path]);

        Assert.Equal(CliApp.Success, exit);
        using var json = JsonDocument.Parse(Assert.Single(lines));
        var decoded = json.RootElement.GetProperty("samples")[0];
        Assert.Equal("verified", decoded.GetProperty("signature").GetString());
        Assert.Equal(850.5, decoded.GetProperty("ureaDosingMlph").GetDouble());
    }

    [Fact]
    public void Decode_HexFromStandardInput_IsRead()
    {
        var (exit, lines, _) = Run(["decode", "--hex", "-"], Encoding.ASCII.GetBytes(HandFrames.DomainCapture + "\n"));

        Assert.Equal(CliApp.Success, exit);
        Assert.Contains("\"ok\":true", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_BinaryFileOfConcatenatedFrames_SplitsThemAndReportsGarbage()
    {
        var capture = HandFrames.Hex(HandFrames.DomainCapture);
        var path = Path.Combine(_folder, "frames.bin");
        File.WriteAllBytes(path, [.. capture, 0x00, 0x01, .. capture, .. capture[..30]]);

        var (exit, lines, _) = Run(["decode", "--bin", path]);

        Assert.Equal(CliApp.SomeRejected, exit);
        Assert.Equal(4, lines.Length);
        Assert.Contains("\"ok\":true", lines[0], StringComparison.Ordinal);
        Assert.Contains("\"error\":\"badStart\"", lines[1], StringComparison.Ordinal);
        Assert.Contains("\"ok\":true", lines[2], StringComparison.Ordinal);
        Assert.Contains("\"error\":\"truncated\"", lines[3], StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_MissingFile_ExitsOne()
    {
        var (exit, _, error) = Run(["decode", "--hex", Path.Combine(_folder, "absent.hex")]);

        Assert.Equal(CliApp.UsageError, exit);
        Assert.Contains("absent.hex", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("decode")]
    [InlineData("decode --profile jt808 --hex -")]
    [InlineData("decode --hex - --bin -")]
    [InlineData("transcode")]
    public void Run_BadUsage_ExitsOne(string commandLine)
    {
        Assert.Equal(CliApp.UsageError, Run(commandLine.Split(' ')).Exit);
    }

    [Fact]
    public void EncodeThenDecode_DecodedCapture_GivesTheSameJson()
    {
        var (_, decoded, _) = Run(["decode", "--hex", "-"], Encoding.ASCII.GetBytes(HandFrames.DomainCapture));

        var (encodeExit, hex, _) = Run(["encode", "--json", "-"], Encoding.UTF8.GetBytes(decoded[0] + "\n"));
        var (decodeExit, again, _) = Run(["decode", "--hex", "-"], Encoding.ASCII.GetBytes(hex[0]));

        Assert.Equal(CliApp.Success, encodeExit);
        Assert.Equal(CliApp.Success, decodeExit);
        Assert.Equal(decoded[0], again[0]);
    }

    [Fact]
    public void Encode_Hj1239WithTenSamples_DecodesWithTheHj1239Profile()
    {
        var samples = string.Join(",", Enumerable.Range(0, 10).Select(k => $$"""{"time":"2026-11-28T10:00:{{k:D2}}Z","speedKmh":{{k * 5}},"noxDownstreamPpm":120.5}"""));
        var json = $$"""{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:10Z","serial":3,"samples":[{{samples}}]}""";

        var (encodeExit, hex, _) = Run(["encode", "--profile", "hj1239", "--software-version", "17"], Encoding.UTF8.GetBytes(json));
        var (decodeExit, lines, _) = Run(["decode", "--profile", "hj1239", "--hex", "-"], Encoding.ASCII.GetBytes(hex[0]));

        Assert.Equal(CliApp.Success, encodeExit);
        Assert.Equal("11", hex[0][40..42]);
        Assert.Equal(CliApp.Success, decodeExit);
        using var decoded = JsonDocument.Parse(lines[0]);
        Assert.Equal(10, decoded.RootElement.GetProperty("samples").GetArrayLength());
        Assert.Equal(45, decoded.RootElement.GetProperty("samples")[9].GetProperty("speedKmh").GetDouble());
        Assert.Equal(3, decoded.RootElement.GetProperty("serial").GetInt32());
    }

    [Fact]
    public void Encode_BinaryOutput_WritesConcatenatedFramesTheDecoderSplits()
    {
        var json = """{"vin":"LGDCHA1G8MA127733","command":"logout","time":"2026-11-28T10:00:10Z","serial":3}""";
        var path = Path.Combine(_folder, "out.bin");

        var (exit, _, _) = Run(["encode", "--bin-out", path], Encoding.UTF8.GetBytes(json + "\n" + json + "\n"));
        var (decodeExit, lines, _) = Run(["decode", "--bin", path]);

        Assert.Equal(CliApp.Success, exit);
        Assert.Equal(2 * (FrameCodec.Overhead + FrameCodec.LogoutLength), new FileInfo(path).Length);
        Assert.Equal(CliApp.Success, decodeExit);
        Assert.Equal(2, lines.Length);
    }

    [Fact]
    public void Encode_BadLines_ReportEachOnStandardErrorAndExitTwo()
    {
        var good = """{"vin":"LGDCHA1G8MA127733","command":"logout","time":"2026-11-28T10:00:10Z"}""";
        var gbTimes = """{"vin":"LGDCHA1G8MA127733","command":"realtime","time":"2026-11-28T10:00:10Z","samples":[{"time":"2026-11-28T10:00:00Z"}]}""";

        var (exit, lines, error) = Run(["encode"], Encoding.UTF8.GetBytes($"{good}\n{{\"vin\":1}}\n{gbTimes}\n"));

        Assert.Equal(CliApp.SomeRejected, exit);
        Assert.Single(lines);
        var errors = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, errors.Length);
        Assert.Contains("\"line\":2", errors[0], StringComparison.Ordinal);
        Assert.Contains("\"error\":\"badJson\"", errors[0], StringComparison.Ordinal);
        Assert.Contains("\"line\":3", errors[1], StringComparison.Ordinal);
        Assert.Contains("\"error\":\"cannotEncode\"", errors[1], StringComparison.Ordinal);
    }
}
