extern alias cli;

using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The registry in the database, through the real program: imported with <c>PUT /api/registry</c> and with
/// <c>telemetry-cli registry</c> into the silo's own database file, in force at once for scopes, reference data and
/// <c>RequireRegistered</c>, exported back as the same records.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RegistryApiTests
{
    private const string NorthVin = "LREGNXRTH00000001";
    private const string SouthVin = "LREGSXUTH00000001";
    private const string CliVin = "LREGCLX0000000001";
    private const string StrangerVin = "LREGSTRANGER00001";

    [Fact]
    public async Task RegistryImportedThroughTheApiAndTheCli_IsInForce_ForScopesAndUnregisteredFrames_AndExportsBack()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:ReferenceData:RequireRegistered"] = "true",
            ["Telemetry:ReferenceData:ReloadInterval"] = "00:00:01",
        });
        var database = Path.Combine(silo.DataDirectory, "telemetry.db");
        using var north = silo.WithKey(Cli(["keys", "create", "--database", database, "--name", "depot north", "--role", "fleet", "--scope", "north"]).Trim());

        // Nothing registered yet: the fleet sees nothing, and a frame of any VIN is refused.
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(north, $"/api/vehicles/{NorthVin}", ct));

        // A CSV with a quoted comma, a comment and columns in another order.
        var csv = $"""
            # registry of the test
            fleet,vin,region,engineModel,referenceTorqueNm,emissionStage
            north,{NorthVin},370100,"WP13, 480 hp",2300,China VI
            south,{SouthVin},370200,D11,1900.5,China VI
            """;
        using var imported = await silo.Http.PutAsync("/api/registry", new StringContent(csv, Encoding.UTF8, "text/csv"), ct);
        Assert.Equal(HttpStatusCode.OK, imported.StatusCode);
        var result = await imported.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal(2, result.GetProperty("added").GetInt32());
        Assert.Equal(2, result.GetProperty("registered").GetInt32());

        // In force in this answer already: the fleet sees its own registered truck and not the other fleet's.
        using var own = await north.GetAsync($"/api/vehicles/{NorthVin}", ct);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var detail = await own.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal("WP13, 480 hp", detail.GetProperty("engineModel").GetString());
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(north, $"/api/vehicles/{SouthVin}", ct));

        // RequireRegistered: the registered truck's frame is heard, a stranger's is refused as unregistered.
        var index = silo.Services.GetRequiredService<Telemetry.Grains.VehicleIndex>();
        await using (var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct))
        {
            await terminal.PublishAsync($"hdv/{StrangerVin}/gb17691", DeviceAccessTests.Frame(StrangerVin, DeviceAccessTests.RecentSecond()), ct);
            await terminal.PublishAsync($"hdv/{NorthVin}/gb17691", DeviceAccessTests.Frame(NorthVin, DeviceAccessTests.RecentSecond()), ct);
        }
        await Eventually.WaitAsync(() => index.IsKnown(NorthVin) && silo.Ingest.Totals.Rejected == 1, TimeSpan.FromSeconds(30),
            "the registered truck heard and the stranger refused", ct);
        Assert.False(index.IsKnown(StrangerVin));
        Assert.Matches("telemetry_ingest_rejected_total\\{[^}]*reason=\"unregistered\"[^}]*\\} 1(\\s|$)",
            await silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct));

        // The CLI writes into the silo's database file; the running silo reloads within its interval.
        var json = Path.Combine(silo.DataDirectory, "more.json");
        await File.WriteAllTextAsync(json, $$"""[{"vin":"{{CliVin}}","fleet":"north","region":"370100","terminalProfile":"signedRecords","terminalPublicKey":"04{{new string('B', 128)}}"}]""", ct);
        Assert.Equal("1 added, 0 updated, 0 unchanged, 0 removed.", Cli(["registry", "import", "--database", database, json]).Trim());
        await Eventually.WaitAsync(async () => await StatusAsync(north, $"/api/vehicles/{CliVin}", ct) == HttpStatusCode.OK,
            TimeSpan.FromSeconds(15), "the silo reloads the registry the CLI changed", ct);

        // Exports, through the API and the CLI, read back to the same records.
        var exportedCsv = await silo.Http.GetStringAsync(new Uri("/api/registry?format=csv", UriKind.Relative), ct);
        var exportedJson = await silo.Http.GetStringAsync(new Uri("/api/registry", UriKind.Relative), ct);
        var fromCli = Cli(["registry", "export", "--database", database, "--format", "csv"]);
        Assert.Equal(exportedCsv, fromCli);
        var records = Telemetry.Detection.VehicleRegistry.Parse(exportedCsv).OrderBy(v => v.Vin, StringComparer.Ordinal).ToList();
        Assert.Equal([CliVin, NorthVin, SouthVin], records.Select(v => v.Vin));
        Assert.Equal(records, Telemetry.Detection.VehicleRegistry.Parse(exportedJson).OrderBy(v => v.Vin, StringComparer.Ordinal));
        Assert.Equal(1900.5, records[2].ReferenceTorqueNm);
        Assert.Equal("signedRecords", records[0].TerminalProfile);

        // Refusals: a bad line is named, an empty replace is refused, a fleet key may not import.
        using var bad = await silo.Http.PutAsync("/api/registry", new StringContent("vin,referenceTorqueNm\nLREGBAD0000000001,heavy\n", Encoding.UTF8, "text/csv"), ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("line 2", await bad.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        using var emptied = await silo.Http.PutAsync("/api/registry?replace=true", new StringContent("vin\n", Encoding.UTF8, "text/csv"), ct);
        Assert.Equal(HttpStatusCode.BadRequest, emptied.StatusCode);
        using var forbidden = await north.PutAsync("/api/registry", new StringContent(csv, Encoding.UTF8, "text/csv"), ct);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        // Replace: the registry becomes exactly the import; the removed trucks are out of the fleet's sight.
        using var replaced = await silo.Http.PutAsync("/api/registry?replace=true",
            new StringContent($"vin,fleet,region\n{NorthVin},north,370100\n", Encoding.UTF8, "text/csv"), ct);
        var after = await replaced.Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal((0, 1, 0, 2, 1), (after.GetProperty("added").GetInt32(), after.GetProperty("updated").GetInt32(),
            after.GetProperty("unchanged").GetInt32(), after.GetProperty("removed").GetInt32(), after.GetProperty("registered").GetInt32()));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(north, $"/api/vehicles/{CliVin}", ct));
        Assert.Equal("Removed " + NorthVin + " from the registry.", Cli(["registry", "remove", "--database", database, NorthVin]).Trim());
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string path, CancellationToken ct)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), ct);
        return response.StatusCode;
    }

    private static string Cli(string[] args)
    {
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        var exit = cli::Telemetry.Cli.CliApp.Run(args, Stream.Null, stdout, stderr);
        Assert.True(exit == 0, $"telemetry-cli {string.Join(' ', args)} exited {exit}: {stdout}{stderr}");
        return stdout.ToString();
    }
}
