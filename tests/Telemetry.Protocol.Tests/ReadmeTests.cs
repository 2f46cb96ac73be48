using System.Text;

namespace Telemetry.Protocol.Tests;

public sealed class ReadmeTests
{
    [Fact]
    public void JsonExampleOfTheReadme_DecodesAndSurvivesAnEncodeRoundTrip()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "src", "Telemetry.Protocol", "README.md"));
        var section = readme[readme.IndexOf("## JSON format", StringComparison.Ordinal)..];
        var start = section.IndexOf("```json", StringComparison.Ordinal) + "```json".Length;
        var json = section[start..section.IndexOf("```", start, StringComparison.Ordinal)];
        var received = new DateTime(2026, 11, 28, 10, 0, 12, DateTimeKind.Utc);

        Assert.True(JsonFrameFormat.TryDecode(Encoding.UTF8.GetBytes(json), received, 600, out var batch, out var rejection), rejection.ToString());
        var frame = FrameEncoder.Encode(batch with { Samples = [batch.Samples[0] with { TimeUtc = batch.FrameTimeUtc }] }, TerminalProfile.Gb17691);
        Assert.True(new PayloadDecoder(new ProtocolOptions()).TryDecode("gb17691", batch.Vin, frame, received, out var decoded, out rejection), rejection.ToString());
        Assert.Equal(62.5, decoded.Samples[0].SpeedKmh);
        Assert.Equal("YCY30165-60", decoded.Obd[0].CalibrationId);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")))
            directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("The repository root (with Directory.Packages.props) was not found above " + AppContext.BaseDirectory);
    }
}
