using System.Collections.Immutable;
using Telemetry.Abstractions;
using Telemetry.Detection;

namespace Telemetry.Simulation;

/// <summary>A fault injected over [FromMinute, ToMinute) of a scenario.</summary>
public sealed record InjectedFault(Fault Fault, double FromMinute, double ToMinute);

/// <summary>An episode the scenario must produce: rule <paramref name="RuleId"/> starting within [FromMinute, ToMinute + hysteresis].</summary>
public sealed record ExpectedEpisode(string RuleId, double FromMinute, double ToMinute);

/// <summary>How the scenario's frames reach the engine.</summary>
public enum Delivery
{
    /// <summary>Every frame once, in order.</summary>
    InOrder,
    /// <summary>About 20 % of frames twice and about 10 % swapped with the next one.</summary>
    DuplicatedAndReordered,
}

/// <summary>One labelled drive: a cycle, faults with known start and end, and the episodes they must raise.</summary>
public sealed record Scenario
{
    public required string Name { get; init; }
    public required DriveCycle Cycle { get; init; }
    public required double DurationMinutes { get; init; }
    public IReadOnlyList<InjectedFault> Faults { get; init; } = [];
    public IReadOnlyList<ExpectedEpisode> Expected { get; init; } = [];
    /// <summary>Rules that may also fire as physical consequences of the fault (a bypassed SCR also raises NOx); not false alerts.</summary>
    public IReadOnlyList<string> Allowed { get; init; } = [];
    public Delivery Delivery { get; init; } = Delivery.InOrder;
    /// <summary>Start of the drive, UTC; null uses the suite's start.</summary>
    public DateTime? StartUtc { get; init; }
    /// <summary>Truck model parameters (ambient temperature, urea at start, ...); defaults when null.</summary>
    public TruckModelOptions? ModelOptions { get; init; }
    /// <summary>The terminal re-issues its stored data newest first (a stack), as some field firmware does.</summary>
    public bool ReissueNewestFirst { get; init; }
    /// <summary>Zones GeoJSON for this scenario, or null for none.</summary>
    public string? ZonesGeoJson { get; init; }
    /// <summary>True for a clean cycle: any episode is a false alert.</summary>
    public bool Clean => Faults.Count == 0 && Expected.Count == 0;
}

/// <summary>Options of a suite run.</summary>
public sealed class ScenarioSuiteOptions
{
    /// <summary>Base seed; scenario i uses Seed + i.</summary>
    public int Seed { get; set; } = 20_240_601;
    /// <summary>Start of each drive, UTC.</summary>
    public DateTime StartUtc { get; set; } = new(2025, 6, 2, 1, 0, 0, DateTimeKind.Utc);
    /// <summary>Detection options; defaults when null.</summary>
    public DetectionOptions? Detection { get; set; }
    /// <summary>Runs only scenarios whose name contains this text, when set.</summary>
    public string? Filter { get; set; }
    /// <summary>Samples per real-time frame (HJ 1239: 10).</summary>
    public int SamplesPerFrame { get; set; } = 10;
    /// <summary>Grain clock tick for offline detection, s.</summary>
    public int ClockTickSeconds { get; set; } = 10;
}

/// <summary>The labelled scenarios: clean cycles and one or more per rule.</summary>
public static class ScenarioSuite
{
    private static readonly string[] NoxConsequences = ["R1", "R2", "R3"];

    /// <summary>Every scenario of the suite.</summary>
    public static IReadOnlyList<Scenario> All { get; } = Build();

    /// <summary>Runs the suite (or the filtered part of it) and scores it.</summary>
    public static ScenarioReport Run(ScenarioSuiteOptions? options = null) => ScenarioReport.Run(options ?? new ScenarioSuiteOptions());

    private static List<Scenario> Build()
    {
        static Scenario F(string name, DriveCycle cycle, double minutes, Fault fault, double from, double to, string rule, params string[] allowed) => new()
        {
            Name = name,
            Cycle = cycle,
            DurationMinutes = minutes,
            Faults = [new InjectedFault(fault, from, to)],
            Expected = [new ExpectedEpisode(rule, from, to)],
            Allowed = allowed,
        };

        return
        [
            new() { Name = "clean-urban", Cycle = DriveCycle.Urban, DurationMinutes = 120 },
            new() { Name = "clean-highway", Cycle = DriveCycle.Highway, DurationMinutes = 150 },
            new() { Name = "clean-mixed-duplicated-reordered", Cycle = DriveCycle.Mixed, DurationMinutes = 120, Delivery = Delivery.DuplicatedAndReordered },
            new() { Name = "clean-steady-cruise", Cycle = DriveCycle.SteadyCruise, DurationMinutes = 120 },
            new() { Name = "clean-winter-cold-start", Cycle = DriveCycle.Urban, DurationMinutes = 90, ModelOptions = new() { AmbientC = -15 } },
            new() { Name = "clean-urea-refill-stop", Cycle = DriveCycle.Urban, DurationMinutes = 90, ModelOptions = new() { InitialUreaPercent = 15.6 } },
            new() { Name = "clean-dpf-regeneration", Cycle = DriveCycle.Highway, DurationMinutes = 90, ModelOptions = new() { RegenerationSootLoad = 1.0 } },
            // A bypassed SCR gets no urea: with record 0x80, R4 sees the missing dosing as well.
            F("r1-high-nox", DriveCycle.Highway, 70, Fault.HighNox, 20, 50, "R1", "R2", "R3", "R4"),
            F("r1-high-nox-duplicated-reordered", DriveCycle.Highway, 70, Fault.HighNox, 20, 50, "R1", "R2", "R3", "R4") with { Delivery = Delivery.DuplicatedAndReordered },
            F("r2-specific-nox", DriveCycle.Highway, 70, Fault.LowScrEfficiency, 20, 55, "R2", "R1", "R3"),
            F("r3-low-scr-efficiency", DriveCycle.Highway, 70, Fault.LowScrEfficiency, 20, 55, "R3", "R1", "R2"),
            F("r4-urea-level-frozen", DriveCycle.Highway, 180, Fault.UreaLevelFrozen, 20, 180, "R4", NoxConsequences),
            F("r4-urea-level-rising", DriveCycle.Highway, 60, Fault.UreaLevelRising, 20, 40, "R4"),
            F("r4-urea-empty", DriveCycle.Highway, 60, Fault.UreaEmpty, 20, 40, "R4", NoxConsequences),
            F("r5-nox-sensor-stuck", DriveCycle.Highway, 70, Fault.NoxSensorStuck, 20, 50, "R5"),
            F("r5-nox-downstream-above-upstream", DriveCycle.Highway, 60, Fault.NoxDownstreamAboveUpstream, 20, 45, "R5", NoxConsequences),
            F("r5-nox-sensor-pinned", DriveCycle.Highway, 45, Fault.NoxSensorPinned, 20, 30, "R5", NoxConsequences),
            F("r5-nox-sensor-stuck-steady-cruise", DriveCycle.SteadyCruise, 70, Fault.NoxSensorStuck, 20, 50, "R5"),
            F("r5-nox-sensor-unplugged", DriveCycle.Highway, 60, Fault.NoxSensorRemoved, 20, 45, "R5"),
            new()
            {
                // A raised SCR temperature sensor hides a bypassed SCR from the emission gate.
                Name = "r10-scr-sensor-raised-with-high-nox",
                Cycle = DriveCycle.Highway,
                DurationMinutes = 80,
                Faults = [new InjectedFault(Fault.ScrTempSensorRaised, 20, 70), new InjectedFault(Fault.HighNox, 20, 70)],
                Expected = [new ExpectedEpisode("R10", 20, 70), new ExpectedEpisode("R1", 20, 70)],
                Allowed = ["R2", "R3", "R4"],
            },
            F("r6-dpf-removed", DriveCycle.Highway, 60, Fault.DpfRemoved, 20, 50, "R6"),
            F("r6-dpf-support-bit-cleared", DriveCycle.Highway, 60, Fault.DpfSupportBitCleared, 20, 45, "R6"),
            F("r7-mil-on-driving", DriveCycle.Highway, 60, Fault.MilOnDriving, 20, 45, "R7"),
            F("r8-calibration-changed", DriveCycle.Urban, 45, Fault.CalibrationChanged, 20, 45, "R8"),
            F("r8-dtcs-cleared-readiness-reset", DriveCycle.Urban, 45, Fault.DtcsClearedWithReadinessReset, 20, 35, "R8"),
            F("r9-terminal-offline", DriveCycle.Highway, 60, Fault.TerminalOffline, 20, 30, "R9.offline"),
            F("r9-terminal-offline-reissued-newest-first", DriveCycle.Highway, 60, Fault.TerminalOffline, 20, 30, "R9.offline") with { ReissueNewestFirst = true },
            new()
            {
                // 25 min of high NOx stored while offline and re-issued newest first: the episode is still found.
                Name = "r1-high-nox-while-offline-reissued-newest-first",
                Cycle = DriveCycle.Highway,
                DurationMinutes = 75,
                Faults = [new InjectedFault(Fault.HighNox, 20, 55), new InjectedFault(Fault.TerminalOffline, 25, 50)],
                Expected = [new ExpectedEpisode("R1", 20, 55), new ExpectedEpisode("R9.offline", 25, 50)],
                Allowed = ["R2", "R3", "R4"],
                ReissueNewestFirst = true,
            },
            F("r9-position-invalid", DriveCycle.Urban, 60, Fault.PositionInvalid, 20, 40, "R9.position"),
            F("r9-position-jump", DriveCycle.Highway, 45, Fault.PositionJump, 20, 22, "R9.jump"),
            F("r9-clock-skew", DriveCycle.Highway, 45, Fault.ClockSkew, 20, 45, "R9.clock"),
            F("r9-invalid-fields", DriveCycle.Urban, 45, Fault.InvalidFields, 20, 30, "R9.fields"),
            F("r9-removal-alarm", DriveCycle.Urban, 30, Fault.RemovalAlarm, 15, 16, "R9.removal"),
            F("r9-check-code-failures", DriveCycle.Highway, 30, Fault.CheckCodeFailures, 15, 17, "R9.checkcode"),
            new()
            {
                // 05:40 China Standard Time: the zone's restricted hours (06:00-22:00) begin 20 minutes in.
                Name = "z-restricted-hours-with-high-nox",
                Cycle = DriveCycle.Highway,
                DurationMinutes = 70,
                StartUtc = new DateTime(2025, 6, 1, 21, 40, 0, DateTimeKind.Utc),
                ZonesGeoJson = JinanZoneGeoJson,
                Faults = [new InjectedFault(Fault.HighNox, 25, 55)],
                Expected = [new ExpectedEpisode("Z", 20, 70), new ExpectedEpisode("R1", 25, 55)],
                Allowed = ["R2", "R3", "R4"],
            },
        ];
    }

    /// <summary>A low-emission zone around Jinan (about 110 km square) restricted 06:00-22:00 local time.</summary>
    public const string JinanZoneGeoJson = """
        {"type":"FeatureCollection","features":[{"type":"Feature",
          "properties":{"name":"Jinan LEZ","restrictedHours":"06:00-22:00"},
          "geometry":{"type":"Polygon","coordinates":[[[116.4,36.15],[117.6,36.15],[117.6,37.15],[116.4,37.15],[116.4,36.15]]]}}]}
        """;

    /// <summary>Drives one scenario through a fresh detector and returns every episode, in final form.</summary>
    public static ScenarioRun Execute(Scenario scenario, int seed, ScenarioSuiteOptions options)
    {
        var plan = Plan(scenario, seed, options);
        var zones = scenario.ZonesGeoJson is null ? null : ZoneIndex.FromGeoJson(scenario.ZonesGeoJson);
        var detector = new VehicleDetector(plan.Vin, options.Detection ?? new DetectionOptions(), plan.Vehicle, zones);
        var run = new ScenarioRun(scenario, plan.StartUtc);
        var changes = new List<AlertChange>();
        plan.Drive(detector, changes, onBatch: run.Count);
        run.Collect(changes);
        return run;
    }

    /// <summary>
    /// What a scenario's terminal does, step by step: frames delivered (with their arrival time),
    /// frames that failed their check code, and the ticks of the grain's clock. The in-process
    /// runner and a replay through a real broker and silo consume the same plan.
    /// </summary>
    public static ScenarioPlan Plan(Scenario scenario, int seed, ScenarioSuiteOptions options)
    {
        ArgumentNullException.ThrowIfNull(scenario);
        ArgumentNullException.ThrowIfNull(options);
        var start = scenario.StartUtc ?? options.StartUtc;
        var vin = Vins.Make(seed % 1_000_000, "LSCN");
        var info = Model(scenario, seed, vin, start).Info("SIM-FLEET", "Jinan");
        return new ScenarioPlan(scenario, vin, start, info, Steps(scenario, seed, options, vin, start));
    }

    private static TruckModel Model(Scenario scenario, int seed, string vin, DateTime start)
    {
        var model = new TruckModel(vin, seed, scenario.Cycle, start, scenario.ModelOptions);
        foreach (var f in scenario.Faults)
            model.Inject(f.Fault, start.AddMinutes(f.FromMinute), start.AddMinutes(f.ToMinute));
        return model;
    }

    // Each enumeration drives a fresh model, so a plan can be replayed any number of times.
    private static IEnumerable<ScenarioStep> Steps(Scenario scenario, int seed, ScenarioSuiteOptions options, string vin, DateTime start)
    {
        var model = Model(scenario, seed, vin, start);
        var rng = new Random(seed ^ 0x5EED);
        ushort serial = 0;
        var frame = new List<Sample>(options.SamplesPerFrame);
        var frameObd = new List<ObdSnapshot>();
        var stored = new List<(Sample Sample, ObdSnapshot? Obd)>();
        var sent = new List<TelemetryBatch>(3);
        TelemetryBatch? held = null;

        // Out-of-order delivery holds a frame back and hands it over after the next one; some frames come twice.
        void Send(TelemetryBatch batch)
        {
            if (scenario.Delivery == Delivery.InOrder || batch.Kind != FrameKind.RealTime)
            {
                sent.Add(batch);
                return;
            }
            if (held is null && rng.NextDouble() < 0.1)
            {
                held = batch;
                return;
            }
            sent.Add(batch);
            if (rng.NextDouble() < 0.2)
                sent.Add(batch with { ReceivedUtc = batch.ReceivedUtc.AddSeconds(3) });
            if (held is not null)
            {
                sent.Add(held with { ReceivedUtc = batch.ReceivedUtc });
                held = null;
            }
        }

        yield return new DeliverStep(new TelemetryBatch(vin, FrameKind.Login, start, serial++, [], [], start));
        var total = (int)(scenario.DurationMinutes * 60);
        for (var i = 1; i <= total; i++)
        {
            var s = model.Step();
            var now = model.NowUtc;
            var obd = model.ObdDue ? model.CurrentObd() : null;
            if (model.PendingRemovalAlarm)
            {
                yield return new DeliverStep(new TelemetryBatch(vin, FrameKind.RemovalAlarm, s.TimeUtc, serial++, [], [], now.AddSeconds(1))
                {
                    AlarmPosition = new GeoFix(s.Longitude, s.Latitude, s.PositionValid),
                });
            }
            if (model.IsSilent)
            {
                stored.Add((s, obd));
            }
            else
            {
                frame.Add(s);
                if (obd is not null)
                    frameObd.Add(obd);
                if (frame.Count >= options.SamplesPerFrame)
                {
                    if (model.FramesCorrupted)
                        yield return new CheckCodeFailureStep(now.AddSeconds(1));
                    else
                        Send(new TelemetryBatch(vin, FrameKind.RealTime, frame[0].TimeUtc, serial++, [.. frame], [.. frameObd], now.AddSeconds(1)));
                    foreach (var batch in sent)
                        yield return new DeliverStep(batch);
                    sent.Clear();
                    frame.Clear();
                    frameObd.Clear();
                    // A reconnected terminal re-issues what it stored, two frames per real-time frame.
                    for (var k = 0; k < 2 && stored.Count > 0; k++)
                        yield return new DeliverStep(Reissue(vin, stored, scenario.ReissueNewestFirst, options.SamplesPerFrame, ref serial, now.AddSeconds(1)));
                }
            }
            if (i % options.ClockTickSeconds == 0)
                yield return new ClockStep(now);
        }
        var end = model.NowUtc;
        if (held is not null)
            yield return new DeliverStep(held);
        if (frame.Count > 0)
            yield return new DeliverStep(new TelemetryBatch(vin, FrameKind.RealTime, frame[0].TimeUtc, serial++, [.. frame], [.. frameObd], end.AddSeconds(1)));
        while (stored.Count > 0)
            yield return new DeliverStep(Reissue(vin, stored, scenario.ReissueNewestFirst, options.SamplesPerFrame, ref serial, end.AddSeconds(1)));
        yield return new DeliverStep(new TelemetryBatch(vin, FrameKind.Logout, end, serial, [], [], end.AddSeconds(1)));
        for (var m = 1; m <= 30; m++)
            yield return new ClockStep(end.AddMinutes(m));
    }

    /// <summary>The next re-issue frame: the oldest stored samples, or the newest ones when the terminal keeps its store as a stack.</summary>
    private static TelemetryBatch Reissue(string vin, List<(Sample Sample, ObdSnapshot? Obd)> stored, bool newestFirst, int perFrame, ref ushort serial, DateTime received)
    {
        var samples = ImmutableArray.CreateBuilder<Sample>(perFrame);
        var obd = ImmutableArray.CreateBuilder<ObdSnapshot>();
        var n = Math.Min(perFrame, stored.Count);
        var from = newestFirst ? stored.Count - n : 0;
        foreach (var (s, o) in stored.GetRange(from, n))
        {
            samples.Add(s);
            if (o is not null)
                obd.Add(o);
        }
        stored.RemoveRange(from, n);
        var first = samples[0].TimeUtc;
        return new TelemetryBatch(vin, FrameKind.Reissue, first, serial++, samples.ToImmutable(), obd.ToImmutable(), received);
    }
}

/// <summary>Everything one scenario produced.</summary>
public sealed class ScenarioRun(Scenario scenario, DateTime startUtc)
{
    private readonly Dictionary<string, Alert> _episodes = new(StringComparer.Ordinal);
    private readonly HashSet<string> _opened = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTime> _detected = new(StringComparer.Ordinal);

    public Scenario Scenario { get; } = scenario;
    public DateTime StartUtc { get; } = startUtc;
    public int Accepted { get; private set; }
    public int Duplicates { get; private set; }
    public int Late { get; private set; }
    public int Reissued { get; private set; }
    /// <summary>Opened changes for an id already opened (must stay 0).</summary>
    public int ReopenedIds { get; private set; }
    /// <summary>Episodes in their final form, by start time.</summary>
    public IReadOnlyList<Alert> Episodes => [.. _episodes.Values.OrderBy(a => a.StartUtc).ThenBy(a => a.RuleId, StringComparer.Ordinal)];

    /// <summary>Sample time at which an episode was opened (its start may lie earlier, as for R9 position).</summary>
    public DateTime DetectedUtc(Alert episode) => _detected.TryGetValue(episode.Id, out var t) ? t : episode.StartUtc;

    internal void Count(BatchResult r)
    {
        Accepted += r.Accepted;
        Duplicates += r.Duplicates;
        Late += r.Late;
        Reissued += r.Reissued;
    }

    internal void Collect(List<AlertChange> changes)
    {
        foreach (var c in changes)
        {
            if (c.Kind == AlertChangeKind.Opened && !_opened.Add(c.Alert.Id))
                ReopenedIds++;
            else if (c.Kind == AlertChangeKind.Opened)
                _detected[c.Alert.Id] = c.Alert.Revision == 0 ? c.Alert.LastHeldUtc : c.Alert.StartUtc;
            if (!_episodes.TryGetValue(c.Alert.Id, out var prev) || c.Alert.Revision >= prev.Revision)
                _episodes[c.Alert.Id] = c.Alert;
        }
    }
}

/// <summary>One scenario as a sequence of steps (the same each time it is enumerated), with what the vehicle registry knows of its truck.</summary>
public sealed record ScenarioPlan(Scenario Scenario, string Vin, DateTime StartUtc, VehicleInfo Vehicle, IEnumerable<ScenarioStep> Steps)
{
    /// <summary>
    /// Plays every step on <paramref name="detector"/>, appending episode changes to <paramref name="changes"/>.
    /// <paramref name="deliver"/> may transform each delivered frame first (for example through the codec);
    /// <paramref name="onBatch"/> receives what each delivery did.
    /// </summary>
    public void Drive(VehicleDetector detector, List<AlertChange> changes,
        Func<TelemetryBatch, TelemetryBatch>? deliver = null, Action<BatchResult>? onBatch = null)
    {
        ArgumentNullException.ThrowIfNull(detector);
        var accepted = new List<Sample>();
        foreach (var step in Steps)
        {
            switch (step)
            {
                case DeliverStep d:
                    var result = detector.OnBatch(deliver is null ? d.Batch : deliver(d.Batch), changes, accepted);
                    onBatch?.Invoke(result);
                    accepted.Clear();
                    break;
                case CheckCodeFailureStep failure:
                    detector.OnCheckCodeFailure(failure.ReceivedUtc, changes);
                    break;
                case ClockStep clock:
                    detector.OnClock(clock.NowUtc, changes);
                    break;
            }
        }
    }
}

/// <summary>One thing that happens to the vehicle's grain during a scenario.</summary>
public abstract record ScenarioStep;

/// <summary>A frame arrives (its <see cref="TelemetryBatch.ReceivedUtc"/> is the arrival time).</summary>
public sealed record DeliverStep(TelemetryBatch Batch) : ScenarioStep;

/// <summary>A frame of the vehicle arrives with a wrong check code.</summary>
public sealed record CheckCodeFailureStep(DateTime ReceivedUtc) : ScenarioStep;

/// <summary>The grain's clock ticks with no data.</summary>
public sealed record ClockStep(DateTime NowUtc) : ScenarioStep;
