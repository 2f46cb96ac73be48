using System.Text.Json;
using System.Text.RegularExpressions;
using Telemetry.Abstractions;
using Telemetry.Storage;

namespace Telemetry.Dashboards.Tests;

/// <summary>
/// Every query of every dashboard under <c>dashboards/</c> (panels, template variables, annotations) and of
/// every provisioned alert rule runs on a real influxd 1.x holding the line protocol of a simulated run, and
/// returns rows: a renamed field or a query InfluxQL rejects fails here, not in front of an officer.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class DashboardQueryTests(SimulatedRun run) : IClassFixture<SimulatedRun>
{
    [Fact]
    public async Task EveryPanelQuery_OnASimulatedRun_RunsAndReturnsRows()
    {
        var ct = TestContext.Current.CancellationToken;
        var queries = 0;
        foreach (var dashboard in Dashboards.InfluxDashboards())
        {
            // A panel with one query must show rows; of a panel with several (severities side by side) each query
            // must run and one at least show rows.
            foreach (var panel in Dashboards.Panels(dashboard.Root).Where(p => p.TryGetProperty("targets", out _)))
            {
                var title = panel.GetProperty("title").GetString();
                var rows = 0;
                foreach (var target in panel.GetProperty("targets").EnumerateArray())
                {
                    var query = Substitute(target.GetProperty("query").GetString()!, dashboard.Root);
                    var numbers = Numbers(await run.Influx.QueryAsync(query, ct));
                    Assert.True(numbers.Count > 0 || panel.GetProperty("targets").GetArrayLength() > 1,
                        $"panel '{title}' of {dashboard.Name} returned no rows for `{query}`");
                    rows += numbers.Count;
                    queries++;
                }
                Assert.True(rows > 0, $"no query of panel '{title}' of {dashboard.Name} returned rows");
            }
        }
        Assert.True(queries >= 40, $"only {queries} panel queries were found");
    }

    [Fact]
    public async Task OpenEpisodePanels_CountTheEpisodesStillOpenAtTheEndOfTheRun()
    {
        var ct = TestContext.Current.CancellationToken;
        Assert.True(run.Changes.Count > 0, "the simulated run raised no alert episode");
        var expected = StillOpen().GroupBy(a => a.RuleId).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(expected.Count > 0, "no episode is open at the end of the run: " + string.Join(", ", run.Changes.Select(c => $"{c.Alert.RuleId} {c.Kind} {c.Alert.Vin}")));
        Assert.Contains("R1", expected.Keys);
        Assert.Contains("R6", expected.Keys);

        var byRule = await RunPanel("enforcement-overview.json", "Open episodes by rule", ct);
        var counted = byRule.ToDictionary(s => s.Tags["rule"], s => s.Rows.Single()[1].GetInt32());
        Assert.Equal(expected.OrderBy(e => e.Key), counted.OrderBy(c => c.Key));

        // The map shows exactly the open episodes, each at its position; the truck whose NOx fault ended has a
        // closed R1 episode: it is in the newest-episodes table, not on the map.
        var closedVin = run.Vehicles[2].Vin;
        Assert.Contains(run.Changes, c => c.Alert.Vin == closedVin && c.Alert.RuleId == "R1" && c.Kind == AlertChangeKind.Closed);
        var map = Assert.Single(await RunPanel("enforcement-overview.json", "Vehicles with open episodes, and low-emission zones", ct));
        var mapped = map.Column("vin").Zip(map.Column("rule"), (v, r) => $"{v.GetString()} {r.GetString()}").Order().ToList();
        Assert.Equal(StillOpen().Where(a => a.Position is { Valid: true }).Select(a => $"{a.Vin} {a.RuleId}").Order(), mapped);
        Assert.DoesNotContain($"{closedVin} R1", mapped);
        Assert.All(map.Column("latitude"), lat => Assert.InRange(lat.GetDouble(), 30, 40));

        var table = Assert.Single(await RunPanel("enforcement-overview.json", "Newest episodes", ct));
        Assert.Contains(closedVin, table.Column("vin").Select(v => v.GetString()));
        Assert.Contains("closed", table.Column("status").Select(v => v.GetString()));
    }

    [Fact]
    public async Task FleetCompliancePanels_GiveEveryVehicleItsCompletenessAndOnlineRate()
    {
        var ct = TestContext.Current.CancellationToken;
        var dashboard = Dashboards.Load("fleet-compliance.json");
        var panel = Dashboards.Targets(dashboard.Root).Where(t => t.Panel.GetProperty("title").GetString()!.StartsWith("Per vehicle", StringComparison.Ordinal)).ToList();
        var completeness = await run.Influx.QueryAsync(Substitute(panel[1].Target.GetProperty("query").GetString()!, dashboard.Root), ct);
        Assert.Equal(run.Vehicles.Select(v => v.Vin).Order(), completeness.Select(s => s.Tags["vin"]).Order());
        // Every truck, the one without fleet and region too ("All" matches a missing tag), sent one sample a
        // second for the 45 minutes of the last hour.
        Assert.All(completeness, s => Assert.InRange(s.Column("completeness %").Single().GetDouble(), 90, 100.001));
        Assert.All(completeness, s => Assert.InRange(s.Column("online %").Single().GetDouble(), 70, 80));
    }

    [Fact]
    public async Task EveryVariableQuery_ListsTheSimulatedFleetsRegionsAndVehicles()
    {
        var ct = TestContext.Current.CancellationToken;
        var expected = new Dictionary<string, string[]>
        {
            ["fleet"] = [.. run.Vehicles.Where(v => v.Fleet is not null).Select(v => v.Fleet!).Distinct()],
            ["region"] = [.. run.Vehicles.Where(v => v.Region is not null).Select(v => v.Region!).Distinct()],
            ["vin"] = [.. run.Vehicles.Select(v => v.Vin)],
            ["host"] = [SimulatedRun.Host],
        };
        var checkedVariables = 0;
        foreach (var dashboard in Dashboards.InfluxDashboards())
        {
            foreach (var variable in Dashboards.Variables(dashboard.Root).Where(v => v.GetProperty("type").GetString() == "query"))
            {
                var name = variable.GetProperty("name").GetString()!;
                var query = Substitute(variable.GetProperty("query").GetString()!, dashboard.Root);
                var values = (await run.Influx.QueryAsync(query, ct)).SelectMany(s => s.Column("value")).Select(v => v.GetString()).ToList();
                Assert.True(expected.ContainsKey(name), $"variable {name} of {dashboard.Name} has no expectation here");
                Assert.All(expected[name], value => Assert.Contains(value, values));
                checkedVariables++;
            }
        }
        Assert.True(checkedVariables >= 8, $"only {checkedVariables} variable queries were found");
    }

    [Fact]
    public async Task EveryAnnotationQuery_ReturnsTheVehiclesEpisodes()
    {
        var ct = TestContext.Current.CancellationToken;
        var annotations = 0;
        foreach (var dashboard in Dashboards.InfluxDashboards())
        {
            foreach (var annotation in dashboard.Root.GetProperty("annotations").GetProperty("list").EnumerateArray().Where(a => a.TryGetProperty("query", out _)))
            {
                var series = await run.Influx.QueryAsync(Substitute(annotation.GetProperty("query").GetString()!, dashboard.Root), ct);
                var rules = series.SelectMany(s => s.Column(annotation.GetProperty("titleColumn").GetString()!)).Select(r => r.GetString()).ToList();
                Assert.Contains("R1", rules);
                foreach (var column in annotation.GetProperty("tagsColumn").GetString()!.Split(','))
                    Assert.All(series, s => Assert.Contains(column, s.Columns));
                annotations++;
            }
        }
        Assert.True(annotations >= 1, "no annotation query was found");
    }

    [Fact]
    public async Task EveryAlertRuleQuery_RunsAndReturnsRowsOnTheProvisionedDatasource()
    {
        var ct = TestContext.Current.CancellationToken;
        var uids = Dashboards.ProvisionedDatasourceUids();
        var queries = 0;
        foreach (var rule in Dashboards.AlertRules())
        {
            foreach (var data in rule.GetProperty("data").EnumerateArray())
            {
                var uid = data.GetProperty("datasourceUid").GetString()!;
                if (uid == "__expr__")
                    continue;
                Assert.Contains(uid, uids);
                var query = Substitute(data.GetProperty("model").GetProperty("query").GetString()!, default);
                var numbers = Numbers(await run.Influx.QueryAsync(query, ct));
                Assert.True(numbers.Count > 0, $"alert rule '{rule.GetProperty("title").GetString()}' returned no rows for `{query}`");
                queries++;
            }
            var condition = rule.GetProperty("condition").GetString();
            Assert.Contains(rule.GetProperty("data").EnumerateArray(), d => d.GetProperty("refId").GetString() == condition);
        }
        Assert.True(queries >= 4, $"only {queries} alert rule queries were found");
    }

    [Fact]
    public void EveryDashboard_IsValidJsonWithUniquePanelIdsAndUid()
    {
        var all = Dashboards.All();
        Assert.True(all.Count >= 5, $"only {all.Count} dashboards");
        Assert.Equal(all.Count, all.Select(d => d.Root.GetProperty("uid").GetString()).Distinct().Count());
        foreach (var dashboard in all)
        {
            var ids = Dashboards.Panels(dashboard.Root).Select(p => p.GetProperty("id").GetInt32()).ToList();
            Assert.True(ids.Count == ids.Distinct().Count(), $"{dashboard.Name} repeats a panel id: {string.Join(", ", ids)}");
            Assert.NotEmpty(ids);
        }
        // Links between dashboards point at uids that exist.
        var uids = all.Select(d => d.Root.GetProperty("uid").GetString()).ToHashSet();
        foreach (var dashboard in all)
        {
            foreach (Match link in LinkToDashboard().Matches(dashboard.Text))
                Assert.True(uids.Contains(link.Groups[1].Value), $"{dashboard.Name} links to dashboard {link.Groups[1].Value}, which does not exist");
        }
    }

    [Fact]
    public void EveryPanelTargetAndVariable_IsBoundToTheDatasourceVariable()
    {
        foreach (var dashboard in Dashboards.All())
        {
            var datasourceVariables = Dashboards.Variables(dashboard.Root)
                .Where(v => v.GetProperty("type").GetString() == "datasource")
                .ToDictionary(v => "${" + v.GetProperty("name").GetString() + "}", v => v.GetProperty("query").GetString());
            Assert.NotEmpty(datasourceVariables);
            var bound = Dashboards.Panels(dashboard.Root).Select(p => (What: $"panel '{p.GetProperty("title").GetString()}'", Element: p))
                .Concat(Dashboards.Targets(dashboard.Root).Select(t => (What: $"a target of '{t.Panel.GetProperty("title").GetString()}'", Element: t.Target)))
                .Concat(Dashboards.Variables(dashboard.Root).Where(v => v.GetProperty("type").GetString() == "query").Select(v => (What: $"variable {v.GetProperty("name").GetString()}", Element: v)))
                .Concat(dashboard.Root.GetProperty("annotations").GetProperty("list").EnumerateArray().Select(a => (What: "an annotation", Element: a)));
            foreach (var (what, element) in bound)
            {
                var datasource = element.GetProperty("datasource");
                var uid = datasource.GetProperty("uid").GetString()!;
                Assert.True(datasourceVariables.ContainsKey(uid), $"{what} of {dashboard.Name} names datasource uid '{uid}', not a datasource variable");
                Assert.Equal(datasourceVariables[uid], datasource.GetProperty("type").GetString());
            }
        }
    }

    [Fact]
    public void EveryVariableAQueryOrLinkUses_IsDefinedOrBuiltIn()
    {
        string[] builtIn = ["timeFilter", "__interval", "__range_s", "__rate_interval", "__value", "__data", "__url_time_range", "__all", "col", "tag_"];
        foreach (var dashboard in Dashboards.All())
        {
            var defined = Dashboards.Variables(dashboard.Root).Select(v => v.GetProperty("name").GetString()!).ToHashSet();
            foreach (Match use in VariableUse().Matches(dashboard.Text))
            {
                var name = use.Groups[1].Success ? use.Groups[1].Value : use.Groups[2].Value;
                Assert.True(defined.Contains(name) || builtIn.Any(b => name.StartsWith(b, StringComparison.Ordinal)),
                    $"{dashboard.Name} uses ${name}, which is neither one of its variables ({string.Join(", ", defined)}) nor a Grafana built-in");
            }
        }
    }

    [Fact]
    public void EveryMeasurementFieldAndTagAQueryNames_IsInTheStorageSchema()
    {
        var schema = StorageSchema();
        var sources = Dashboards.InfluxDashboards().SelectMany(d =>
                Dashboards.Targets(d.Root).Select(t => (Where: $"{d.Name} '{t.Panel.GetProperty("title").GetString()}'", Query: t.Target.GetProperty("query").GetString()!))
                .Concat(Dashboards.Variables(d.Root).Where(v => v.GetProperty("type").GetString() == "query").Select(v => (Where: $"{d.Name} variable", Query: v.GetProperty("query").GetString()!)))
                .Concat(d.Root.GetProperty("annotations").GetProperty("list").EnumerateArray().Select(a => (Where: $"{d.Name} annotation", Query: a.GetProperty("query").GetString()!))))
            .Concat(Dashboards.AlertRules().SelectMany(r => r.GetProperty("data").EnumerateArray()
                .Where(x => x.GetProperty("model").TryGetProperty("query", out _))
                .Select(x => (Where: $"alert rule '{r.GetProperty("title").GetString()}'", Query: x.GetProperty("model").GetProperty("query").GetString()!))))
            .ToList();
        Assert.NotEmpty(sources);
        foreach (var (where, query) in sources)
        {
            var measurements = FromMeasurement().Matches(query).Select(m => m.Groups[1].Value).ToList();
            Assert.NotEmpty(measurements);
            var known = new HashSet<string>(StringComparer.Ordinal);
            foreach (var measurement in measurements)
            {
                Assert.True(schema.ContainsKey(measurement), $"{where} reads measurement {measurement}, which the silo does not write");
                known.UnionWith(schema[measurement]);
            }
            var aliases = Alias().Matches(query).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            foreach (Match identifier in QuotedIdentifier().Matches(query))
            {
                var name = identifier.Groups[1].Value;
                Assert.True(schema.ContainsKey(name) || known.Contains(name) || aliases.Contains(name),
                    $"{where} names \"{name}\", which is no field or tag of {string.Join(", ", measurements)} in the storage schema: `{query}`");
            }
        }
    }

    /// <summary>Measurement -> its fields and tags, from the code that writes them.</summary>
    private static Dictionary<string, HashSet<string>> StorageSchema()
    {
        var sample = SampleFields.All.Select(f => f.Name).Append(SamplePoints.PositionValidField).Append(SamplePoints.PositionStatusField)
            .Concat(["vin", "fleet", "region"]);
        string[] alert = ["vin", "fleet", "region", "zone", "rule", "severity", "status", "revision", "durationS", "latitude", "longitude"];
        return new(StringComparer.Ordinal)
        {
            [SamplePoints.SampleMeasurement] = [.. sample],
            [SamplePoints.AlertMeasurement] = [.. alert],
            [PipelinePoints.Measurement] = [.. PipelinePoints.Fields.Keys, "host"],
            [PipelinePoints.RejectedMeasurement] = ["host", "reason", "count"],
        };
    }

    private List<Alert> StillOpen() => [.. run.Changes
        .GroupBy(c => c.Alert.Id)
        .Select(g => g.MaxBy(c => c.Alert.Revision).Alert)
        .Where(a => a.Status == AlertStatus.Open)];

    private async Task<IReadOnlyList<Testing.InfluxSeries>> RunPanel(string file, string title, CancellationToken ct)
    {
        var dashboard = Dashboards.Load(file);
        var target = Dashboards.Targets(dashboard.Root).Single(t => t.Panel.GetProperty("title").GetString() == title).Target;
        return await run.Influx.QueryAsync(Substitute(target.GetProperty("query").GetString()!, dashboard.Root), ct);
    }

    private static List<JsonElement> Numbers(IReadOnlyList<Testing.InfluxSeries> series) =>
        [.. series.SelectMany(s => s.Rows).SelectMany(r => r.Skip(1)).Where(v => v.ValueKind == JsonValueKind.Number)];

    /// <summary>
    /// Grafana's macros and variables as Grafana expands them for the last hour: "All" of a multi-value
    /// variable is its <c>allValue</c> (<c>.*</c>), a single-value VIN is the first truck's, a textbox its default.
    /// </summary>
    private string Substitute(string query, JsonElement dashboard)
    {
        var result = query
            .Replace("$timeFilter", "time > now() - 1h", StringComparison.Ordinal)
            .Replace("$__interval", "1m", StringComparison.Ordinal)
            .Replace("$__range_s", "3600", StringComparison.Ordinal);
        if (dashboard.ValueKind == JsonValueKind.Object)
        {
            foreach (var variable in Dashboards.Variables(dashboard).OrderByDescending(v => v.GetProperty("name").GetString()!.Length))
            {
                var name = variable.GetProperty("name").GetString()!;
                var type = variable.GetProperty("type").GetString();
                var value = type switch
                {
                    "textbox" or "constant" => variable.GetProperty("query").GetString()!,
                    "query" when variable.TryGetProperty("includeAll", out var all) && all.GetBoolean() => variable.GetProperty("allValue").GetString()!,
                    "query" when name == "vin" => run.Vehicles[0].Vin,
                    _ => null,
                };
                if (value is not null)
                    result = result.Replace("$" + name, value, StringComparison.Ordinal);
            }
        }
        return result;
    }

    [GeneratedRegex(@"/d/([A-Za-z0-9\-]+)/")]
    private static partial Regex LinkToDashboard();

    [GeneratedRegex(@"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex VariableUse();

    [GeneratedRegex(@"FROM\s+""([^""]+)""")]
    private static partial Regex FromMeasurement();

    [GeneratedRegex(@"AS\s+""([^""]+)""")]
    private static partial Regex Alias();

    [GeneratedRegex(@"""([^""]+)""")]
    private static partial Regex QuotedIdentifier();
}
