using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>Settings of the API (<c>Telemetry:Api</c>).</summary>
public sealed class ApiOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Telemetry:Api";

    /// <summary>Where the first start writes the admin key (mode 0600), relative to the working directory.</summary>
    public string AdminKeyFile { get; set; } = "data/keys/admin.key";

    /// <summary>After this long without a change the live stream sends a keep-alive comment.</summary>
    public TimeSpan StreamKeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>JWT bearer tokens from an identity provider; off while <c>Authority</c> and <c>SigningKey</c> are both empty.</summary>
    public JwtOptions Jwt { get; set; } = new();

    /// <summary>
    /// <c>/metrics</c> answers without credentials (true, the default: it carries counts and timings of the
    /// platform, no VIN, fleet or position); false: it needs a key or token of any role, like the API.
    /// </summary>
    public bool PublicMetrics { get; set; } = true;

    /// <summary>What is wrong with these settings, one sentence per problem that names the setting; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(AdminKeyFile))
            errors.Add($"{Section}:AdminKeyFile is empty; name the file the first start writes the admin key to.");
        if (StreamKeepAlive < TimeSpan.FromMilliseconds(100) || StreamKeepAlive > TimeSpan.FromMinutes(10))
            errors.Add($"{Section}:StreamKeepAlive {StreamKeepAlive} is outside 00:00:00.1 to 00:10:00.");
        if (!string.IsNullOrEmpty(Jwt.SigningKey) && Encoding.UTF8.GetByteCount(Jwt.SigningKey) < 32)
            errors.Add($"{Section}:Jwt:SigningKey is shorter than 32 bytes.");
        if (Jwt.Enabled && string.IsNullOrWhiteSpace(Jwt.Audience))
            errors.Add($"{Section}:Jwt:Audience is empty; tokens are only accepted for a named audience.");
        return errors;
    }
}

/// <summary>JWT bearer settings. Roles come from the <c>role</c> claim, fleets from <c>fleet</c> claims, regions from <c>region</c> claims.</summary>
public sealed class JwtOptions
{
    /// <summary>The identity provider (OpenID Connect discovery), such as https://login.example/realms/hdv.</summary>
    public string Authority { get; set; } = "";
    /// <summary>The audience tokens must be issued for.</summary>
    public string Audience { get; set; } = "";
    /// <summary>The issuer, when tokens are signed with <see cref="SigningKey"/> instead of the authority's keys.</summary>
    public string Issuer { get; set; } = "";
    /// <summary>A shared HMAC-SHA256 key (at least 32 bytes) for providers without discovery.</summary>
    public string SigningKey { get; set; } = "";

    internal bool Enabled => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(SigningKey);
}

/// <summary>The authorization policies of the API.</summary>
public static class ApiPolicies
{
    /// <summary>Any role: reads within the caller's scope.</summary>
    public const string Read = "read";
    /// <summary>Working alert cases: enforcement and admin.</summary>
    public const string Cases = "cases";
    /// <summary>Keys and registry: admin only.</summary>
    public const string Admin = "admin";
}

/// <summary>Who calls and what they may see.</summary>
public sealed record class Caller(string Name, string Role, IReadOnlySet<string>? Fleets, IReadOnlySet<string>? Regions)
{
    /// <summary>Claim type of a fleet the caller may see.</summary>
    public const string FleetClaim = "fleet";
    /// <summary>Claim type of a region the caller may see.</summary>
    public const string RegionClaim = "region";

    /// <summary>The caller's scope as an alert filter.</summary>
    public AlertFilter Scope => new() { ScopeFleets = Fleets, ScopeRegions = Regions };

    /// <summary>The caller of an authenticated request.</summary>
    public static Caller From(ClaimsPrincipal user)
    {
        ArgumentNullException.ThrowIfNull(user);
        var role = user.FindFirstValue(ClaimTypes.Role) ?? user.FindFirstValue("role") ?? "";
        var name = user.Identity?.Name ?? user.FindFirstValue("sub") ?? "unknown";
        var fleets = user.FindAll(FleetClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        var regions = user.FindAll(RegionClaim).Select(c => c.Value).ToHashSet(StringComparer.Ordinal);
        return role switch
        {
            ApiRoles.Admin => new Caller(name, role, null, null),
            ApiRoles.Enforcement => new Caller(name, role, null, regions.Count == 0 ? null : regions),
            // A fleet operator sees its own fleets and nothing else (no fleet claim: nothing).
            _ => new Caller(name, role, fleets, null),
        };
    }

    /// <summary>True when the caller may see the vehicle with this registry entry (null: not registered).</summary>
    public bool MaySee(VehicleInfo? vehicle) =>
        (Fleets is null || (vehicle?.Fleet is { } f && Fleets.Contains(f))) &&
        (Regions is null || (vehicle?.Region is { } r && Regions.Contains(r)));
}

/// <summary>Authenticates <c>Authorization: Bearer tlm_...</c> (or <c>X-Api-Key</c>) against the stored keys.</summary>
public sealed class ApiKeyAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeyStore keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme name.</summary>
    public const string SchemeName = "ApiKey";

    internal static string? Presented(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return header["Bearer ".Length..].Trim();
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            return BasicPassword(header["Basic ".Length..].Trim());
        var key = request.Headers["X-Api-Key"].ToString();
        return key.Length > 0 ? key.Trim() : null;
    }

    /// <summary>
    /// A browser's sign-in dialog sends <c>Basic base64(user:password)</c>: the password is the key, the user name is
    /// ignored. So the API description opens in a browser with nothing but a key.
    /// </summary>
    private static string? BasicPassword(string encoded)
    {
        if (encoded.Length is 0 or > 4096)
            return null;
        var bytes = new byte[encoded.Length];
        if (!Convert.TryFromBase64String(encoded, bytes, out var length))
            return null;
        var text = Encoding.UTF8.GetString(bytes, 0, length);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var password = colon < 0 ? "" : text[(colon + 1)..].Trim();
        return password.Length > 0 ? password : null;
    }

    /// <summary>
    /// A 401 of an endpoint a person opens in a browser (the API description) asks for credentials with a Basic
    /// challenge, so the browser shows its sign-in dialog; API endpoints answer a plain 401.
    /// </summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.GetEndpoint()?.Metadata.GetMetadata<BrowserSignIn>() is not null)
            Response.Headers.Append("WWW-Authenticate", BrowserSignIn.Challenge);
        return base.HandleChallengeAsync(properties);
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Presented(Request);
        if (presented is null)
            return AuthenticateResult.NoResult();
        var key = await keys.VerifyAsync(presented, Context.RequestAborted);
        // The message never repeats what was presented.
        if (key is null)
            return AuthenticateResult.Fail("The API key is unknown or revoked.");
        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, $"key:{key.Id}:{key.Name}"),
            new(ClaimTypes.Role, key.Role),
        };
        var scopeClaim = key.Role == ApiRoles.Fleet ? Caller.FleetClaim : Caller.RegionClaim;
        claims.AddRange(key.Scope.Select(s => new Claim(scopeClaim, s)));
        var identity = new ClaimsIdentity(claims, SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }
}

/// <summary>
/// Endpoint metadata of pages a person opens in a browser (the OpenAPI document and the Scalar page): their 401 carries
/// a Basic challenge, so the browser asks for credentials; the key goes in the password field.
/// </summary>
public sealed class BrowserSignIn
{
    /// <summary>The one instance.</summary>
    public static BrowserSignIn Instance { get; } = new();

    internal const string Challenge = "Basic realm=\"telemetry API key\", charset=\"UTF-8\"";

    private BrowserSignIn()
    {
    }
}

/// <summary>Creates the admin key on the first start, when no key exists.</summary>
internal sealed partial class AdminKeyBootstrap(ApiKeyStore keys, IOptions<ApiOptions> options, ILogger<AdminKeyBootstrap> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var path = Path.GetFullPath(options.Value.AdminKeyFile);
        if (await keys.AnyActiveAsync(cancellationToken))
        {
            LogKeysExist(logger, path);
            return;
        }
        var (_, secret) = await keys.CreateAsync("admin (first start)", ApiRoles.Admin, [], cancellationToken);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            fileOptions.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        await using (var stream = new FileStream(path, fileOptions))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(secret), cancellationToken);
        }
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        LogAdminKeyCreated(logger, path);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 6000, Level = LogLevel.Warning,
        Message = "No API key existed: created an admin key and wrote it to {Path} (readable by this user only). Use it as `Authorization: Bearer $(cat {Path})`; create others with `telemetry-cli keys create`.")]
    private static partial void LogAdminKeyCreated(ILogger logger, string path);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Information,
        Message = "API keys exist; the first start's admin key, if kept, is in {Path}.")]
    private static partial void LogKeysExist(ILogger logger, string path);
}

/// <summary>Authentication and authorization wiring.</summary>
internal static class ApiSecurityExtensions
{
    private const string Selector = "ApiKeyOrJwt";

    public static void AddApiSecurity(this IServiceCollection services, ApiOptions options)
    {
        var authentication = services.AddAuthentication(o =>
            {
                o.DefaultScheme = Selector;
                o.DefaultChallengeScheme = Selector;
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddPolicyScheme(Selector, "API key or JWT", o => o.ForwardDefaultSelector = context =>
                options.Jwt.Enabled && ApiKeyAuthenticationHandler.Presented(context.Request) is { } token && !token.StartsWith("tlm_", StringComparison.Ordinal)
                    ? JwtBearerDefaults.AuthenticationScheme
                    : ApiKeyAuthenticationHandler.SchemeName);
        if (options.Jwt.Enabled)
        {
            authentication.AddJwtBearer(o =>
            {
                o.MapInboundClaims = false;
                // The token wherever a key may be presented (Bearer, Basic password, X-Api-Key).
                o.Events = new JwtBearerEvents
                {
                    OnMessageReceived = context =>
                    {
                        context.Token = ApiKeyAuthenticationHandler.Presented(context.Request);
                        return Task.CompletedTask;
                    },
                };
                o.TokenValidationParameters.RoleClaimType = "role";
                o.TokenValidationParameters.NameClaimType = "sub";
                o.TokenValidationParameters.ValidAudience = options.Jwt.Audience;
                if (!string.IsNullOrWhiteSpace(options.Jwt.Authority))
                    o.Authority = options.Jwt.Authority;
                if (!string.IsNullOrWhiteSpace(options.Jwt.SigningKey))
                {
                    o.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(options.Jwt.SigningKey));
                    o.TokenValidationParameters.ValidIssuer = options.Jwt.Issuer;
                    o.TokenValidationParameters.ValidateIssuer = !string.IsNullOrWhiteSpace(options.Jwt.Issuer);
                }
            });
        }
        services.AddAuthorizationBuilder()
            .AddPolicy(ApiPolicies.Read, p => p.RequireAuthenticatedUser().RequireRole(ApiRoles.All))
            .AddPolicy(ApiPolicies.Cases, p => p.RequireAuthenticatedUser().RequireRole(ApiRoles.Enforcement, ApiRoles.Admin))
            .AddPolicy(ApiPolicies.Admin, p => p.RequireAuthenticatedUser().RequireRole(ApiRoles.Admin));
        services.AddHostedService<AdminKeyBootstrap>();
    }
}
