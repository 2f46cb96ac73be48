using Dapper;
using Telemetry.Storage.Cases;

namespace Telemetry.Storage.Tests.Cases;

/// <summary>Device credentials, on every provider of the alert database (SQLite and PostgreSQL run this part of the contract too).</summary>
public abstract partial class AlertDatabaseContract
{
    private const string DeviceA = "LDEVCRED000000001";
    private const string DeviceB = "LDEVCRED000000002";

    [Fact]
    public async Task DeviceCredentials_AreStoredAsSaltedHashes_AndVerifiedByVinAndSecret()
    {
        var database = CreateDatabase();
        var devices = new DeviceCredentialStore(database, Time);

        var (a, secretA) = await devices.AddAsync(DeviceA, cancellationToken: Ct);
        var (_, secretB) = await devices.AddAsync(DeviceB, cancellationToken: Ct);
        Assert.Equal(DeviceA, a.Vin);
        Assert.Equal(Time.GetUtcNow().UtcDateTime, a.CreatedUtc);
        Assert.True(secretA.Length >= 43, "32 random bytes");
        Assert.NotEqual(secretA, secretB);

        Assert.Equal(DeviceCheck.Accepted, await devices.VerifyAsync(DeviceA, secretA, Ct));
        Assert.Equal(DeviceCheck.BadSecret, await devices.VerifyAsync(DeviceA, secretB, Ct));
        Assert.Equal(DeviceCheck.BadSecret, await devices.VerifyAsync(DeviceA, "", Ct));
        Assert.Equal(DeviceCheck.BadSecret, await devices.VerifyAsync(DeviceA, null, Ct));
        Assert.Equal(DeviceCheck.UnknownDevice, await devices.VerifyAsync("LDEVCRED000000003", secretA, Ct));
        Assert.Equal(DeviceCheck.UnknownDevice, await devices.VerifyAsync("not a vin' OR 1=1", secretA, Ct));
        Assert.Equal(DeviceCheck.UnknownDevice, await devices.VerifyAsync(null, secretA, Ct));

        await using (var connection = await database.OpenAsync(Ct))
        {
            var stored = (await connection.QueryAsync<string>("SELECT secret_hash FROM device_credentials ORDER BY vin")).ToList();
            Assert.Equal(2, stored.Count);
            Assert.All(stored, hash =>
            {
                Assert.StartsWith($"pbkdf2-sha256${DeviceCredentialStore.Iterations}$", hash, StringComparison.Ordinal);
                Assert.DoesNotContain(secretA, hash, StringComparison.Ordinal);
                Assert.DoesNotContain(secretB, hash, StringComparison.Ordinal);
            });
            // Salted: the same secret would not give the same hash; different salts per row.
            Assert.NotEqual(stored[0].Split('$')[2], stored[1].Split('$')[2]);
        }
    }

    [Fact]
    public async Task DeviceCredentials_RevokeRefusesTheSecret_AndAddingAgainIssuesANewOne()
    {
        var devices = new DeviceCredentialStore(CreateDatabase(), Time);
        var (_, first) = await devices.AddAsync(DeviceA, cancellationToken: Ct);
        await Assert.ThrowsAsync<InvalidOperationException>(() => devices.AddAsync(DeviceA, cancellationToken: Ct));
        Assert.Equal(DeviceCheck.Accepted, await devices.VerifyAsync(DeviceA, first, Ct));

        Time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(await devices.RevokeAsync(DeviceA, Ct));
        Assert.False(await devices.RevokeAsync(DeviceA, Ct));
        Assert.False(await devices.RevokeAsync(DeviceB, Ct));
        Assert.Equal(DeviceCheck.Revoked, await devices.VerifyAsync(DeviceA, first, Ct));
        Assert.Equal(DeviceCheck.BadSecret, await devices.VerifyAsync(DeviceA, first + "x", Ct));
        var listed = Assert.Single(await devices.ListAsync(Ct));
        Assert.Equal(Time.GetUtcNow().UtcDateTime, listed.RevokedUtc);
        Assert.Equal([DeviceA], await devices.RevokedSinceAsync(Time.GetUtcNow().UtcDateTime.AddMinutes(-1), Ct));
        Assert.Empty(await devices.RevokedSinceAsync(Time.GetUtcNow().UtcDateTime.AddSeconds(1), Ct));

        var (again, second) = await devices.AddAsync(DeviceA, cancellationToken: Ct);
        Assert.Null(again.RevokedUtc);
        Assert.Equal(DeviceCheck.Accepted, await devices.VerifyAsync(DeviceA, second, Ct));
        Assert.Equal(DeviceCheck.BadSecret, await devices.VerifyAsync(DeviceA, first, Ct));
        Assert.Empty(await devices.RevokedSinceAsync(DateTime.MinValue, Ct));

        var (_, third) = await devices.AddAsync(DeviceA, replace: true, Ct);
        Assert.Equal(DeviceCheck.BadSecret, await devices.VerifyAsync(DeviceA, second, Ct));
        Assert.Equal(DeviceCheck.Accepted, await devices.VerifyAsync(DeviceA, third, Ct));
        Assert.Null(Assert.Single(await devices.ListAsync(Ct)).RevokedUtc);
    }

    [Fact]
    public async Task DeviceCredentials_AddMany_IsAllOrNothing_AndRefusesMalformedVins()
    {
        var devices = new DeviceCredentialStore(CreateDatabase(), Time);
        await devices.AddAsync(DeviceB, cancellationToken: Ct);

        await Assert.ThrowsAsync<ArgumentException>(() => devices.AddAsync("LDEVCRED00000000I", cancellationToken: Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => devices.AddAsync("hdv/#", cancellationToken: Ct));
        await Assert.ThrowsAsync<InvalidOperationException>(() => devices.AddManyAsync([DeviceA, DeviceB], replace: false, Ct));
        Assert.Equal([DeviceB], (await devices.ListAsync(Ct)).Select(d => d.Vin));

        var issued = await devices.AddManyAsync([DeviceA, DeviceB], replace: true, Ct);
        Assert.Equal([DeviceA, DeviceB], issued.Select(d => d.Device.Vin));
        foreach (var (device, secret) in issued)
        {
            Assert.Equal(DeviceCheck.Accepted, await devices.VerifyAsync(device.Vin, secret, Ct));
        }
    }
}
