using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Cases;

/// <summary>A device credential as listed: never its secret.</summary>
public sealed record class DeviceCredentialInfo(string Vin, DateTime CreatedUtc, DateTime? RevokedUtc);

/// <summary>What the check of a device's user name and secret found.</summary>
public enum DeviceCheck
{
    /// <summary>The VIN has an active credential and the secret matches it.</summary>
    Accepted = 0,

    /// <summary>No credential for this VIN (or the user name is not a VIN).</summary>
    UnknownDevice = 1,

    /// <summary>The secret does not match.</summary>
    BadSecret = 2,

    /// <summary>The secret matches a credential that was revoked.</summary>
    Revoked = 3,
}

/// <summary>
/// The MQTT credentials of terminals in the <see cref="CaseDatabase"/>: a device connects with its VIN as user name
/// and a secret of 32 random bytes as password. Only a salted PBKDF2 (HMAC-SHA256) of the secret is stored, with its
/// salt and iteration count, and compared in constant time. A VIN holds at most one credential; revoking keeps the
/// row (the listing shows when) and adding the VIN again issues a new secret.
/// </summary>
public sealed class DeviceCredentialStore(CaseDatabase database, TimeProvider time)
{
    /// <summary>
    /// PBKDF2 iterations of a new hash. The secret is 256 random bits, so no iteration count is needed against
    /// guessing; the count only slows an attacker who stole the table, while every device connection pays it
    /// once (10,000 is a few milliseconds). Stored with each hash, so it can be raised without breaking old ones.
    /// </summary>
    public const int Iterations = 10_000;

    private const string Scheme = "pbkdf2-sha256";
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    // Checked against when the VIN is unknown, so an unknown VIN costs the same time as a wrong secret.
    private static readonly string Decoy = Hash("decoy", Iterations);

    /// <summary>
    /// Issues a secret for <paramref name="vin"/> and returns it: the only time it is seen. A VIN whose credential was
    /// revoked gets a new one; a VIN with an active credential is refused unless <paramref name="replace"/>, which
    /// makes the old secret stop working.
    /// </summary>
    /// <exception cref="ArgumentException">The VIN is malformed.</exception>
    /// <exception cref="InvalidOperationException">The VIN has an active credential and <paramref name="replace"/> is false.</exception>
    public async Task<(DeviceCredentialInfo Device, string Secret)> AddAsync(string vin, bool replace = false, CancellationToken cancellationToken = default)
    {
        var issued = await AddManyAsync([vin], replace, cancellationToken);
        return issued[0];
    }

    /// <summary>
    /// <see cref="AddAsync"/> for many VINs in one transaction (the in-process simulation provisions its trucks so);
    /// nothing is stored when one of them is refused.
    /// </summary>
    public async Task<IReadOnlyList<(DeviceCredentialInfo Device, string Secret)>> AddManyAsync(IReadOnlyCollection<string> vins, bool replace,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vins);
        foreach (var vin in vins)
        {
            if (!Vin.IsValid(vin))
                throw new ArgumentException($"'{vin}' is not a VIN (17 characters of A-H, J-N, P, R-Z and 0-9).", nameof(vins));
        }
        var created = time.GetUtcNow().UtcDateTime;
        var issued = new List<(DeviceCredentialInfo, string)>(vins.Count);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var turn = await database.WriteTurnAsync(cancellationToken);
        await using var transaction = database.BeginWrite(connection);
        foreach (var vin in vins)
        {
            var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
            var written = await connection.ExecuteAsync(
                """
                INSERT INTO device_credentials (vin, secret_hash, created_ticks, revoked_ticks) VALUES (@vin, @hash, @ticks, NULL)
                ON CONFLICT (vin) DO UPDATE SET secret_hash = excluded.secret_hash, created_ticks = excluded.created_ticks, revoked_ticks = NULL
                WHERE device_credentials.revoked_ticks IS NOT NULL OR @replace
                """,
                new { vin, hash = Hash(secret, Iterations), ticks = created.Ticks, replace }, transaction);
            if (written != 1)
                throw new InvalidOperationException($"VIN {vin} already has an active secret; revoke it first, or replace it (the old secret then stops working).");
            issued.Add((new DeviceCredentialInfo(vin, created, null), secret));
        }
        await transaction.CommitAsync(cancellationToken);
        return issued;
    }

    /// <summary>Every device credential, by VIN.</summary>
    public async Task<IReadOnlyList<DeviceCredentialInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>("SELECT vin, secret_hash, created_ticks, revoked_ticks FROM device_credentials ORDER BY vin");
        return [.. rows.Select(r => r.ToInfo())];
    }

    /// <summary>Revokes the credential of <paramref name="vin"/>; false when there is none or it was revoked already.</summary>
    public async Task<bool> RevokeAsync(string vin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vin);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await connection.ExecuteAsync("UPDATE device_credentials SET revoked_ticks = @ticks WHERE vin = @vin AND revoked_ticks IS NULL",
            new { vin, ticks = time.GetUtcNow().UtcDateTime.Ticks }) == 1;
    }

    /// <summary>The VINs revoked at or after <paramref name="sinceUtc"/> (and not added again since).</summary>
    public async Task<IReadOnlyList<string>> RevokedSinceAsync(DateTime sinceUtc, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var vins = await connection.QueryAsync<string>("SELECT vin FROM device_credentials WHERE revoked_ticks >= @ticks ORDER BY vin",
            new { ticks = sinceUtc.Ticks });
        return [.. vins];
    }

    /// <summary>Checks a device's user name (its VIN) and secret. Unknown VINs take as long as wrong secrets.</summary>
    public async Task<DeviceCheck> VerifyAsync(string? vin, string? secret, CancellationToken cancellationToken = default)
    {
        secret ??= "";
        Row? row = null;
        if (vin is not null && Vin.IsValid(vin))
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            row = await connection.QuerySingleOrDefaultAsync<Row>(
                "SELECT vin, secret_hash, created_ticks, revoked_ticks FROM device_credentials WHERE vin = @vin", new { vin });
        }
        var matches = Matches(secret, row?.Secret_Hash ?? Decoy);
        if (row is null)
            return DeviceCheck.UnknownDevice;
        if (!matches)
            return DeviceCheck.BadSecret;
        return row.Revoked_Ticks is null ? DeviceCheck.Accepted : DeviceCheck.Revoked;
    }

    /// <summary><c>pbkdf2-sha256${iterations}${salt}${hash}</c>, salt and hash in base64.</summary>
    private static string Hash(string secret, int iterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    private static bool Matches(string secret, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations)
            || iterations is < 1 or > 10_000_000)
            return false;
        var salt = Convert.FromBase64String(parts[2]);
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed class Row
    {
        public string Vin { get; set; } = "";
        public string Secret_Hash { get; set; } = "";
        public long Created_Ticks { get; set; }
        public long? Revoked_Ticks { get; set; }

        public DeviceCredentialInfo ToInfo() => new(Vin, new DateTime(Created_Ticks, DateTimeKind.Utc),
            Revoked_Ticks is { } r ? new DateTime(r, DateTimeKind.Utc) : null);
    }
}
