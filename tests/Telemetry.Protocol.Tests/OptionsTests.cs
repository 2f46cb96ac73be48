namespace Telemetry.Protocol.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Validate_Defaults_HasNoProblems()
    {
        Assert.Empty(new ProtocolOptions().Validate());
    }

    [Fact]
    public void Validate_BadSettings_NameEachSetting()
    {
        var options = new ProtocolOptions { MaxJsonSamples = 0, MaxFutureSkew = TimeSpan.FromSeconds(-1) };
        options.Profiles["json"] = new TerminalProfileOptions();
        options.Profiles["gb 2"] = new TerminalProfileOptions();
        options.Profiles["x"] = new TerminalProfileOptions
        {
            RequiresSignature = true,
            SupplementaryRecordLengths = { ["0x10"] = 4, ["0x81"] = 70000 },
        };

        var problems = options.Validate().ToList();

        Assert.Contains(problems, p => p.Contains("Telemetry:Protocol:MaxJsonSamples", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Telemetry:Protocol:MaxFutureSkew", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Profiles:json", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Profiles:gb 2", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Profiles:x:RequiresSignature", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("SupplementaryRecordLengths:0x10", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("SupplementaryRecordLengths:0x81", StringComparison.Ordinal));
        Assert.All(problems, p => Assert.EndsWith(".", p, StringComparison.Ordinal));
    }

    [Fact]
    public void PayloadDecoder_WithBadOptions_RefusesToStart()
    {
        var ex = Assert.Throws<ArgumentException>(() => new PayloadDecoder(new ProtocolOptions { MaxJsonSamples = -1 }));
        Assert.Contains("MaxJsonSamples", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildProfiles_ConfiguredProfile_ExtendsAndReplacesBuiltIns()
    {
        var options = new ProtocolOptions { AcceptTildeStart = true };
        options.Profiles["hj1239"] = new TerminalProfileOptions { Layout = DataLayout.Hj1239, RequiresSignature = true };
        options.Profiles["acme"] = new TerminalProfileOptions
        {
            TimeEncoding = FrameTimeEncoding.Bcd,
            TimeZone = FrameTimeZone.Utc,
            SupplementaryRecordLengths = { ["0x80"] = 12, ["129"] = 3 },
        };

        var decoder = new PayloadDecoder(options);

        Assert.Equal(["acme", "gb17691", "hj1239", "signedRecords", "json"], decoder.Formats);
        Assert.True(decoder.TryGetProfile("hj1239", out var hj));
        Assert.True(hj.RequiresSignature);
        Assert.True(hj.AcceptTildeStart);
        Assert.True(decoder.TryGetProfile("ACME", out var acme));
        Assert.Equal(FrameTimeEncoding.Bcd, acme.TimeEncoding);
        Assert.Equal(FrameTimeZone.Utc, acme.TimeZone);
        Assert.Equal(12, acme.SupplementaryRecordLengths[0x80]);
        Assert.Equal(3, acme.SupplementaryRecordLengths[0x81]);
    }
}
