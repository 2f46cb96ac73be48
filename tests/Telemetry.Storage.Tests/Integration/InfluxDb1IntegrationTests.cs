using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Integration;

/// <summary>The line protocol of this project read by a real InfluxDB 1.6 (the dashboards' InfluxQL).</summary>
[Trait("Category", "Integration")]
public sealed class InfluxDb1IntegrationTests(InfluxDb1Fixture fixture) : IClassFixture<InfluxDb1Fixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task WriteLineProtocol_SampleLines_QueryBackEveryFieldAndTheTime()
    {
        var server = fixture.Server;
        var vin = TestData.NewVin("LIFXA");
        var time = TestData.RecentSecond();
        var sample = TestData.FullSample(time, seed: 7) with { NoxDownstreamPpm = double.NaN };

        await server.WriteLineProtocolAsync(SamplePoints.ToLine(vin, sample), "s", Ct);

        var series = Assert.Single(await server.QueryAsync($"SELECT * FROM hdv WHERE vin = '{vin}'", Ct));
        Assert.Equal(LineProtocol.ToUnixSeconds(time), Assert.Single(series.Column("time")).GetInt64());
        foreach (var field in SampleFields.All.Where(f => f.Name != "noxDownstreamPpm"))
            Assert.Equal(field.Get(sample), Assert.Single(series.Column(field.Name)).GetDouble());
        Assert.Empty(await server.QueryAsync($"SELECT noxDownstreamPpm FROM hdv WHERE vin = '{vin}'", Ct));
        Assert.True(Assert.Single(series.Column("positionValid")).GetBoolean());
        Assert.Equal(0, Assert.Single(series.Column("positionStatus")).GetInt32());
    }

    [Fact]
    public async Task FileSinkOutput_ImportedIntoInfluxDb1_KeepsEscapedTagsAndEveryPoint()
    {
        var server = fixture.Server;
        using var dir = new TempDirectory();
        var vin = TestData.NewVin("LIFXB");
        var start = TestData.RecentSecond();
        var alert = TestData.Alert(vin, startUtc: start, fleet: @"Fleet A, north=1 \ east") with { Zone = "zone one" };
        using (var sink = new LineProtocolFileSink(Options.Create(new TimeSeriesOptions { FileDirectory = dir.Path }),
                   NullLogger<LineProtocolFileSink>.Instance, new StorageMetrics()))
        {
            await sink.WriteSamplesAsync(vin, [.. Enumerable.Range(0, 5).Select(i => TestData.FullSample(start.AddSeconds(i)))], Ct);
            await sink.WriteAlertAsync(alert, Ct);
        }

        // What `influx write --file` / `influx -import` send: the file's lines as they are.
        var file = Directory.GetFiles(dir.Path, "hdv-*.lp");
        foreach (var path in file)
            await server.WriteLineProtocolAsync(await File.ReadAllTextAsync(path, Ct), "s", Ct);

        var samples = Assert.Single(await server.QueryAsync($"SELECT count(speedKmh) FROM hdv WHERE vin = '{vin}'", Ct));
        Assert.Equal(5, Assert.Single(samples.Column("count")).GetInt32());
        var alerts = Assert.Single(await server.QueryAsync($"SELECT * FROM hdv_alert WHERE vin = '{vin}'", Ct));
        Assert.Equal("Fleet A, north=1 / east", Assert.Single(alerts.Column("fleet")).GetString());
        Assert.Equal("zone one", Assert.Single(alerts.Column("zone")).GetString());
        Assert.Equal(812.4, Assert.Single(alerts.Column("measured_meanNoxPpm")).GetDouble());
        Assert.Equal(1, Assert.Single(alerts.Column("revision")).GetInt32());
    }
}
