using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Ingest;
using Telemetry.Protocol;
using Telemetry.Silo;
using Telemetry.Simulation;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// A silo that falls behind (more frames offered than it stores) receives every truck's frames
/// late and further apart than the trucks sent them. That is the platform's backlog, not trucks
/// going offline: the offline rule measures silence against how far ingest has got, and so still
/// finds the one terminal that really went silent (once the others' data has moved on past it) and
/// no other.
/// </summary>
[Trait("Category", "Integration")]
public sealed class IngestBacklogTests
{
    private const int Trucks = 300;

    [Fact]
    public async Task GrowingBacklog_RaisesOfflineOnlyForTheTruckReallySilent()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var replay = await ReplayedSilo.StartAsync();
        var (silo, clock) = (replay.Silo, replay.Clock);
        var trucks = replay.Trucks(Trucks, firstSeed: 7000);
        var silent = trucks[0];
        var silentSince = default(DateTime);

        Task SendAsync(TruckModel truck, DateTime arrivalUtc) => replay.SendAsync(truck, arrivalUtc, ct);

        // Warm up on time: one frame per truck (10 s of driving), arriving a second after it was sent.
        foreach (var truck in trucks)
        {
            await SendAsync(truck, truck.NowUtc.AddSeconds(10 + 1));
        }

        var advancedBefore = await silo.Http.MetricAsync("telemetry_vehicles_clock_advanced_total", ct);

        // Then ingest falls behind: each truck's next 10 s of data arrives 40 s after its previous
        // frame (the silo stores a quarter of what is offered), so the backlog grows by 30 s a round.
        // The first truck's terminal goes silent for real after the first round.
        var backlog = TimeSpan.FromSeconds(10);
        for (var round = 0; round < 7; round++)
        {
            for (var i = 0; i < Trucks; i++)
            {
                if (round > 0 && i == 0)
                {
                    continue;
                }
                var truck = trucks[i];
                // Spread over the round, so that frames arrive all the time, as they do from a queue.
                var arrival = truck.NowUtc.AddSeconds(10) + backlog + TimeSpan.FromSeconds(40.0 * i / Trucks);
                await SendAsync(truck, arrival);
            }
            if (round == 0)
            {
                silentSince = silent.NowUtc;
            }
            backlog += TimeSpan.FromSeconds(30);
            // Let the sweep run a few times at the end of the round.
            await Task.Delay(TimeSpan.FromSeconds(2.5), ct);
        }
        // Trucks whose late frames keep coming are not silent: the sweep leaves them alone instead of
        // calling (and saving) each of them on every pass. Measured here: 60 with the allowance, 5,842
        // when silence was counted on real time (nearly every truck on every pass); the bound leaves room
        // for a slower machine running more passes.
        var advanced = await silo.Http.MetricAsync("telemetry_vehicles_clock_advanced_total", ct) - advancedBefore;
        TestContext.Current.TestOutputHelper?.WriteLine($"clock advanced {advanced} times during the backlog");
        Assert.True(advanced < 3 * Trucks, $"the sweep advanced silent vehicles {advanced} times during the backlog, with one truck silent");

        // Without the allowance each truck, 40 s between frames, would be found offline here. The silent
        // terminal is found: the others' data has moved on 60 s past its last frame.
        var delay = silo.Services.GetRequiredService<IngestDelay>();
        Assert.True(delay.Allowance(clock.GetUtcNow().UtcDateTime) >= 150, "the silo knows it is behind");

        await Eventually.WaitForAsync(() => silo.GetAlertsAsync("?rule=R9.offline"), a => a.Count > 0, TimeSpan.FromSeconds(30),
            "the terminal that went silent is found offline", cancellationToken: ct);
        await Task.Delay(TimeSpan.FromSeconds(2.5), ct);
        var alert = Assert.Single(await silo.GetAlertsAsync("?rule=R9.offline"));
        Assert.Equal(silent.Vin, alert.Vin);
        Assert.True(alert.StartUtc > silentSince.AddSeconds(-15) && alert.StartUtc <= silentSince.AddSeconds(1),
            $"the episode starts where the silent terminal's data stopped ({silentSince:O}), not at {alert.StartUtc:O}");
    }

    [Fact]
    public async Task GrowingBacklog_GrainStateCursorFollowsTheSaves_NotTheIngestDelay()
    {
        // While ingest is minutes behind, the journal must not have to hold those minutes for the grain state:
        // trucks that send save their state every PersistInterval, and the grain-state cursor follows the saves.
        // It used to wait for the ingest delay as well, and at 100,000 trucks (450 s behind) the journal filled
        // at its cap for that alone.
        var ct = TestContext.Current.CancellationToken;
        await using var replay = await ReplayedSilo.StartAsync(("Telemetry:Vehicles:PersistInterval", "00:00:20"));
        var silo = replay.Silo;
        var journal = silo.Services.GetRequiredService<Telemetry.Storage.Journal.IJournal>();
        var trucks = replay.Trucks(100, firstSeed: 7900);
        foreach (var truck in trucks)
        {
            await replay.SendAsync(truck, truck.NowUtc.AddSeconds(10 + 1), ct);
        }

        // Each truck's next 10 s arrive 40 s after its previous frame: the backlog grows by 30 s a round.
        var backlog = TimeSpan.FromSeconds(10);
        var lastOfRound = new List<long>();
        for (var round = 0; round < 7; round++)
        {
            for (var i = 0; i < trucks.Length; i++)
            {
                var truck = trucks[i];
                // (All within 10 s, so that the silo sees enough frames at a time to measure the delay.)
                await replay.SendAsync(truck, truck.NowUtc.AddSeconds(10) + backlog + TimeSpan.FromSeconds(10.0 * i / trucks.Length), ct);
            }
            lastOfRound.Add(journal.LastSequence);
            backlog += TimeSpan.FromSeconds(30);
            await Task.Delay(TimeSpan.FromSeconds(1.5), ct);
        }
        await Task.Delay(TimeSpan.FromSeconds(2.5), ct);

        var delay = silo.Services.GetRequiredService<IngestDelay>();
        var allowance = delay.Allowance(replay.Clock.GetUtcNow().UtcDateTime);
        Assert.True(allowance >= 150, $"the silo should know it is behind ({allowance} s)");
        // Every truck saved within the last two rounds (80 s of sample time, half the delay): the cursor is past
        // what came before them. Waiting for the delay it would still be at the first rounds.
        var cursor = journal.ReadCursor(VehicleSweep.GrainStateCursor);
        TestContext.Current.TestOutputHelper?.WriteLine($"cursor {cursor}; last record of each round: {string.Join(", ", lastOfRound)}");
        Assert.True(cursor > lastOfRound[4], $"the grain-state cursor ({cursor}) should be past the records of round 5 ({lastOfRound[4]})");
    }

    [Fact]
    public async Task StalledIngest_HoldsTheClocks_RaisesNoOffline_AndStillLetsTheJournalFree()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var replay = await ReplayedSilo.StartAsync(("Telemetry:Vehicles:PersistInterval", "00:00:01"));
        var (silo, clock) = (replay.Silo, replay.Clock);
        var delay = silo.Services.GetRequiredService<IngestDelay>();
        var journal = silo.Services.GetRequiredService<Telemetry.Storage.Journal.IJournal>();
        var trucks = replay.Trucks(100, firstSeed: 7600);

        // A minute of driving, each frame arriving a second after it was sent: ingest keeps up.
        for (var round = 0; round < 6; round++)
        {
            foreach (var truck in trucks)
            {
                // The frame's 10 s are driven when it is sent: it arrives a second after its last sample.
                await replay.SendAsync(truck, truck.NowUtc.AddSeconds(10 + 1), ct);
            }
        }
        await Task.Delay(TimeSpan.FromSeconds(2.5), ct);
        var lastBeforeStall = journal.LastSequence;

        // Then ingest stalls for three minutes (as when the journal is at its disk cap): no frame comes,
        // and the pipeline says so every few seconds. Every truck was driving; none is really silent.
        var stalledAt = clock.GetUtcNow().UtcDateTime;
        for (var s = 0; s <= 180; s += 10)
        {
            clock.SetUtcNow(stalledAt.AddSeconds(s));
            delay.Stalled(clock.GetUtcNow().UtcDateTime);
            await Task.Delay(TimeSpan.FromSeconds(1.2), ct);
        }

        Assert.Empty(await silo.GetAlertsAsync("?rule=R9.offline"));
        // The sweep still called and saved the silent vehicles, so the grain-state cursor passed the
        // records written before the stall and the journal may free them. Held by the stalled clock it
        // would not move until the stall ended, and a journal full at its cap would stay full.
        var cursor = journal.ReadCursor(VehicleSweep.GrainStateCursor);
        Assert.True(cursor > lastBeforeStall, $"the grain-state cursor ({cursor}) should pass the records before the stall ({lastBeforeStall})");
    }

    [Fact]
    public async Task VehicleWhoseClockCannotBeAdvanced_HoldsTheGrainStateCursor_UntilItsCallSucceeds()
    {
        // A vehicle that the sweep could not call may not have saved its state: moving the grain-state
        // cursor past its frames would leave them out of the evaluation after a crash. Its call is retried
        // and the cursor waits for it (it used to move on, with the failure only logged).
        var ct = TestContext.Current.CancellationToken;
        // (The default PersistInterval, 2 min: the truck's state is still unsaved when it falls silent.)
        var failing = new FailAdvanceClock();
        await using var replay = await ReplayedSilo.StartAsync(s => s.AddSingleton<Orleans.IIncomingGrainCallFilter>(failing));
        var silo = replay.Silo;
        var journal = silo.Services.GetRequiredService<Telemetry.Storage.Journal.IJournal>();
        var trucks = replay.Trucks(50, firstSeed: 7800);
        failing.Vin = trucks[0].Vin;

        // The first truck sends two frames and falls silent, so the sweep calls it: the call fails.
        await FallSilentUntilCalledTwiceAsync(replay, trucks, failing, ct);
        Assert.True(failing.Failures >= 2, "the sweep should call the silent truck, and the call fail");
        var held = journal.ReadCursor(VehicleSweep.GrainStateCursor);

        // The others drive on for two minutes; every pass retries the failing truck, and the cursor stays.
        for (var round = 0; round < 12; round++)
        {
            foreach (var truck in trucks.Skip(1))
                await replay.SendAsync(truck, truck.NowUtc.AddSeconds(10 + 1), ct);
            await Task.Delay(TimeSpan.FromSeconds(0.4), ct);
        }
        var failuresWhileHeld = failing.Failures;
        Assert.Equal(held, journal.ReadCursor(VehicleSweep.GrainStateCursor));
        Assert.True(silo.Services.GetRequiredService<VehicleSweep>().Failures.HoldCursor);

        // The call succeeds again: the truck saves its state and the cursor moves on.
        failing.Vin = null;
        foreach (var truck in trucks.Skip(1))
            await replay.SendAsync(truck, truck.NowUtc.AddSeconds(10 + 1), ct);
        await Eventually.WaitAsync(() => journal.ReadCursor(VehicleSweep.GrainStateCursor) > held, TimeSpan.FromSeconds(30),
            "the grain-state cursor moves once the failing call succeeds", ct);
        TestContext.Current.TestOutputHelper?.WriteLine($"{failuresWhileHeld} failed calls while the cursor was held at {held}");
        Assert.True(failuresWhileHeld >= 3, $"the failing truck should have been retried on every pass, not {failuresWhileHeld} times");
    }

    [Fact]
    public async Task VehicleWhoseClockCallTimesOut_IsLetGo_AndCounted()
    {
        // A call that times out (the silo too busy to answer) is retried, but the grain-state cursor does not wait
        // for it: the journal frees space only when the cursors move. The vehicle's unsaved state is then no
        // longer covered after a crash, which an operator sees in telemetry_vehicles_unsaved_released_total.
        var ct = TestContext.Current.CancellationToken;
        var failing = new FailAdvanceClock { Timeout = true };
        await using var replay = await ReplayedSilo.StartAsync(s => s.AddSingleton<Orleans.IIncomingGrainCallFilter>(failing));
        var silo = replay.Silo;
        var trucks = replay.Trucks(20, firstSeed: 7900);
        failing.Vin = trucks[0].Vin;

        await FallSilentUntilCalledTwiceAsync(replay, trucks, failing, ct);
        Assert.True(failing.Failures >= 2, "the sweep should call the silent truck, and the call time out");
        Assert.False(silo.Services.GetRequiredService<VehicleSweep>().Failures.HoldCursor);
        // Counted at most once per pass that let it go (each failed call), as deferred.
        failing.Vin = null;
        await Task.Delay(TimeSpan.FromSeconds(3), ct);
        var metrics = await silo.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
        var released = Telemetry.Fleet.Load.PrometheusText.Parse(metrics).Sum("telemetry_vehicles_unsaved_released_total");
        Assert.True(released >= 1 && released <= failing.Failures, $"{released} vehicle-passes let go for {failing.Failures} failed calls");
        Assert.Matches("telemetry_vehicles_unsaved_released_total\\{[^}]*reason=\"deferred\"[^}]*\\} [1-9]", metrics);
    }

    /// <summary>
    /// Every truck sends two frames, then the first falls silent while the others keep sending (the replayed clock
    /// moves with the frames), until the sweep has called the silent one twice or 20 rounds have passed.
    /// </summary>
    private static async Task FallSilentUntilCalledTwiceAsync(ReplayedSilo replay, TruckModel[] trucks, FailAdvanceClock failing, CancellationToken ct)
    {
        for (var round = 0; round < 2; round++)
        {
            foreach (var truck in trucks)
                await replay.SendAsync(truck, truck.NowUtc.AddSeconds(10 + 1), ct);
        }
        for (var round = 0; round < 20 && failing.Failures < 2; round++)
        {
            foreach (var truck in trucks.Skip(1))
                await replay.SendAsync(truck, truck.NowUtc.AddSeconds(10 + 1), ct);
            await Task.Delay(TimeSpan.FromSeconds(1.2), ct);
        }
    }

    /// <summary>Makes <c>AdvanceClock</c> of one vehicle fail while <see cref="Vin"/> is set.</summary>
    private sealed class FailAdvanceClock : Orleans.IIncomingGrainCallFilter
    {
        private int _failures;

        public volatile string? Vin;

        /// <summary>Fail as a call that got no answer in time, rather than as one the grain refused.</summary>
        public bool Timeout { get; init; }

        public int Failures => Volatile.Read(ref _failures);

        public Task Invoke(Orleans.IIncomingGrainCallContext context)
        {
            if (context.InterfaceMethod?.Name == nameof(IVehicleGrain.AdvanceClock) && Vin is { } vin
                && context.TargetId.Key.ToString() == vin)
            {
                Interlocked.Increment(ref _failures);
                throw Timeout
                    ? new TimeoutException("Injected: no answer in time.")
                    : new InvalidOperationException("Injected: this vehicle's clock cannot be advanced.");
            }
            return context.Invoke();
        }
    }

    /// <summary>
    /// An embedded silo on a clock replayed from two hours back (the sweep runs every second of real
    /// time, each time on the replayed clock), and trucks whose HJ 1239 frames go straight to its pipeline.
    /// </summary>
    private sealed class ReplayedSilo : IAsyncDisposable
    {
        private FramePipeline _pipeline = null!;
        private ushort _serial;

        public SiloUnderTest Silo { get; private init; } = null!;
        public ReplayClock Clock { get; private init; } = null!;
        public DateTime Start { get; private init; }

        public static Task<ReplayedSilo> StartAsync(params (string Key, string Value)[] extraSettings) => StartAsync(null, extraSettings);

        public static async Task<ReplayedSilo> StartAsync(Action<IServiceCollection>? services, params (string Key, string Value)[] extraSettings)
        {
            var start = DateTime.UtcNow.AddHours(-2);
            start = new DateTime(start.Ticks - start.Ticks % TimeSpan.TicksPerSecond, DateTimeKind.Utc);
            var clock = new ReplayClock(start);
            var settings = new Dictionary<string, string>
            {
                ["Telemetry:Mqtt:AllowAnonymous"] = "true",
                ["Telemetry:Vehicles:ClockPeriod"] = "00:00:01",
            };
            foreach (var (key, value) in extraSettings)
            {
                settings[key] = value;
            }
            var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null, settings, s =>
            {
                s.AddSingleton(new TelemetryClock(clock));
                services?.Invoke(s);
            });
            return new ReplayedSilo { Silo = silo, Clock = clock, Start = start, _pipeline = silo.Services.GetRequiredService<FramePipeline>() };
        }

        public TruckModel[] Trucks(int count, int firstSeed) => [.. Enumerable.Range(0, count)
            .Select(i => new TruckModel(Vins.Make(firstSeed + i, "LBKL"), seed: firstSeed + i, DriveCycle.Highway, Start))];

        /// <summary>Drives <paramref name="truck"/> 10 s and hands the frame to the pipeline at <paramref name="arrivalUtc"/>; it must be stored.</summary>
        public async Task SendAsync(TruckModel truck, DateTime arrivalUtc, CancellationToken cancellationToken)
        {
            var samples = Enumerable.Range(0, 10).Select(_ => truck.Step()).ToImmutableArray();
            var batch = new TelemetryBatch(truck.Vin, FrameKind.RealTime, samples[^1].TimeUtc, _serial++, samples, [], default);
            var frame = FrameEncoder.Encode(batch, TerminalProfile.Hj1239);
            Clock.SetUtcNow(arrivalUtc);
            var outcome = await _pipeline.ProcessAsync($"hdv/{truck.Vin}/hj1239", frame, frame.Length, arrivalUtc, cancellationToken);
            Assert.Equal(IngestOutcome.Stored, outcome);
        }

        public ValueTask DisposeAsync() => Silo.DisposeAsync();
    }
}
