using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The alert API through the real program and its SQLite database: paging with a cursor and a total, lists without
/// evidence, unknown parameters refused by name, the case workflow and its audit trail, CSV export, problem details,
/// and an OpenAPI document that lists every endpoint.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ApiCaseTests
{
    [Fact]
    public async Task Alerts_PageFilterWorkTheCaseAndExport_ThroughHttp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null);
        var store = silo.Services.GetRequiredService<SqlAlertStore>();
        var t0 = new DateTime(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);
        var alerts = new[] { ApiAccessTests.NorthAlert(t0), ApiAccessTests.NorthAlert(t0.AddMinutes(10)), ApiAccessTests.NorthAlert(t0.AddMinutes(20), "R9.offline") };
        foreach (var a in alerts)
            await store.UpsertAsync(a, ct);

        // Paging: newest first, a total, no evidence in lists.
        var first = await GetJsonAsync(silo, "/api/alerts?limit=2", ct);
        Assert.Equal(3, first.GetProperty("total").GetInt64());
        Assert.Equal([alerts[2].Id, alerts[1].Id], Ids(first));
        Assert.All(first.GetProperty("items").EnumerateArray(), i => Assert.False(i.TryGetProperty("evidence", out _)));
        var cursor = first.GetProperty("nextCursor").GetString()!;
        var second = await GetJsonAsync(silo, $"/api/alerts?limit=2&cursor={Uri.EscapeDataString(cursor)}", ct);
        Assert.Equal([alerts[0].Id], Ids(second));
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
        Assert.Equal([alerts[2].Id], Ids(await GetJsonAsync(silo, "/api/alerts?rule=R9&fleet=north&region=370100&from=2026-11-30T08:15:00Z", ct)));

        // Unknown parameters are named; a bad cursor is a 400.
        await AssertProblemAsync(silo, HttpMethod.Get, "/api/alerts?colour=red&size=2", null, 400, "Unknown parameters 'colour', 'size'", ct);
        await AssertProblemAsync(silo, HttpMethod.Get, "/api/alerts?cursor=bm9wZQ", null, 400, "Invalid parameter 'cursor'", ct);
        await AssertProblemAsync(silo, HttpMethod.Get, "/api/alerts?caseState=pending", null, 400, "Invalid parameter 'caseState'", ct);
        await AssertProblemAsync(silo, HttpMethod.Get, "/api/alerts/LNRTH000000000001-R1-20000101T000000Z", null, 404, "Not found", ct);

        // The case workflow, and what the audit trail keeps.
        var id = alerts[0].Id;
        foreach (var step in new object[]
        {
            new { action = "acknowledge" },
            new { action = "assign", assignee = "inspector.wang" },
            new { action = "comment", comment = "Fleet called; truck at the depot tomorrow." },
            new { action = "close", reason = "confirmedViolation", comment = "SCR removed." },
            new { action = "reopen" },
        })
        {
            using var response = await silo.Http.PostAsJsonAsync($"/api/alerts/{id}/case", step, ct);
            Assert.True(response.IsSuccessStatusCode, $"{JsonSerializer.Serialize(step)}: {response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}");
        }
        await AssertProblemAsync(silo, HttpMethod.Post, $"/api/alerts/{id}/case", new { action = "acknowledge" }, 409, "The step does not apply to this case", ct);
        await AssertProblemAsync(silo, HttpMethod.Post, $"/api/alerts/{id}/case", new { action = "close" }, 409, "The step does not apply to this case", ct);

        var detail = await GetJsonAsync(silo, $"/api/alerts/{id}", ct);
        var alert = detail.GetProperty("alert");
        Assert.Equal(1, alert.GetProperty("evidence").GetArrayLength());
        Assert.Equal("assigned", alert.GetProperty("case").GetProperty("state").GetString());
        Assert.Equal("inspector.wang", alert.GetProperty("case").GetProperty("assignee").GetString());
        var audit = detail.GetProperty("audit").EnumerateArray().ToList();
        Assert.Equal(["acknowledge", "assign", "comment", "close", "reopen"], audit.Select(a => a.GetProperty("action").GetString()));
        Assert.All(audit, a => Assert.StartsWith("key:", a.GetProperty("actor").GetString(), StringComparison.Ordinal));
        Assert.Equal("reason=ConfirmedViolation; SCR removed.", audit[3].GetProperty("detail").GetString());
        Assert.Equal([id], Ids(await GetJsonAsync(silo, "/api/alerts?caseState=assigned", ct)));

        // CSV of the same query.
        var csv = await silo.Http.GetStringAsync(new Uri("/api/alerts/export?rule=R1", UriKind.Relative), ct);
        var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.StartsWith("id,ruleId,ruleName,severity,status,vin,fleet,region,zone,startUtc,lastHeldUtc,endUtc,caseState,assignee,closeReason,summary", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Count);
        Assert.Contains(lines, l => l.StartsWith($"{id},R1,NOx concentration,warning,open,LNRTH000000000001,north,370100,,2026-11-30T08:00:00Z,", StringComparison.Ordinal)
            && l.Contains(",assigned,inspector.wang,,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenApiDocument_ListsEveryApiEndpoint_AndTheScalarPageServesIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null);
        // The description needs a key like everything else (ApiDescriptionTests: any role, and the browser's way in).
        var client = silo.Http;

        using var document = JsonDocument.Parse(await client.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative), ct));
        var paths = document.RootElement.GetProperty("paths");
        var documented = paths.EnumerateObject().SelectMany(p => p.Value.EnumerateObject().Select(m => $"{m.Name.ToUpperInvariant()} {p.Name}")).ToHashSet();
        var mapped = silo.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/api", StringComparison.Ordinal))
            .SelectMany(e => e.Metadata.GetMetadata<HttpMethodMetadata>()!.HttpMethods.Select(m => $"{m} {e.RoutePattern.RawText}"))
            .ToList();
        Assert.NotEmpty(mapped);
        Assert.All(mapped, m => Assert.Contains(m, documented));
        var list = paths.GetProperty("/api/alerts").GetProperty("get");
        var parameters = list.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Contains("caseState", parameters);
        Assert.Contains("cursor", parameters);

        using var scalar = await client.GetAsync(new Uri("/scalar/v1", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.OK, scalar.StatusCode);
        Assert.Contains("openapi/v1.json", await scalar.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
    }

    private static async Task<JsonElement> GetJsonAsync(SiloUnderTest silo, string path, CancellationToken ct)
    {
        using var response = await silo.Http.GetAsync(new Uri(path, UriKind.Relative), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static string[] Ids(JsonElement page) => [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!)];

    private static async Task AssertProblemAsync(SiloUnderTest silo, HttpMethod method, string path, object? body, int status, string title, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await silo.Http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        Assert.True((int)response.StatusCode == status, $"{method} {path}: {response.StatusCode} {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(title, JsonDocument.Parse(text).RootElement.GetProperty("title").GetString());
    }
}
