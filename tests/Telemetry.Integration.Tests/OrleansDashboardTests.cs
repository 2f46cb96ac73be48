using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Api;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>The Orleans dashboard, when switched on: grain state and the live log are in it, so only admins see it.</summary>
[Trait("Category", "Integration")]
public sealed class OrleansDashboardTests
{
    [Fact]
    public async Task Dashboard_WhenOn_AnswersAdminsOnly_AndAsksABrowserForTheKey()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Orleans:Dashboard"] = "true",
        });
        var (_, fleetKey) = await silo.Services.GetRequiredService<ApiKeyStore>().CreateAsync("north", ApiRoles.Fleet, ["north"], ct);
        using var anonymous = silo.Anonymous();
        using var fleet = silo.WithKey(fleetKey);

        using var refused = await anonymous.GetAsync("/orleans/", ct);
        using var forbidden = await fleet.GetAsync("/orleans/", ct);
        using var page = await silo.Http.GetAsync("/orleans/", ct);
        using var cluster = await silo.Http.GetAsync("/orleans/ClusterStats", ct);
        using var state = await fleet.GetAsync("/orleans/GrainState", ct);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains(refused.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, state.StatusCode);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, cluster.StatusCode);
        Assert.Equal("application/json", cluster.Content.Headers.ContentType?.MediaType);
    }
}
