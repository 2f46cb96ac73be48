using Microsoft.Extensions.Time.Testing;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Cases;

/// <summary>The per-vehicle counts of open episodes the vehicle list shows, on every provider.</summary>
public abstract class OpenAlertCountContract
{
    private static readonly DateTime T0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected abstract CaseDatabase CreateDatabase();

    [Fact]
    public async Task CountOpenByVin_CountsOnlyOpenEpisodes_WithinTheCallersScope()
    {
        var store = new SqlAlertStore(CreateDatabase(), new FakeTimeProvider(new DateTimeOffset(T0)));
        await store.UpsertManyAsync(
        [
            TestData.Alert("VINAAAAAAAAAAAAA1", "R1", T0, fleet: "north"),
            TestData.Alert("VINAAAAAAAAAAAAA1", "R3", T0.AddMinutes(5), fleet: "north"),
            TestData.Alert("VINAAAAAAAAAAAAA1", "R5", T0.AddMinutes(9), status: AlertStatus.Closed, fleet: "north"),
            TestData.Alert("VINAAAAAAAAAAAAA2", "R1", T0, fleet: "south"),
            TestData.Alert("VINAAAAAAAAAAAAA3", "R1", T0, status: AlertStatus.Closed, fleet: "south"),
        ], Ct);

        var all = await store.CountOpenByVinAsync(null, Ct);
        Assert.Equal(2, all.Count);
        Assert.Equal(2, all["VINAAAAAAAAAAAAA1"]);
        Assert.Equal(1, all["VINAAAAAAAAAAAAA2"]);

        var north = await store.CountOpenByVinAsync(new AlertFilter { ScopeFleets = new HashSet<string> { "north" } }, Ct);
        Assert.Equal(["VINAAAAAAAAAAAAA1"], north.Keys);
        Assert.Empty(await store.CountOpenByVinAsync(new AlertFilter { ScopeFleets = new HashSet<string>() }, Ct));
    }
}

public sealed class SqliteOpenAlertCountTests : OpenAlertCountContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-counts-").FullName;

    protected override CaseDatabase CreateDatabase() => CaseDatabase.Sqlite(Path.Combine(_directory, $"{Guid.NewGuid():N}.db"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Telemetry.Testing.TempDirectory.Delete(_directory);
    }
}

/// <summary>The same on a real PostgreSQL.</summary>
[Trait("Category", "Integration")]
public sealed class PostgresOpenAlertCountTests(PostgresFixture postgres) : OpenAlertCountContract
{
    protected override CaseDatabase CreateDatabase() =>
        CaseDatabase.Postgres(postgres.Server.CreateDatabaseAsync(TestContext.Current.CancellationToken).GetAwaiter().GetResult());
}
