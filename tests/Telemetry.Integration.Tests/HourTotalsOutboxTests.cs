using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Storage.Cases;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The hourly totals reach the case database exactly once, whatever moment a crash or a lost answer picks: the vehicle's
/// life is played here step by step (gather, move into the outbox, save the grain's state type with the outbox through
/// the Orleans serializer, offer to a real SQLite store), and a crash is a fresh outbox restored from the last saved bytes.
/// </summary>
public sealed class HourTotalsOutboxTests : IDisposable
{
    private const string Vin = "LOUTBOX0000000001";
    private static readonly DateTime H0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-outbox-").FullName;

    [Fact]
    public async Task ABatchOfferedAgainAfterACrash_OrAfterALostAnswer_CountsOnce_AndTheStoreDownHoldsAtMostTwoBatches()
    {
        var ct = TestContext.Current.CancellationToken;
        var real = new SqlHourTotalsStore(CaseDatabase.Sqlite(Path.Combine(_directory, "telemetry.db")));
        var store = new FaultyStore(real);
        var accumulator = new HourTotalsAccumulator(Vin, new PhysicsOptions());
        var outbox = new HourTotalsOutbox(Vin, store, TimeProvider.System);

        // Save 1: 120 samples of hour 0 move into the outbox, the state is saved with them, then they are stored.
        Evaluate(accumulator, 0, 120);
        var saved = Save(accumulator, outbox);
        Assert.Equal((1, 0), await outbox.StoreAsync(ct));
        Assert.Null(outbox.Pending);

        // A crash before the next save: the restored state still holds the batch, which is offered again and refused.
        outbox = Restore(saved, store);
        Assert.Equal((0, 1), await outbox.StoreAsync(ct));
        Assert.Equal(120, await SamplesAsync(real, ct));

        // A crash after the save and before the store: the restored batch is stored once.
        Evaluate(accumulator, 120, 60);
        saved = Save(accumulator, outbox);
        outbox = Restore(saved, store);
        Assert.Equal((1, 0), await outbox.StoreAsync(ct));
        Assert.Equal(180, await SamplesAsync(real, ct));

        // The answer of a store that committed is lost: the batch stays, and later totals go into one new open batch.
        store.LoseAnswers = true;
        Evaluate(accumulator, 180, 60);
        Save(accumulator, outbox);
        await Assert.ThrowsAsync<TimeoutException>(() => outbox.StoreAsync(ct));
        // The database is down now for three saves, one of them reaching into the next hour.
        store.LoseAnswers = false;
        store.Down = true;
        for (var i = 0; i < 3; i++)
        {
            Evaluate(accumulator, 240 + i * 1200, 1200);
            saved = Save(accumulator, outbox);
            await Assert.ThrowsAsync<TimeoutException>(() => outbox.StoreAsync(ct));
            Assert.Equal(2, outbox.Pending!.Count);
        }

        // It returns after a restart: the committed batch is refused, the open one stored; every sample once.
        store.Down = false;
        outbox = Restore(saved, store);
        Assert.Equal((1, 1), await outbox.StoreAsync(ct));
        Assert.Equal(240 + 3 * 1200, await SamplesAsync(real, ct));
        var hours = await real.ReadAsync([Vin], H0, H0.AddHours(2), ct);
        Assert.Equal([3600L, 240 + 3 * 1200 - 3600L], hours.Select(h => h.Samples));
        Assert.Equal(hours.Sum(h => h.RunningSeconds), hours.Sum(h => h.Samples));
    }

    [Fact]
    public async Task BatchNumbers_KeepIncreasing_WhenTheSavedStateWasLost()
    {
        var ct = TestContext.Current.CancellationToken;
        var real = new SqlHourTotalsStore(CaseDatabase.Sqlite(Path.Combine(_directory, "numbers.db")));
        var accumulator = new HourTotalsAccumulator(Vin, new PhysicsOptions());
        var outbox = new HourTotalsOutbox(Vin, real, TimeProvider.System);
        Evaluate(accumulator, 0, 60);
        Save(accumulator, outbox);
        await outbox.StoreAsync(ct);

        // A fresh state (its saved copy deleted): numbering starts from the clock, above every batch stored before.
        var fresh = new HourTotalsOutbox(Vin, real, TimeProvider.System);
        Evaluate(accumulator, 60, 60);
        Save(accumulator, fresh);
        Assert.Equal((1, 0), await fresh.StoreAsync(ct));
        Assert.Equal(120, await SamplesAsync(real, ct));
    }

    private static void Evaluate(HourTotalsAccumulator accumulator, int fromSecond, int count)
    {
        for (var s = fromSecond; s < fromSecond + count; s++)
        {
            var sample = Sample.Empty(H0.AddSeconds(s)) with { SpeedKmh = 60, EngineSpeedRpm = 1400, FuelFlowLph = 30, OdometerKm = 1000 + s / 60.0 };
            accumulator.OnEvaluated(sample, running: true, gated: true, milOn: false);
        }
    }

    /// <summary>What the grain does before its state write: the totals into the outbox, the outbox into the saved bytes.</summary>
    private static byte[] Save(HourTotalsAccumulator accumulator, HourTotalsOutbox outbox)
    {
        outbox.Add(accumulator.TakeDirty());
        return Serializer.SerializeToArray(new Telemetry.Grains.VehicleGrainState { PendingHours = outbox.Pending, HoursBatch = outbox.LastBatch });
    }

    private static HourTotalsOutbox Restore(byte[] saved, IHourTotalsStore store)
    {
        var state = Serializer.Deserialize<Telemetry.Grains.VehicleGrainState>(saved) ?? throw new InvalidOperationException("no state");
        var outbox = new HourTotalsOutbox(Vin, store, TimeProvider.System);
        outbox.Restore(state.PendingHours, state.HoursBatch);
        return outbox;
    }

    private static async Task<long> SamplesAsync(SqlHourTotalsStore store, CancellationToken ct) =>
        (await store.ReadAsync([Vin], H0, H0.AddDays(1), ct)).Sum(h => h.Samples);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>The real store with faults put in front: down (nothing reaches it), or answers lost after it committed.</summary>
    private sealed class FaultyStore(IHourTotalsStore real) : IHourTotalsStore
    {
        public bool Down { get; set; }

        public bool LoseAnswers { get; set; }

        public Task AddAsync(IReadOnlyCollection<HourTotals> totals, CancellationToken cancellationToken = default) => real.AddAsync(totals, cancellationToken);

        public async Task<bool> AddBatchAsync(string vin, long batch, IReadOnlyCollection<HourTotals> totals, CancellationToken cancellationToken = default)
        {
            if (Down)
                throw new TimeoutException("the database does not answer");
            var added = await real.AddBatchAsync(vin, batch, totals, cancellationToken);
            return LoseAnswers ? throw new TimeoutException("the answer was lost after the commit") : added;
        }

        public Task<IReadOnlyList<HourTotals>> ReadAsync(IReadOnlyCollection<string> vins, DateTime fromUtc, DateTime untilUtc, CancellationToken cancellationToken = default) =>
            real.ReadAsync(vins, fromUtc, untilUtc, cancellationToken);
    }
}
