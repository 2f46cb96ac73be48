using System.Text.Json;
using System.Text.RegularExpressions;

namespace Telemetry.Dashboards.Tests;

/// <summary>One dashboard file: its name, text and parsed root.</summary>
public sealed record class DashboardFile(string Name, string Text, JsonElement Root);

/// <summary>Reads the dashboards and provisioning files of the repository.</summary>
public static partial class Dashboards
{
    public static string Directory => Path.Combine(RepositoryRoot(), "dashboards");

    /// <summary>Every <c>dashboards/*.json</c>, parsed (a file that is not valid JSON fails here with its name).</summary>
    public static IReadOnlyList<DashboardFile> All() =>
        [.. System.IO.Directory.GetFiles(Directory, "*.json").Order(StringComparer.Ordinal).Select(f => Load(Path.GetFileName(f)))];

    /// <summary>The dashboards whose datasource variable is of type influxdb.</summary>
    public static IEnumerable<DashboardFile> InfluxDashboards() =>
        All().Where(d => Variables(d.Root).Any(v => v.GetProperty("type").GetString() == "datasource" && v.GetProperty("query").GetString() == "influxdb"));

    public static DashboardFile Load(string name)
    {
        var text = File.ReadAllText(Path.Combine(Directory, name));
        try
        {
            using var document = JsonDocument.Parse(text);
            return new DashboardFile(name, text, document.RootElement.Clone());
        }
        catch (JsonException ex)
        {
            throw new Xunit.Sdk.XunitException($"dashboards/{name} is not valid JSON: {ex.Message}");
        }
    }

    public static IEnumerable<JsonElement> Variables(JsonElement dashboard) =>
        dashboard.GetProperty("templating").GetProperty("list").EnumerateArray();

    /// <summary>Every panel, those inside rows too.</summary>
    public static IEnumerable<JsonElement> Panels(JsonElement dashboard)
    {
        foreach (var panel in dashboard.GetProperty("panels").EnumerateArray())
        {
            if (panel.GetProperty("type").GetString() == "row" && panel.TryGetProperty("panels", out var inner))
            {
                foreach (var child in inner.EnumerateArray())
                    yield return child;
                continue;
            }
            yield return panel;
        }
    }

    public static IEnumerable<(JsonElement Panel, JsonElement Target)> Targets(JsonElement dashboard) =>
        Panels(dashboard).Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray().Select(t => (p, t)));

    /// <summary>The rules of <c>dashboards/provisioning/alerting/*.json</c>.</summary>
    public static IEnumerable<JsonElement> AlertRules()
    {
        foreach (var file in System.IO.Directory.GetFiles(Path.Combine(Directory, "provisioning", "alerting"), "*.json"))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(file));
            foreach (var group in document.RootElement.GetProperty("groups").EnumerateArray())
            {
                foreach (var rule in group.GetProperty("rules").EnumerateArray())
                    yield return rule.Clone();
            }
        }
    }

    /// <summary>The <c>uid:</c> values of the provisioned data sources.</summary>
    public static HashSet<string> ProvisionedDatasourceUids() =>
        [.. System.IO.Directory.GetFiles(Path.Combine(Directory, "provisioning", "datasources"), "*.yaml")
            .SelectMany(File.ReadAllLines)
            .Select(l => DatasourceUid().Match(l))
            .Where(m => m.Success)
            .Select(m => m.Groups[1].Value)];

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Telemetry.sln")))
                return dir.FullName;
        }
        throw new DirectoryNotFoundException($"No Telemetry.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"^\s+uid:\s*([A-Za-z0-9\-_]+)\s*$")]
    private static partial Regex DatasourceUid();
}
