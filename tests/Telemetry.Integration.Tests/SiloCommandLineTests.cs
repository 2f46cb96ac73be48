using Telemetry.Silo;

namespace Telemetry.Integration.Tests;

/// <summary>The silo's <c>--help</c>, its short switches and the JSON log switch.</summary>
public sealed class SiloCommandLineTests
{
    [Fact]
    public void Help_ListsEveryShortSwitchAndHowSettingsAreGiven()
    {
        var args = new[] { "--help" };
        using var output = new StringWriter();

        var exit = SiloCommandLine.Handle(ref args, output);

        Assert.Equal(0, exit);
        var text = output.ToString();
        foreach (var option in TelemetryHost.Switches.Keys.Append("--log-format").Append("--urls"))
            Assert.Contains(option, text, StringComparison.Ordinal);
        Assert.Contains("--Telemetry:Mqtt:Port=1884", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_AndShortSwitches_PassToTheHostUnchanged()
    {
        string[] given = ["--simulate", "200", "--format", "hj1239", "--Telemetry:Mqtt:Port=1884"];
        var args = given;

        Assert.Null(SiloCommandLine.Handle(ref args, TextWriter.Null));

        Assert.Equal(given, args);
    }

    [Fact]
    public void LogFormatJson_BecomesTheConsoleFormatterSetting()
    {
        var args = new[] { "--simulate", "5", "--log-format", "json" };

        Assert.Null(SiloCommandLine.Handle(ref args, TextWriter.Null));

        Assert.Equal(["--simulate", "5", "--Logging:Console:FormatterName=json"], args);
    }

    [Theory]
    [InlineData("--simulate", "many")]
    [InlineData("--log-format", "xml")]
    public void MalformedShortSwitch_StopsWithExitCode2AndSaysWhy(string option, string value)
    {
        var args = new[] { option, value };
        using var output = new StringWriter();

        Assert.Equal(2, SiloCommandLine.Handle(ref args, output));

        Assert.Contains(value, output.ToString(), StringComparison.Ordinal);
    }
}
