using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The API's own description through the real program: the OpenAPI document lists every endpoint the application maps
/// under /api with the bearer scheme it needs, and it and the Scalar page need a key, which a browser can give through
/// its sign-in dialog.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ApiDescriptionTests
{
    [Fact]
    public async Task OpenApiDocument_ListsEveryApiEndpointWithTheBearerScheme_AndNeedsAKeyOfAnyRole()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null);
        var keys = silo.Services.GetRequiredService<ApiKeyStore>();
        var fleetKey = (await keys.CreateAsync("depot", ApiRoles.Fleet, ["north"], ct)).Secret;

        using var anonymous = silo.Anonymous();
        using (var denied = await anonymous.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative), ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
            Assert.Contains(denied.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
        }

        using var fleet = silo.WithKey(fleetKey);
        using var document = JsonDocument.Parse(await fleet.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative), ct));
        var root = document.RootElement;
        var scheme = root.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());

        var paths = root.GetProperty("paths");
        var endpoints = silo.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.StartsWith("/api/", StringComparison.Ordinal))
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (Path: e.RoutePattern.RawText!, Method: m.ToLowerInvariant())))
            .Distinct()
            .ToList();
        Assert.Contains(("/api/vehicles", "get"), endpoints);
        Assert.Contains(("/api/vehicles/{vin}/track", "get"), endpoints);
        var missing = new List<string>();
        foreach (var (path, method) in endpoints)
        {
            if (!paths.TryGetProperty(path, out var item) || !item.TryGetProperty(method, out var operation))
            {
                missing.Add($"{method} {path}: not in the document");
                continue;
            }
            var bearer = operation.TryGetProperty("security", out var security)
                && security.EnumerateArray().Any(r => r.TryGetProperty("Bearer", out _));
            if (!bearer)
                missing.Add($"{method} {path}: no bearer security requirement");
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing));
        // Liveness is the one endpoint without a key.
        Assert.False(paths.GetProperty("/health").GetProperty("get").TryGetProperty("security", out _));
    }

    [Fact]
    public async Task ScalarPage_OpensWithTheKeyAsTheBrowsersSignInPassword_AndPrefersTheBearerScheme()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null);
        var keys = silo.Services.GetRequiredService<ApiKeyStore>();
        var key = (await keys.CreateAsync("officer", ApiRoles.Enforcement, [], ct)).Secret;

        using var anonymous = silo.Anonymous();
        using (var denied = await anonymous.GetAsync(new Uri("/scalar/v1", UriKind.Relative), ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
            Assert.Contains(denied.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
            Assert.Equal("application/problem+json", denied.Content.Headers.ContentType?.MediaType);
        }
        // An API endpoint's 401 does not make a browser show a dialog.
        using (var api = await anonymous.GetAsync(new Uri("/api/vehicles", UriKind.Relative), ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
            Assert.DoesNotContain(api.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
        }

        // What a browser sends after its dialog: any user name, the key as password.
        using var browser = silo.Anonymous();
        browser.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("officer:" + key)));
        var page = await browser.GetStringAsync(new Uri("/scalar/v1", UriKind.Relative), ct);
        Assert.Contains("Bearer", page, StringComparison.Ordinal);
        Assert.Contains("openapi", page, StringComparison.Ordinal);
        using (var script = await browser.GetAsync(new Uri("/scalar/scalar.js", UriKind.Relative), ct))
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        using (var description = await browser.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative), ct))
            Assert.Equal(HttpStatusCode.OK, description.StatusCode);

        // A wrong password, or none, is refused.
        browser.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("officer:tlm_000000000000_wrong")));
        using (var wrong = await browser.GetAsync(new Uri("/scalar/v1", UriKind.Relative), ct))
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        browser.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("officer")));
        using (var none = await browser.GetAsync(new Uri("/scalar/v1", UriKind.Relative), ct))
            Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
    }
}
