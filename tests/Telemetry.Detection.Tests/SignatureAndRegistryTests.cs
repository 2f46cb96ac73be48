using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

/// <summary>R9.signature, a fault-code count marked invalid, and the terminal fields of the registry.</summary>
public sealed class SignatureAndRegistryTests
{
    [Fact]
    public void R9Signature_SamplesWithFailedSignatures_OpenTheDataQualityAlert()
    {
        var d = new Drive().Run(300, s => Drive.Warm(s) with { Signature = SignatureCheck.Verified })
            .Run(20, s => Drive.Warm(s) with { Signature = s % 2 == 0 ? SignatureCheck.Failed : SignatureCheck.Verified });

        Assert.Equal(1, d.Opened("R9.signature"));
        Assert.Equal(AlertSeverity.Warning, d.First("R9.signature").Severity);
        Assert.True(d.Last("R9.signature").Measured["signatureFailures"] >= 1);
    }

    [Theory]
    [InlineData(SignatureCheck.NotSigned)]
    [InlineData(SignatureCheck.NoKey)]
    [InlineData(SignatureCheck.Verified)]
    public void R9Signature_UnsignedUnverifiedOrVerified_RaiseNothing(SignatureCheck check)
    {
        var d = new Drive().Run(900, s => Drive.Warm(s) with { Signature = check });

        Assert.Equal(0, d.Opened("R9.signature"));
    }

    [Theory]
    [InlineData(false, 1)] // codes really cleared with the readiness monitors reset: tampering
    [InlineData(true, 0)]  // the terminal marked the count invalid: says nothing about the codes
    public void R8_FaultCodesGoneWithReadinessReset_OnlyWhenTheCountIsValid(bool countInvalid, int expected)
    {
        var withCodes = Drive.Obd(0, readiness: 0, dtcs: [0x145600AF, 0x00AFE002]);
        var gone = Drive.Obd(0, readiness: 0x0C01) with { DtcCountInvalid = countInvalid };

        var d = new Drive().Run(600, obd: s => s == 10 ? withCodes with { TimeUtc = Drive.At(s) } : s == 300 ? gone with { TimeUtc = Drive.At(s) } : null);

        Assert.Equal(expected, d.Opened("R8"));
    }

    [Fact]
    public void Registry_TerminalProfileAndPublicKey_AreReadFromJsonAndCsv()
    {
        var key = "04" + new string('A', 128);
        var reg = new VehicleRegistry();

        reg.Load($$"""[{"vin":"LTEST000000000001","terminalProfile":"signedRecords","terminalPublicKey":"{{key}}"}]""");
        Assert.Equal("signedRecords", reg.Find("LTEST000000000001")!.TerminalProfile);
        Assert.Equal(key, reg.Find("LTEST000000000001")!.TerminalPublicKey);

        reg.Load($"vin,fleet,terminalProfile,terminalPublicKey\nLTEST000000000002,B,hj1239,{key}\nLTEST000000000003,C,,\n");
        Assert.Equal("hj1239", reg.Find("LTEST000000000002")!.TerminalProfile);
        Assert.Null(reg.Find("LTEST000000000003")!.TerminalProfile);
        Assert.Null(reg.Find("LTEST000000000003")!.TerminalPublicKey);

        var badKey = Assert.Throws<FormatException>(() => reg.Load("""[{"vin":"LTEST000000000004","terminalPublicKey":"04XYZ"}]"""));
        Assert.Contains("terminalPublicKey", badKey.Message, StringComparison.Ordinal);
        var badProfile = Assert.Throws<FormatException>(() => reg.Load("vin,terminalProfile\nLTEST000000000005,a b\n"));
        Assert.Contains("line 2", badProfile.Message, StringComparison.Ordinal);
    }
}
