using System.Net;
using System.Text.Json;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>Hostile or malformed API calls get a 400 that names the parameter, never a crash.</summary>
[Trait("Category", "Integration")]
public sealed class ApiTests
{
    [Fact]
    public async Task BadQueryParameters_AreRejectedNamingTheParameter()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null);

        foreach (var (query, parameter) in new[]
        {
            ("?limit=abc", "limit"),
            ("?limit=0", "limit"),
            ("?limit=100000", "limit"),
            ("?vin=LSIM'%20OR%201=1", "vin"),
            ("?status=maybe", "status"),
            ("?since=yesterday", "since"),
            ("?rule=" + new string('R', 300), "rule"),
        })
        {
            using var response = await silo.Http.GetAsync(new Uri($"/api/alerts{query}", UriKind.Relative), ct);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            Assert.Equal($"Invalid parameter '{parameter}'", problem.RootElement.GetProperty("title").GetString());
        }

        using var badVin = await silo.Http.GetAsync(new Uri("/api/vehicles/NOT-A-VIN", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.BadRequest, badVin.StatusCode);
        using var missing = await silo.Http.GetAsync(new Uri("/api/alerts/LSJMBADFRAM000001-R1-20260101T000000Z", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var fine = await silo.Http.GetAsync(new Uri("/api/alerts?status=open&rule=R9&limit=10", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        Assert.Equal("""{"items":[],"total":0,"nextCursor":null}""", await fine.Content.ReadAsStringAsync(ct));
    }
}
