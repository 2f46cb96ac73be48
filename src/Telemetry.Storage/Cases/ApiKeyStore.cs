using System.Security.Cryptography;
using System.Text;
using Dapper;

namespace Telemetry.Storage.Cases;

/// <summary>The roles of the API.</summary>
public static class ApiRoles
{
    /// <summary>Enforcement officers: every region, or the regions of their scope.</summary>
    public const string Enforcement = "enforcement";
    /// <summary>Fleet operators: their own fleets only.</summary>
    public const string Fleet = "fleet";
    /// <summary>Registry and keys, and everything enforcement sees.</summary>
    public const string Admin = "admin";

    /// <summary>Every role.</summary>
    public static IReadOnlyList<string> All { get; } = [Enforcement, Fleet, Admin];
}

/// <summary>An API key as listed: never its secret.</summary>
public sealed record class ApiKeyInfo(string Id, string Name, string Role, IReadOnlyList<string> Scope, DateTime CreatedUtc, DateTime? RevokedUtc);

/// <summary>
/// API keys in the <see cref="CaseDatabase"/>. A key reads <c>tlm_{id}_{secret}</c>; only the SHA-256 of the secret
/// is stored (the secret is 32 random bytes, so a fast hash is enough), and it is compared in constant time.
/// A key's scope is the fleets (role fleet) or regions (role enforcement; empty = all) it may see.
/// </summary>
public sealed class ApiKeyStore(CaseDatabase database, TimeProvider time)
{
    private const string Prefix = "tlm_";

    /// <summary>Creates a key and returns it with its secret: the only time the secret is seen.</summary>
    public async Task<(ApiKeyInfo Key, string Secret)> CreateAsync(string name, string role, IReadOnlyList<string> scope, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(scope);
        if (!ApiRoles.All.Contains(role, StringComparer.Ordinal))
            throw new ArgumentException($"'{role}' is not a role; use {string.Join(", ", ApiRoles.All)}.", nameof(role));
        if (role == ApiRoles.Fleet && scope.Count == 0)
            throw new ArgumentException("A fleet key names the fleets it may see.", nameof(scope));
        if (scope.Any(s => string.IsNullOrWhiteSpace(s) || s.Contains(',', StringComparison.Ordinal)))
            throw new ArgumentException("A scope entry is a non-empty fleet or region name without commas.", nameof(scope));
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var created = time.GetUtcNow().UtcDateTime;
        await using var connection = await database.OpenAsync(cancellationToken);
        await connection.ExecuteAsync(
            "INSERT INTO api_keys (id, name, role, scope, secret_hash, created_ticks) VALUES (@id, @name, @role, @scope, @hash, @ticks)",
            new { id, name, role, scope = string.Join(',', scope), hash = Hash(secret), ticks = created.Ticks });
        return (new ApiKeyInfo(id, name, role, scope, created, null), $"{Prefix}{id}_{secret}");
    }

    /// <summary>Every key, newest first.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<KeyRow>("SELECT id, name, role, scope, secret_hash, created_ticks, revoked_ticks FROM api_keys ORDER BY created_ticks DESC, id");
        return [.. rows.Select(r => r.ToInfo())];
    }

    /// <summary>True when any key that is not revoked exists.</summary>
    public async Task<bool> AnyActiveAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM api_keys WHERE revoked_ticks IS NULL") > 0;
    }

    /// <summary>Revokes a key by id; false when there is no such key or it was revoked already.</summary>
    public async Task<bool> RevokeAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync("UPDATE api_keys SET revoked_ticks = @ticks WHERE id = @id AND revoked_ticks IS NULL",
            new { id, ticks = time.GetUtcNow().UtcDateTime.Ticks }) == 1;
    }

    /// <summary>The key <paramref name="presented"/> stands for, or null when it is malformed, unknown, wrong or revoked.</summary>
    public async Task<ApiKeyInfo?> VerifyAsync(string presented, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(presented);
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal) || presented.Length > 128)
            return null;
        var rest = presented.AsSpan(Prefix.Length);
        var bar = rest.IndexOf('_');
        if (bar <= 0)
            return null;
        var id = rest[..bar].ToString();
        var secret = rest[(bar + 1)..].ToString();
        await using var connection = await database.OpenAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(
            "SELECT id, name, role, scope, secret_hash, created_ticks, revoked_ticks FROM api_keys WHERE id = @id", new { id });
        if (row is null || row.Revoked_Ticks is not null)
            return null;
        var expected = Convert.FromHexString(row.Secret_Hash);
        var actual = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        return CryptographicOperations.FixedTimeEquals(expected, actual) ? row.ToInfo() : null;
    }

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed class KeyRow
    {
        public string Id { get; set; } = "";
        public string Name { get; set; } = "";
        public string Role { get; set; } = "";
        public string Scope { get; set; } = "";
        public string Secret_Hash { get; set; } = "";
        public long Created_Ticks { get; set; }
        public long? Revoked_Ticks { get; set; }

        public ApiKeyInfo ToInfo() => new(Id, Name, Role,
            Scope.Length == 0 ? [] : Scope.Split(','), new DateTime(Created_Ticks, DateTimeKind.Utc),
            Revoked_Ticks is { } r ? new DateTime(r, DateTimeKind.Utc) : null);
    }
}
