using System.Collections.Immutable;
using System.Text.Json;
using Telemetry.Abstractions;
using Telemetry.Simulation;
using Telemetry.Storage;
using Telemetry.Testing;

namespace Telemetry.Dashboards.Tests;

/// <summary>
/// Every query of every dashboard under <c>dashboards/</c> runs on a real influxd 1.x holding the
/// line protocol the silo writes, and returns data: a renamed field or a query InfluxQL rejects
/// fails here, not in front of an officer.
/// </summary>
[Trait("Category", "Integration")]
public sealed class DashboardQueryTests
{
    [Fact]
    public async Task EveryPanelQuery_OnWhatTheSiloWrites_RunsAndReturnsData()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var influx = await InfluxDb1Server.StartAsync("hdv", ct);

        var start = DateTime.UtcNow.AddMinutes(-15);
        start = new DateTime(start.Ticks - start.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        var vins = new[] { Vins.Make(1, "LDSH"), Vins.Make(2, "LDSH") };
        foreach (var (vin, i) in vins.Select((v, i) => (v, i)))
        {
            var truck = new TruckModel(vin, seed: 100 + i, DriveCycle.Highway, start);
            var samples = Enumerable.Range(0, 15 * 60).Select(_ => truck.Step()).ToList();
            await influx.WriteLineProtocolAsync(string.Join('\n', SamplePoints.ToLines(vin, samples)), "s", ct);
        }
        var alert = new Alert
        {
            Id = Alert.MakeId(vins[0], "R1", start.AddMinutes(10)),
            RuleId = "R1",
            RuleName = "NOx concentration",
            Severity = AlertSeverity.Warning,
            Vin = vins[0],
            StartUtc = start.AddMinutes(10),
            LastHeldUtc = start.AddMinutes(12),
            Thresholds = new Dictionary<string, double> { ["noxPpm"] = 500 }.ToImmutableSortedDictionary(),
            Measured = new Dictionary<string, double> { ["meanNoxPpm"] = 720 }.ToImmutableSortedDictionary(),
        };
        await influx.WriteLineProtocolAsync(SamplePoints.ToLine(alert), "s", ct);

        var dashboards = Directory.GetFiles(Path.Combine(RepositoryRoot(), "dashboards"), "*.json");
        Assert.NotEmpty(dashboards);
        var queries = 0;
        foreach (var file in dashboards)
        {
            using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(file, ct));
            var root = dashboard.RootElement;

            // Template variables: the VIN list comes from the data.
            foreach (var variable in root.GetProperty("templating").GetProperty("list").EnumerateArray())
            {
                var values = await influx.QueryAsync(variable.GetProperty("query").GetString()!, ct);
                var found = values.SelectMany(s => s.Column("value")).Select(v => v.GetString()).ToList();
                Assert.All(vins, vin => Assert.Contains(vin, found));
            }

            foreach (var panel in root.GetProperty("panels").EnumerateArray())
            {
                var title = panel.GetProperty("title").GetString();
                foreach (var target in panel.GetProperty("targets").EnumerateArray())
                {
                    var query = Substitute(target.GetProperty("query").GetString()!, vins);
                    var series = await influx.QueryAsync(query, ct);
                    var values = series.SelectMany(s => s.Rows).SelectMany(r => r.Skip(1)).Where(v => v.ValueKind == JsonValueKind.Number).ToList();
                    Assert.True(values.Count > 0, $"panel '{title}' of {Path.GetFileName(file)} returned no data for `{query}`");
                    if (title == "Vehicles reporting")
                    {
                        Assert.Equal(vins.Length, values.Single().GetDouble());
                    }
                    if (title == "Alert episodes started, by rule")
                    {
                        Assert.Equal("R1", Assert.Single(series).Tags["rule"]);
                        Assert.Equal(1, values.Single().GetDouble());
                    }
                    queries++;
                }
            }
        }
        Assert.True(queries >= 6, $"only {queries} panel queries were found");
    }

    /// <summary>Grafana's macros as Grafana would expand them for the last hour and every VIN.</summary>
    private static string Substitute(string query, IEnumerable<string> vins) => query
        .Replace("$timeFilter", "time > now() - 1h", StringComparison.Ordinal)
        .Replace("$vin", $"({string.Join('|', vins)})", StringComparison.Ordinal);

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Telemetry.sln")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException($"No Telemetry.sln above {AppContext.BaseDirectory}.");
    }
}
