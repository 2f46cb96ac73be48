using Dapper;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Cases;

/// <summary>What the hourly totals table must do on every provider: add per (VIN, hour), all or nothing, and read a period back.</summary>
public abstract class HourTotalsStoreContract
{
    private static readonly DateTime H0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);
    private const string VinA = "LHOUR000000000001";
    private const string VinB = "LHOUR000000000002";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh, empty database.</summary>
    protected abstract CaseDatabase CreateDatabase();

    private static HourTotals Totals(string vin, DateTime hour, int samples, double odoMin, double odoMax, ulong mask) => new(vin, hour)
    {
        Samples = samples,
        MinuteMask = mask,
        RunningSeconds = samples - 1,
        GatedSeconds = samples / 2,
        DistanceKm = samples / 60.0,
        MilOnDistanceKm = 0.5,
        OdometerMinKm = odoMin,
        OdometerMaxKm = odoMax,
        FuelL = 0.25 * samples,
        NoxG = 0.01 * samples,
        WorkPercentRpmSeconds = 42_000.0 * samples,
        PairedNoxG = 0.009 * samples,
        PairedWorkPercentRpmSeconds = 41_000.0 * samples,
        UreaL = 0.0004 * samples,
        UreaFuelL = 0.008 * samples,
    };

    [Fact]
    public async Task Add_TwiceToOneHour_AddsSums_OrsMinutes_WidensTheOdometerRange_AndKeepsHoursAndVehiclesApart()
    {
        var store = new SqlHourTotalsStore(CreateDatabase());
        await store.AddAsync([Totals(VinA, H0, 100, 1000, 1001, 0b0011), Totals(VinA, H0.AddHours(1), 60, 1001, 1002, 1UL << 63)], Ct);
        await store.AddAsync([Totals(VinA, H0, 50, 999.5, double.NaN, 0b0110), Totals(VinB, H0, 10, double.NaN, double.NaN, 1)], Ct);

        var read = await store.ReadAsync([VinA, VinB], H0, H0.AddHours(2), Ct);
        Assert.Equal(3, read.Count);
        var a0 = read.Single(t => t.Vin == VinA && t.HourUtc == H0);
        Assert.Equal(150, a0.Samples);
        Assert.Equal(0b0111UL, a0.MinuteMask);
        Assert.Equal(148, a0.RunningSeconds);
        Assert.Equal(75, a0.GatedSeconds);
        Assert.Equal(150 / 60.0, a0.DistanceKm, 9);
        Assert.Equal(1.0, a0.MilOnDistanceKm, 9);
        Assert.Equal(999.5, a0.OdometerMinKm);
        Assert.Equal(1001, a0.OdometerMaxKm);
        Assert.Equal(0.25 * 150, a0.FuelL, 9);
        Assert.Equal(0.01 * 150, a0.NoxG, 9);
        Assert.Equal(42_000.0 * 150, a0.WorkPercentRpmSeconds, 3);
        Assert.Equal(0.009 * 150, a0.PairedNoxG, 9);
        Assert.Equal(41_000.0 * 150, a0.PairedWorkPercentRpmSeconds, 3);
        Assert.Equal(0.0004 * 150, a0.UreaL, 9);
        Assert.Equal(0.008 * 150, a0.UreaFuelL, 9);
        Assert.Equal(1UL << 63, read.Single(t => t.Vin == VinA && t.HourUtc == H0.AddHours(1)).MinuteMask);
        var b = read.Single(t => t.Vin == VinB);
        Assert.True(double.IsNaN(b.OdometerMinKm) && double.IsNaN(b.OdometerMaxKm));

        // The period is [from, until) of hour starts; other vehicles are not read.
        Assert.Single(await store.ReadAsync([VinA], H0.AddHours(1), H0.AddHours(2), Ct));
        Assert.Single(await store.ReadAsync([VinA], H0, H0.AddHours(1), Ct));
        Assert.Empty(await store.ReadAsync([VinA], H0.AddHours(2), H0.AddHours(9), Ct));
        Assert.Empty(await store.ReadAsync([], H0, H0.AddHours(9), Ct));
    }

    [Fact]
    public async Task Add_WhenOneRowFails_AddsNothing()
    {
        var store = new SqlHourTotalsStore(CreateDatabase());
        await store.AddAsync([Totals(VinA, H0, 100, 1000, 1001, 1)], Ct);
        // A VIN the table refuses (NULL) after a good row: the transaction rolls back, the good row is not added twice.
        await Assert.ThrowsAnyAsync<Exception>(() => store.AddAsync([Totals(VinA, H0, 100, 1000, 1001, 1), WithNullVin()], Ct));
        var read = Assert.Single(await store.ReadAsync([VinA], H0, H0.AddHours(1), Ct));
        Assert.Equal(100, read.Samples);

        static HourTotals WithNullVin()
        {
            var t = Totals(VinB, H0, 5, 1, 2, 1);
            typeof(HourTotals).GetField("<Vin>k__BackingField", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!.SetValue(t, null);
            return t;
        }
    }

    [Fact]
    public async Task AddBatch_AddsEachNumberedBatchOnce_AnOlderOrRepeatedOneIsRefused_AndVehiclesCountApart()
    {
        var store = new SqlHourTotalsStore(CreateDatabase());
        HourTotals[] first = [Totals(VinA, H0, 60, 100, 101, 1), Totals(VinA, H0.AddHours(1), 10, 102, 103, 2)];

        Assert.True(await store.AddBatchAsync(VinA, 1_000, first, Ct));
        // The same batch offered again (a crash between storing it and saving that it was stored) adds nothing.
        Assert.False(await store.AddBatchAsync(VinA, 1_000, first, Ct));
        Assert.False(await store.AddBatchAsync(VinA, 999, [Totals(VinA, H0, 5, 100, 100, 1)], Ct));
        // Another vehicle's numbering is its own.
        Assert.True(await store.AddBatchAsync(VinB, 1, [Totals(VinB, H0, 7, 5, 6, 1)], Ct));
        Assert.True(await store.AddBatchAsync(VinA, 1_001, [Totals(VinA, H0, 30, 99, 100, 4)], Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.AddBatchAsync(VinA, 1_002, [Totals(VinB, H0, 1, 1, 1, 1)], Ct));

        var read = await store.ReadAsync([VinA, VinB], H0, H0.AddHours(2), Ct);
        Assert.Equal([(VinA, H0, 90L), (VinA, H0.AddHours(1), 10L), (VinB, H0, 7L)], read.Select(t => (t.Vin, t.HourUtc, t.Samples)));
        Assert.Equal(99, read[0].OdometerMinKm);
    }

    [Fact]
    public async Task AddBatch_ManyVehiclesAtOnce_GoInAFewTransactions_EachAddedOnce()
    {
        // A silo's vehicles save (and offer their totals) hundreds of times a second: one transaction each had them
        // contend for the database's write lock.
        var store = new SqlHourTotalsStore(CreateDatabase());
        const int Vehicles = 300;
        var vins = Enumerable.Range(0, Vehicles).Select(i => $"LHOUR{i:D12}").ToArray();
        var added = await Task.WhenAll(vins.Select(vin => store.AddBatchAsync(vin, 1, [Totals(vin, H0, 60, 10, 11, 1)], Ct)));
        Assert.All(added, Assert.True);
        // Offered again together with new ones: the old batches add nothing, the new ones once.
        var again = await Task.WhenAll(vins.Select((vin, i) => store.AddBatchAsync(vin, i % 2 == 0 ? 1 : 2, [Totals(vin, H0, 30, 11, 12, 2)], Ct)));
        Assert.Equal(Vehicles / 2, again.Count(a => a));
        Assert.True(again.Where((_, i) => i % 2 == 1).All(a => a), "every vehicle's batch 2 is added");

        var read = await store.ReadAsync(vins, H0, H0.AddHours(1), Ct);
        Assert.Equal(Vehicles, read.Count);
        Assert.Equal(Vehicles * 60 + Vehicles / 2 * 30, read.Sum(t => t.Samples));
        TestContext.Current.TestOutputHelper?.WriteLine($"{2 * Vehicles} batches in {store.BatchTransactions} transactions");
        Assert.True(store.BatchTransactions < 2 * Vehicles / 4, $"{2 * Vehicles} batches offered at once took {store.BatchTransactions} transactions");
    }

    [Fact]
    public async Task AddBatch_TheSameFirstBatchOfferedByTwoWritersAtOnce_CountsOnce()
    {
        var database = CreateDatabase();
        var stores = Enumerable.Range(0, 8).Select(_ => new SqlHourTotalsStore(database)).ToList();
        var added = await Task.WhenAll(stores.Select(s => Task.Run(() => s.AddBatchAsync(VinA, 5, [Totals(VinA, H0, 60, 100, 101, 1)], Ct), Ct)));

        Assert.Single(added, a => a);
        var read = Assert.Single(await stores[0].ReadAsync([VinA], H0, H0.AddHours(1), Ct));
        Assert.Equal(60, read.Samples);
    }
}

/// <summary>The hourly totals on SQLite: one file per test.</summary>
public sealed class SqliteHourTotalsStoreTests : HourTotalsStoreContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-hours-").FullName;

    protected override CaseDatabase CreateDatabase() => CaseDatabase.Sqlite(Path.Combine(_directory, $"{Guid.NewGuid():N}.db"));

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Telemetry.Testing.TempDirectory.Delete(_directory);
    }
}

/// <summary>The hourly totals on a real PostgreSQL: one database per test on one shared server.</summary>
[Trait("Category", "Integration")]
public sealed class PostgresHourTotalsStoreTests(PostgresFixture postgres) : HourTotalsStoreContract
{
    protected override CaseDatabase CreateDatabase() =>
        CaseDatabase.Postgres(postgres.Server.CreateDatabaseAsync(TestContext.Current.CancellationToken).GetAwaiter().GetResult());
}

/// <summary>The silo's writers of one SQLite database take turns without holding a thread.</summary>
public sealed class SqliteWriteTurnTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-turns-").FullName;

    [Fact]
    public async Task AWriterWhileAnotherHoldsTheTurn_ReturnsAtOnce_AndWritesWhenTheTurnIsFree()
    {
        // SQLite's busy handler sleeps on the caller's thread while another connection writes: grains writing
        // episodes and hourly totals under load held the silo's threads for seconds that way.
        var ct = TestContext.Current.CancellationToken;
        var database = CaseDatabase.Sqlite(Path.Combine(_directory, "turns.db"));
        await database.MigrateAsync(ct);
        var store = new SqlHourTotalsStore(database);
        var hour = new DateTime(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

        Task<bool> waiting;
        var started = System.Diagnostics.Stopwatch.StartNew();
        using (await database.WriteTurnAsync(ct))
        {
            waiting = store.AddBatchAsync("LTURN000000000001", 1, [new HourTotals("LTURN000000000001", hour) { Samples = 5 }], ct);
            var returnedAfter = started.Elapsed;
            await Task.Delay(300, ct);
            Assert.False(waiting.IsCompleted, "the second writer waits for its turn");
            Assert.True(returnedAfter < TimeSpan.FromMilliseconds(250), $"the call returned after {returnedAfter.TotalMilliseconds} ms: it held the caller's thread");
        }

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(10), ct));
        Assert.Equal(5, Assert.Single(await store.ReadAsync(["LTURN000000000001"], hour, hour.AddHours(1), ct)).Samples);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Telemetry.Testing.TempDirectory.Delete(_directory);
    }
}
