extern alias cli;

using System.Collections.Immutable;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Who may see what, through the real HTTP stack of the real program: every endpoint the application maps is called by
/// every role (and anonymously) and must answer as the table says. An endpoint without a row fails the test, so a new
/// endpoint cannot ship without its access rules being stated and checked.
/// </summary>
[Trait("Category", "Integration")]
public sealed class ApiAccessTests
{
    private const string NorthVin = "LNRTH000000000001";
    private const string NorthFleet = "north";
    private const string NorthRegion = "370100";

    /// <summary>The callers: anonymous, and one key per role and scope.</summary>
    private static readonly string[] Callers = ["anonymous", "admin", "enforcement", "enforcement-other-region", "fleet-north", "fleet-south"];

    // Expected status per caller, in the order of Callers. 0 = the endpoint streams; its status is read from the headers.
    private static readonly Dictionary<string, int[]> Expected = new(StringComparer.Ordinal)
    {
        ["GET /api/alerts"] = [401, 200, 200, 200, 200, 200],
        ["GET /api/alerts/export"] = [401, 200, 200, 200, 200, 200],
        ["GET /api/alerts/stream"] = [401, 200, 200, 200, 200, 200],
        ["GET /api/alerts/{id}"] = [401, 200, 200, 404, 200, 404],
        ["POST /api/alerts/{id}/case"] = [401, 200, 200, 404, 403, 403],
        ["GET /api/vehicles"] = [401, 200, 200, 200, 200, 200],
        ["GET /api/vehicles/export"] = [401, 200, 200, 200, 200, 200],
        ["GET /api/vehicles/{vin}"] = [401, 200, 200, 404, 200, 404],
        ["GET /api/vehicles/{vin}/track"] = [401, 200, 200, 404, 200, 404],
        ["GET /api/vehicles/{vin}/alerts"] = [401, 200, 200, 404, 200, 404],
        ["GET /api/keys"] = [401, 200, 403, 403, 403, 403],
        ["GET /api/registry"] = [401, 200, 403, 403, 403, 403],
        // The registry of this test is a file: an import into the database's registry is refused as not in force.
        ["PUT /api/registry"] = [401, 409, 403, 403, 403, 403],
        // Reports: a fleet caller only of its own fleets' vehicles, enforcement only of its regions' vehicles.
        ["GET /api/reports/vehicles/{vin}"] = [401, 200, 200, 404, 200, 404],
        ["GET /api/reports/fleets/{fleet}"] = [401, 200, 200, 404, 200, 404],
        ["GET /health"] = [200, 200, 200, 200, 200, 200],
        ["GET /health/ready"] = [200, 200, 200, 200, 200, 200],
        ["GET /health/live"] = [200, 200, 200, 200, 200, 200],
        // Published low-emission zones for the dashboards' map layer (a browser fetches it without a key): no vehicle data.
        ["GET /reference/zones.geojson"] = [200, 200, 200, 200, 200, 200],
        ["GET /metrics"] = [200, 200, 200, 200, 200, 200],
        // The API's own description: any role; a browser is asked for the key (Basic challenge).
        ["GET /openapi/{documentName}.json"] = [401, 200, 200, 200, 200, 200],
        ["GET /scalar/{documentName?}"] = [401, 200, 200, 200, 200, 200],
        ["GET /scalar/scalar.js"] = [401, 200, 200, 200, 200, 200],
        ["GET /scalar/scalar.aspnetcore.js"] = [401, 200, 200, 200, 200, 200],
        ["GET /scalar/favicon.svg"] = [401, 200, 200, 200, 200, 200],
    };

    // How many alerts each caller's list and export show (one alert, in fleet north, region 370100).
    private static readonly int[] VisibleAlerts = [0, 1, 1, 0, 1, 0];

    // A vehicle heard on the wire that is not in the registry: no fleet, no region.
    private const string StrayVin = "LSTRAY00000000001";

    // How many vehicles each caller's list and export show: the registered north vehicle (fleet north, region 370100)
    // and the stray one, which only unscoped callers see.
    private static readonly int[] VisibleVehicles = [0, 2, 2, 0, 1, 0];

    [Fact]
    public async Task EveryEndpoint_AnswersEveryRole_AsTheAccessTableSays_WithProblemDetailsOnEveryDenial()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        var registry = Path.Combine(Directory.CreateTempSubdirectory("telemetry-registry-").FullName, "registry.json");
        await File.WriteAllTextAsync(registry, $$"""[{"vin":"{{NorthVin}}","fleet":"{{NorthFleet}}","region":"{{NorthRegion}}","referenceTorqueNm":2200}]""", ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:ReferenceData:RegistryPath"] = registry,
        });
        var alert = NorthAlert();
        await silo.Services.GetRequiredService<SqlAlertStore>().UpsertAsync(alert, ct);
        await HearStrayVehicleAsync(broker, silo, ct);
        var clients = await ClientsAsync(silo, ct);

        var endpoints = silo.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => (Key: $"{m} /{e.RoutePattern.RawText!.TrimStart('/')}", Method: m, Pattern: e.RoutePattern.RawText!)))
            .Distinct()
            .ToList();
        var missing = endpoints.Where(e => !Expected.ContainsKey(e.Key)).Select(e => e.Key).ToList();
        Assert.True(missing.Count == 0, $"Endpoints without an access rule in this test: {string.Join(", ", missing)}");
        Assert.Equal(Expected.Keys.Order(StringComparer.Ordinal), endpoints.Select(e => e.Key).Distinct().Order(StringComparer.Ordinal));

        var failures = new List<string>();
        foreach (var (key, method, pattern) in endpoints)
        {
            var path = pattern.Replace("{id}", alert.Id, StringComparison.Ordinal).Replace("{vin}", NorthVin, StringComparison.Ordinal).Replace("{fleet}", NorthFleet, StringComparison.Ordinal)
                .Replace("{documentName}", "v1", StringComparison.Ordinal).Replace("{documentName?}", "v1", StringComparison.Ordinal);
            for (var c = 0; c < Callers.Length; c++)
            {
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                if (method == "POST")
                    request.Content = JsonContent.Create(new { action = "comment", comment = $"checked by {Callers[c]}" });
                using var response = await clients[c].SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                var status = (int)response.StatusCode;
                if (status != Expected[key][c])
                {
                    failures.Add($"{key} as {Callers[c]}: {status}, expected {Expected[key][c]}");
                    continue;
                }
                if (status >= 400)
                {
                    var body = await response.Content.ReadAsStringAsync(ct);
                    if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                        failures.Add($"{key} as {Callers[c]}: {status} without problem details ({response.Content.Headers.ContentType}): {body}");
                    else if (JsonDocument.Parse(body).RootElement.GetProperty("status").GetInt32() != status)
                        failures.Add($"{key} as {Callers[c]}: problem details with another status: {body}");
                    // What the caller asked for may be echoed; what is stored about it may not.
                    if (new[] { NorthFleet, NorthRegion, "NOx", "812.4" }.Any(d => body.Contains(d, StringComparison.Ordinal)))
                        failures.Add($"{key} as {Callers[c]}: the denial shows data: {body}");
                    var basic = response.Headers.WwwAuthenticate.Any(h => h.Scheme == "Basic");
                    if (status == 401 && basic != (key.StartsWith("GET /openapi", StringComparison.Ordinal) || key.StartsWith("GET /scalar", StringComparison.Ordinal)))
                        failures.Add($"{key} as {Callers[c]}: a Basic challenge {(basic ? "on an API endpoint" : "missing on a page a browser opens")}");
                }
                else if (key == "GET /api/alerts")
                {
                    var page = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
                    if (page.GetProperty("total").GetInt64() != VisibleAlerts[c] || page.GetProperty("items").GetArrayLength() != VisibleAlerts[c])
                        failures.Add($"{key} as {Callers[c]}: {page}, expected {VisibleAlerts[c]} alerts");
                }
                else if (key == "GET /api/alerts/export")
                {
                    var lines = (await response.Content.ReadAsStringAsync(ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    if (lines.Length != 1 + VisibleAlerts[c])
                        failures.Add($"{key} as {Callers[c]}: {lines.Length - 1} CSV rows, expected {VisibleAlerts[c]}");
                }
                else if (key == "GET /api/vehicles")
                {
                    var page = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
                    if (page.GetProperty("total").GetInt64() != VisibleVehicles[c] || page.GetProperty("items").GetArrayLength() != VisibleVehicles[c])
                        failures.Add($"{key} as {Callers[c]}: {page}, expected {VisibleVehicles[c]} vehicles");
                    if (page.ToString().Contains(StrayVin, StringComparison.Ordinal) && Callers[c] is not ("admin" or "enforcement"))
                        failures.Add($"{key} as {Callers[c]}: an unregistered vehicle in a scoped list: {page}");
                }
                else if (key == "GET /api/vehicles/export")
                {
                    var lines = (await response.Content.ReadAsStringAsync(ct)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                    if (lines.Length != 1 + VisibleVehicles[c])
                        failures.Add($"{key} as {Callers[c]}: {lines.Length - 1} CSV rows, expected {VisibleVehicles[c]}");
                }
                else if (key == "GET /api/registry")
                {
                    var registered = Telemetry.Detection.VehicleRegistry.Parse(await response.Content.ReadAsStringAsync(ct));
                    if (registered.Count != 1 || registered[0].Vin != NorthVin || registered[0].Fleet != NorthFleet)
                        failures.Add($"{key} as {Callers[c]}: {registered.Count} vehicles, expected the north vehicle");
                }
                else if (key == "GET /api/vehicles/{vin}/alerts")
                {
                    var page = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
                    if (page.GetProperty("total").GetInt64() != 1 || page.GetProperty("items")[0].TryGetProperty("evidence", out _))
                        failures.Add($"{key} as {Callers[c]}: {page}, expected the one alert without evidence");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        foreach (var client in clients)
            client.Dispose();
    }

    [Fact]
    public async Task Metrics_WithPublicMetricsOff_NeedAKeyOfAnyRole_HealthAndZonesStayOpen()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Api:PublicMetrics"] = "false",
        });
        using var anonymous = silo.Anonymous();

        using var refused = await anonymous.GetAsync("/metrics", ct);
        using var scraped = await silo.Http.GetAsync("/metrics", ct);
        using var ready = await anonymous.GetAsync("/health/live", ct);
        using var zones = await anonymous.GetAsync("/reference/zones.geojson", ct);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.Contains("# TYPE ", await scraped.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpStatusCode.OK, zones.StatusCode);
    }

    [Fact]
    public async Task AdminKey_IsWrittenOnFirstStartReadableByTheOwnerOnly_AndCliKeysCreateAndRevokeWork_AndNoKeyIsLogged()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        var log = new CapturingLoggerProvider();
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, services: s => s.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(log));

        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(silo.AdminKeyFile));
        using var anonymous = silo.Anonymous();
        using var denied = await anonymous.GetAsync(new Uri("/api/alerts", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        using var wrong = silo.WithKey("tlm_000000000000_notakey");
        using var refused = await wrong.GetAsync(new Uri("/api/alerts", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.DoesNotContain("notakey", await refused.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        var database = Path.Combine(silo.DataDirectory, "telemetry.db");
        var key = Cli(["keys", "create", "--database", database, "--name", "depot north", "--role", "fleet", "--scope", "north"]).Trim();
        using var fleet = silo.WithKey(key);
        using var ok = await fleet.GetAsync(new Uri("/api/alerts", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var forbidden = await fleet.GetAsync(new Uri("/api/keys", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        var listed = Cli(["keys", "list", "--database", database]);
        var id = listed.Split('\n').Single(l => l.Contains("depot north", StringComparison.Ordinal)).Split('\t')[0];
        Assert.DoesNotContain(key, listed, StringComparison.Ordinal);
        Cli(["keys", "revoke", "--database", database, id]);
        using var revoked = await fleet.GetAsync(new Uri("/api/alerts", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.StatusCode);

        // The log says where the admin key is, and never shows a key.
        var messages = log.Messages;
        Assert.Contains(messages, m => m.Contains(silo.AdminKeyFile, StringComparison.Ordinal));
        var adminKey = File.ReadAllText(silo.AdminKeyFile);
        foreach (var secret in new[] { adminKey, key, "notakey" })
            Assert.DoesNotContain(messages, m => m.Contains(secret, StringComparison.Ordinal));
    }

    /// <summary>Keeps every formatted log message (and exception text) of the host.</summary>
    private sealed class CapturingLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _messages = new();

        public IReadOnlyList<string> Messages => [.. _messages];

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(_messages);

        public void Dispose()
        {
        }

        private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> messages) : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
                Exception? exception, Func<TState, Exception?, string> formatter) =>
                messages.Enqueue(formatter(state, exception) + (exception is null ? "" : " " + exception));
        }
    }

    [Fact]
    public async Task JwtBearer_FromAConfiguredIssuer_GivesRoleAndScope_AndBadTokensAreRefused()
    {
        var ct = TestContext.Current.CancellationToken;
        const string signingKey = "a-test-signing-key-of-at-least-32-bytes!";
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Api:Jwt:SigningKey"] = signingKey,
            ["Telemetry:Api:Jwt:Issuer"] = "https://idp.test",
            ["Telemetry:Api:Jwt:Audience"] = "hdv-api",
        });
        var alert = NorthAlert();
        await silo.Services.GetRequiredService<SqlAlertStore>().UpsertAsync(alert, ct);

        static string Token(string key, string audience, DateTime expires, params (string Type, string Value)[] claims) =>
            new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
            {
                Issuer = "https://idp.test",
                Audience = audience,
                NotBefore = expires.AddHours(-2),
                Expires = expires,
                Subject = new System.Security.Claims.ClaimsIdentity(claims.Select(c => new System.Security.Claims.Claim(c.Type, c.Value))),
                SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                    new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(Encoding.UTF8.GetBytes(key)), Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256),
            });

        var later = DateTime.UtcNow.AddHours(1);
        async Task<HttpStatusCode> StatusAsync(string token, string path)
        {
            using var client = silo.WithKey(token);
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative), ct);
            return response.StatusCode;
        }

        var north = Token(signingKey, "hdv-api", later, ("sub", "operator-1"), ("role", "fleet"), ("fleet", NorthFleet));
        var otherRegion = Token(signingKey, "hdv-api", later, ("sub", "officer-2"), ("role", "enforcement"), ("region", "370200"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(north, $"/api/alerts/{alert.Id}"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(north, "/api/keys"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(otherRegion, $"/api/alerts/{alert.Id}"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(Token(signingKey, "another-api", later, ("role", "admin")), "/api/alerts"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(Token(signingKey, "hdv-api", DateTime.UtcNow.AddMinutes(-10), ("role", "admin")), "/api/alerts"));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(Token("another-signing-key-of-32-bytes-or-more", "hdv-api", later, ("role", "admin")), "/api/alerts"));
        // API keys still work next to tokens.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(File.ReadAllText(silo.AdminKeyFile), "/api/keys"));
    }

    /// <summary>One real frame of a vehicle the registry does not know, through the broker, until the silo has heard it.</summary>
    private static async Task HearStrayVehicleAsync(MosquittoServer broker, SiloUnderTest silo, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        now = new DateTime(now.Ticks - now.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        var sample = Sample.Empty(now) with { SpeedKmh = 0, EngineSpeedRpm = 0, CoolantTempC = 15, Longitude = 117.0, Latitude = 36.6, PositionStatus = 0 };
        var frame = Telemetry.Protocol.FrameEncoder.Encode(new TelemetryBatch(StrayVin, FrameKind.RealTime, now, 1, [sample], [], default), Telemetry.Protocol.TerminalProfile.Hj1239);
        await using var terminal = await TestPublisher.ConnectAsync(broker.Host, broker.Port, ct);
        await terminal.PublishAsync($"hdv/{StrayVin}/hj1239", frame, ct);
        var index = silo.Services.GetRequiredService<Telemetry.Grains.VehicleIndex>();
        await Eventually.WaitAsync(() => index.IsKnown(StrayVin), TimeSpan.FromSeconds(30), "the silo hears the unregistered vehicle", ct);
    }

    private static string Cli(string[] args)
    {
        using var stdout = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var exit = cli::Telemetry.Cli.CliApp.Run(args, Stream.Null, stdout, stderr);
        Assert.True(exit == 0, $"telemetry-cli {string.Join(' ', args)} exited {exit}: {stdout}{stderr}");
        return stdout.ToString();
    }

    internal static Alert NorthAlert(DateTime? start = null, string rule = "R1")
    {
        var s = start ?? new DateTime(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);
        return new Alert
        {
            Id = Alert.MakeId(NorthVin, rule, s),
            RuleId = rule,
            RuleName = "NOx concentration",
            Severity = AlertSeverity.Warning,
            Status = AlertStatus.Open,
            Vin = NorthVin,
            Fleet = NorthFleet,
            Region = NorthRegion,
            StartUtc = s,
            LastHeldUtc = s.AddMinutes(5),
            Thresholds = ImmutableSortedDictionary<string, double>.Empty.Add("noxPpm", 500),
            Measured = ImmutableSortedDictionary<string, double>.Empty.Add("meanNoxPpm", 812.4),
            Evidence = [Sample.Empty(s) with { NoxDownstreamPpm = 812.4 }],
            Summary = "30 s mean downstream NOx 812.4 ppm above 500 ppm for 300 s.",
            Revision = 1,
        };
    }

    private static async Task<HttpClient[]> ClientsAsync(SiloUnderTest silo, CancellationToken ct)
    {
        var keys = silo.Services.GetRequiredService<ApiKeyStore>();
        async Task<HttpClient> With(string role, params string[] scope) => silo.WithKey((await keys.CreateAsync(role, role, scope, ct)).Secret);
        return
        [
            silo.Anonymous(),
            await With(ApiRoles.Admin),
            await With(ApiRoles.Enforcement),
            await With(ApiRoles.Enforcement, "370200"),
            await With(ApiRoles.Fleet, NorthFleet),
            await With(ApiRoles.Fleet, "south"),
        ];
    }
}
