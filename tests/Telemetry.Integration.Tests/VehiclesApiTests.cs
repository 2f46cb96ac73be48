using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Protocol;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The vehicles side of the API through the real program: real frames through a real broker, the registry file, the
/// alert database. The list merges the registry with the vehicles heard on the wire; the live state names the rules
/// that run and those silent for lack of fields; the track is the grain's compact ring; nothing here activates a grain
/// for a vehicle the silo has not heard from.
/// </summary>
[Trait("Category", "Integration")]
public sealed class VehiclesApiTests
{
    private const string NorthVin = "LNRTH000000000001";
    private const string SouthVin = "LSTH0000000000002";
    private const string StrayVin = "LSTRAY00000000003";
    private const string NeverVin = "LNEVER00000000009";

    [Fact]
    public async Task Vehicles_ListDetailTrackAndHistory_FollowTheWireTheRegistryAndTheCallersScope()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        var registry = Path.Combine(Directory.CreateTempSubdirectory("telemetry-registry-").FullName, "registry.json");
        await File.WriteAllTextAsync(registry, $$"""
            [{"vin":"{{NorthVin}}","fleet":"north","region":"370100","engineModel":"WP10","referenceTorqueNm":2200,"emissionStage":"China VI"},
             {"vin":"{{SouthVin}}","fleet":"south","region":"370200"}]
            """, ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:ReferenceData:RegistryPath"] = registry,
            // A short limit, so that a real episode opens within a few minutes of data.
            ["Telemetry:Detection:R9:PositionInvalidSeconds"] = "60",
        });
        var keys = silo.Services.GetRequiredService<ApiKeyStore>();
        using var north = silo.WithKey((await keys.CreateAsync("north", ApiRoles.Fleet, ["north"], ct)).Secret);
        using var southOfficer = silo.WithKey((await keys.CreateAsync("officer", ApiRoles.Enforcement, ["370200"], ct)).Secret);
        var management = silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);

        // North drives for two minutes with a fix and no NOx sensor, then 90 s without a fix (R9.position opens);
        // a stray terminal the registry does not know sends one frame.
        var now = DateTime.UtcNow;
        var t0 = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc).AddSeconds(-215);
        var random = new Random(3);
        var samples = Enumerable.Range(0, 210).Select(i => Sample.Empty(t0.AddSeconds(i)) with
        {
            SpeedKmh = 55 + random.NextDouble() * 10,
            EngineSpeedRpm = 1300 + random.NextDouble() * 100,
            CoolantTempC = 82,
            ScrInletTempC = 310 + random.NextDouble() * 20,
            FuelFlowLph = 20 + random.NextDouble() * 4,
            Longitude = 117.000000 + i * 0.0002,
            Latitude = 36.600000 + i * 0.0001,
            PositionStatus = (byte)(i < 120 ? 0 : 1),
        }).ToList();
        await using (var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct))
        {
            for (var f = 0; f < 21; f++)
            {
                var batch = new TelemetryBatch(NorthVin, FrameKind.RealTime, samples[f * 10].TimeUtc, (ushort)f, [.. samples.Skip(f * 10).Take(10)], [], default);
                await terminal.PublishAsync($"hdv/{NorthVin}/hj1239", FrameEncoder.Encode(batch, TerminalProfile.Hj1239), ct);
            }
            var stray = Sample.Empty(samples[^1].TimeUtc) with { EngineSpeedRpm = 0, Longitude = 117.5, Latitude = 36.5, PositionStatus = 0 };
            await terminal.PublishAsync($"hdv/{StrayVin}/hj1239",
                FrameEncoder.Encode(new TelemetryBatch(StrayVin, FrameKind.RealTime, stray.TimeUtc, 1, [stray], [], default), TerminalProfile.Hj1239), ct);
        }
        var index = silo.Services.GetRequiredService<VehicleIndex>();
        await Eventually.WaitAsync(() => silo.Ingest.Totals.Decoded == 22 && index.IsKnown(NorthVin) && index.IsKnown(StrayVin), TimeSpan.FromSeconds(60),
            "the silo stores every frame", ct);

        // The list: registry and wire, by VIN, with online state and open alerts from the alert database.
        var all = await PageAsync(silo.Http, "/api/vehicles", ct);
        Assert.Equal(3, all.GetProperty("total").GetInt64());
        Assert.Equal([NorthVin, SouthVin, StrayVin], Vins(all));
        var northItem = all.GetProperty("items")[0];
        Assert.Equal("north", northItem.GetProperty("fleet").GetString());
        Assert.Equal("WP10", northItem.GetProperty("engineModel").GetString());
        Assert.True(northItem.GetProperty("registered").GetBoolean());
        Assert.True(northItem.GetProperty("online").GetBoolean());
        Assert.True(northItem.GetProperty("openAlerts").GetInt32() >= 1, northItem.ToString());
        var southItem = all.GetProperty("items")[1];
        Assert.False(southItem.GetProperty("online").GetBoolean());
        Assert.Equal(JsonValueKind.Null, southItem.GetProperty("lastReceivedUtc").ValueKind);
        var strayItem = all.GetProperty("items")[2];
        Assert.False(strayItem.GetProperty("registered").GetBoolean());
        Assert.Equal(JsonValueKind.Null, strayItem.GetProperty("fleet").ValueKind);
        Assert.True(strayItem.GetProperty("online").GetBoolean());

        Assert.Equal([NorthVin, StrayVin], Vins(await PageAsync(silo.Http, "/api/vehicles?online=true", ct)));
        Assert.Equal([SouthVin], Vins(await PageAsync(silo.Http, "/api/vehicles?online=FALSE", ct)));
        Assert.Equal([NorthVin], Vins(await PageAsync(silo.Http, "/api/vehicles?openAlerts=true", ct)));
        Assert.Equal([SouthVin, StrayVin], Vins(await PageAsync(silo.Http, "/api/vehicles?openAlerts=false", ct)));
        Assert.Equal([SouthVin], Vins(await PageAsync(silo.Http, "/api/vehicles?region=370200", ct)));
        Assert.Equal([NorthVin], Vins(await PageAsync(silo.Http, "/api/vehicles?fleet=north&online=true&openAlerts=true", ct)));

        // Paging by cursor: every vehicle once, in order, the total on every page.
        var paged = new List<string>();
        string? cursor = null;
        do
        {
            var page = await PageAsync(silo.Http, "/api/vehicles?limit=1" + (cursor is null ? "" : "&cursor=" + cursor), ct);
            Assert.Equal(3, page.GetProperty("total").GetInt64());
            paged.AddRange(Vins(page));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal([NorthVin, SouthVin, StrayVin], paged);

        // Scope: a fleet sees its own; a regional officer sees its region and not the unregistered vehicle.
        Assert.Equal([NorthVin], Vins(await PageAsync(north, "/api/vehicles", ct)));
        Assert.Empty(Vins(await PageAsync(north, "/api/vehicles?fleet=south", ct)));
        Assert.Equal([SouthVin], Vins(await PageAsync(southOfficer, "/api/vehicles", ct)));
        var csv = (await silo.Http.GetStringAsync(new Uri("/api/vehicles/export?online=true", UriKind.Relative), ct)).Split(["\r\n", "\n"], StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("vin,fleet,region,engineModel,emissionStage,registered,online,lastReceivedUtc,openAlerts", csv[0]);
        Assert.Equal(3, csv.Length);
        Assert.StartsWith($"{NorthVin},north,370100,WP10,China VI,true,true,", csv[1], StringComparison.Ordinal);

        // Bad parameters are a 400 that names them.
        foreach (var (query, title) in new[]
        {
            ("?online=maybe", "Invalid parameter 'online'"),
            ("?openAlerts=1", "Invalid parameter 'openAlerts'"),
            ("?limit=0", "Invalid parameter 'limit'"),
            ("?cursor=bm90LWEtY3Vyc29y", "Invalid parameter 'cursor'"),
            ("?fleet=north&colour=red", "Unknown parameter 'colour'"),
        })
        {
            await AssertProblemAsync(silo.Http, "/api/vehicles" + query, HttpStatusCode.BadRequest, title, ct);
        }

        // The live state: registry data, online, last sample, the open episode, active and silent rules.
        var detail = await silo.Http.GetFromJsonAsync<JsonElement>($"/api/vehicles/{NorthVin}", ct);
        Assert.True(detail.GetProperty("registered").GetBoolean());
        Assert.True(detail.GetProperty("online").GetBoolean());
        Assert.Equal("370100", detail.GetProperty("region").GetString());
        Assert.Equal(210, detail.GetProperty("samplesAccepted").GetInt64());
        Assert.Equal(samples[^1].TimeUtc, detail.GetProperty("lastSampleUtc").GetDateTime().ToUniversalTime());
        Assert.Equal(JsonValueKind.Object, detail.GetProperty("lastSample").ValueKind);
        var episode = detail.GetProperty("openEpisodes").EnumerateArray().Single(e => e.GetProperty("ruleId").GetString() == "R9.position");
        Assert.Contains(episode.GetProperty("id").GetString(), detail.GetProperty("openAlertIds").EnumerateArray().Select(e => e.GetString()));
        Assert.False(episode.TryGetProperty("evidence", out _));
        var rules = detail.GetProperty("rules").EnumerateArray().ToDictionary(r => r.GetProperty("ruleId").GetString()!);
        Assert.False(rules["R1"].GetProperty("active").GetBoolean());
        Assert.Contains("noxDownstreamPpm", rules["R1"].GetProperty("missingFields").EnumerateArray().Select(f => f.GetString()));
        Assert.True(rules["R9.position"].GetProperty("active").GetBoolean());
        Assert.True(rules["R9.position"].GetProperty("episodeOpen").GetBoolean());

        // The track: one fix per 20 s of the two minutes with a fix, as a GeoJSON LineString.
        using (var response = await silo.Http.GetAsync(new Uri($"/api/vehicles/{NorthVin}/track?minutes=60", UriKind.Relative), ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/geo+json", response.Content.Headers.ContentType?.MediaType);
            using var track = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            var root = track.RootElement;
            Assert.Equal("Feature", root.GetProperty("type").GetString());
            Assert.Equal("LineString", root.GetProperty("geometry").GetProperty("type").GetString());
            var coordinates = root.GetProperty("geometry").GetProperty("coordinates").EnumerateArray().ToList();
            Assert.Equal(6, coordinates.Count);
            for (var k = 0; k < coordinates.Count; k++)
            {
                Assert.Equal(samples[k * 20].Longitude, coordinates[k][0].GetDouble(), 6);
                Assert.Equal(samples[k * 20].Latitude, coordinates[k][1].GetDouble(), 6);
            }
            var times = root.GetProperty("properties").GetProperty("times").EnumerateArray().Select(t => t.GetDateTime().ToUniversalTime()).ToList();
            Assert.Equal(Enumerable.Range(0, 6).Select(k => samples[k * 20].TimeUtc), times);
        }
        var lastMinute = await silo.Http.GetFromJsonAsync<JsonElement>($"/api/vehicles/{NorthVin}/track?minutes=1", ct);
        Assert.Equal(4, lastMinute.GetProperty("geometry").GetProperty("coordinates").GetArrayLength());
        await AssertProblemAsync(silo.Http, $"/api/vehicles/{NorthVin}/track?minutes=0", HttpStatusCode.BadRequest, "Invalid parameter 'minutes'", ct);
        await AssertProblemAsync(silo.Http, $"/api/vehicles/{NorthVin}/track?minutes=61", HttpStatusCode.BadRequest, "Invalid parameter 'minutes'", ct);
        await AssertProblemAsync(north, $"/api/vehicles/{StrayVin}/track", HttpStatusCode.NotFound, "Not found", ct);

        // The history from the alert database, paged like /api/alerts, without evidence; another fleet gets a 404.
        var history = await PageAsync(north, $"/api/vehicles/{NorthVin}/alerts?rule=R9.position", ct);
        Assert.Equal(1, history.GetProperty("total").GetInt64());
        Assert.Equal("R9.position", history.GetProperty("items")[0].GetProperty("ruleId").GetString());
        Assert.False(history.GetProperty("items")[0].TryGetProperty("evidence", out _));
        await AssertProblemAsync(southOfficer, $"/api/vehicles/{NorthVin}/alerts", HttpStatusCode.NotFound, "Not found", ct);
        await AssertProblemAsync(silo.Http, $"/api/vehicles/{NorthVin}/alerts?status=maybe", HttpStatusCode.BadRequest, "Invalid parameter 'status'", ct);

        // A registered vehicle never heard of: registry data, an empty track, no history, and no grain.
        var south = await silo.Http.GetFromJsonAsync<JsonElement>($"/api/vehicles/{SouthVin}", ct);
        Assert.False(south.GetProperty("online").GetBoolean());
        Assert.Equal("south", south.GetProperty("fleet").GetString());
        Assert.Equal(0, south.GetProperty("rules").GetArrayLength());
        var southTrack = await silo.Http.GetFromJsonAsync<JsonElement>($"/api/vehicles/{SouthVin}/track", ct);
        Assert.Equal(JsonValueKind.Null, southTrack.GetProperty("geometry").ValueKind);
        Assert.Equal(0, (await PageAsync(silo.Http, $"/api/vehicles/{SouthVin}/alerts", ct)).GetProperty("total").GetInt64());

        // A VIN never heard of and not registered: a 404 on every endpoint, and no grain either.
        foreach (var path in new[] { $"/api/vehicles/{NeverVin}", $"/api/vehicles/{NeverVin}/track", $"/api/vehicles/{NeverVin}/alerts" })
            await AssertProblemAsync(silo.Http, path, HttpStatusCode.NotFound, "Not found", ct);
        var grains = silo.Services.GetRequiredService<IGrainFactory>();
        Assert.Equal(0, await management.GetGrainActivationCount((GrainReference)grains.GetGrain<IVehicleGrain>(NeverVin), ct));
        Assert.Equal(0, await management.GetGrainActivationCount((GrainReference)grains.GetGrain<IVehicleGrain>(SouthVin), ct));
        // The check can fail: the vehicle that sent data has its grain.
        Assert.Equal(1, await management.GetGrainActivationCount((GrainReference)grains.GetGrain<IVehicleGrain>(NorthVin), ct));
        Assert.False(index.IsKnown(NeverVin));

        // The references ingest builds (Orleans type names resolved once) name the same grain through the same interface.
        var fromIngest = (GrainReference)grains.GetVehicle(NorthVin);
        var usual = (GrainReference)grains.GetGrain<IVehicleGrain>(NorthVin);
        Assert.Equal(usual.GetGrainId(), fromIngest.GetGrainId());
        Assert.Equal(usual.InterfaceType, fromIngest.InterfaceType);
        Assert.Equal(NorthVin, (await grains.GetVehicle(NorthVin).GetStatus()).Vin);
    }

    private static async Task<JsonElement> PageAsync(HttpClient client, string path, CancellationToken ct)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static List<string> Vins(JsonElement page) => [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("vin").GetString()!)];

    private static async Task AssertProblemAsync(HttpClient client, string path, HttpStatusCode status, string title, CancellationToken ct)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.StatusCode == status, $"{path}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(title, problem.RootElement.GetProperty("title").GetString());
    }
}
