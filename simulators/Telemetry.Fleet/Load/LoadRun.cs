using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace Telemetry.Fleet.Load;

/// <summary>
/// One load run: builds the fleet, listens to the alert stream, drives the open-loop schedule,
/// samples the figures (generator, broker acknowledgements, silo <c>/metrics</c>, /proc) every
/// <see cref="LoadOptions.SampleInterval"/>, waits for the system to drain, verifies the TSDB and
/// judges the targets.
/// </summary>
public static class LoadRun
{
    private const string StoredMetric = "telemetry_storage_points_written_total";
    private const string DecodedMetric = "telemetry_ingest_decoded_total";
    private const string ReceivedMetric = "telemetry_ingest_received_total";
    private const string RejectedMetric = "telemetry_ingest_rejected_total";
    private const string FailedMetric = "telemetry_ingest_failed_total";
    private const string JournalFullMetric = "telemetry_storage_journal_full_rejections_total";
    private static readonly string[] CpuMetrics = ["process_cpu_time_seconds_total", "dotnet_process_cpu_time_seconds_total", "process_cpu_seconds_total"];
    private static readonly string[] MemoryMetrics = ["process_memory_usage_bytes", "process_resident_memory_bytes", "dotnet_process_memory_working_set_bytes"];

    /// <summary>The definitions written into every report.</summary>
    public static readonly IReadOnlyDictionary<string, string> Definitions = new SortedDictionary<string, string>(StringComparer.Ordinal)
    {
        ["offered"] = "Frames (and the 1-Hz samples in them) written to the broker connections. Every frame has a due time on an open-loop schedule (vehicle phase + k x records-per-frame seconds); frames are never skipped or slowed down, a late frame is sent as soon as possible and counted in generatorLateness. A parked vehicle (settings parkedVehicles) sends nothing while its ignition is off, as a real terminal does: it pulls over a minute before, its last frames show the engine stopped, and it starts again with a key-on; those seconds are not expected in the TSDB.",
        ["acknowledged"] = "QoS 1 publishes the broker answered with PUBACK (mosquitto acknowledges on receipt, before the silo sees the frame). At QoS 0, equal to offered.",
        ["stored"] = "Points the silo's time-series sink reports accepted by the TSDB (silo /metrics telemetry_storage_points_written_total, counted from the start of the run; includes the few hdv_alert points). The exact count is 'verified'.",
        ["verified"] = "After the drain, GET /api/v1/export of hdv_odometerKm{vin=~\"<prefix>.*\"} (every simulated sample carries the odometer): per VIN, each second sent must be stored exactly once, nothing else.",
        ["lag"] = "offered samples - stored samples at a moment; lagSeconds = lag / live offered samples per second. Bounded when lag at the end of the offer <= --max-lag seconds and the drain completes.",
        ["alertLatency"] = "For each vehicle with an injected fault, its first 'opened' alert event of the expected rule on GET /api/alerts/stream: arrival time of the event here minus the time the frame carrying the alert's lastHeldUtc sample (the sample at which the episode opened) was written to the socket. Same machine clock (monotonic).",
        ["generatorLateness"] = "Time a frame was written minus its due time: the generator (or a full in-flight window, i.e. the broker) fell behind when this grows.",
        ["detection"] = "Injected: vehicles with a NOx control failure (ground truth rule R1). Detected: those with an opened R1 event on the stream. False positive: an opened R1 event for a clean vehicle. precision = detected / (detected + false positives), recall = detected / injected.",
        ["cpuPercent"] = "Percent of one core (the machine has Processors cores, so the ceiling is Processors x 100). From /proc/PID/stat when the PID is known, else from the silo's /metrics process CPU counter.",
        ["siloBytesPerVehicle"] = "(silo resident memory at the end - at the start) / vehicles.",
    };

    /// <summary>Runs the load; <paramref name="progress"/> gets every snapshot as it is taken.</summary>
    public static async Task<LoadReport> RunAsync(LoadOptions options, Action<LoadSnapshot>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = options.Validate().ToList();
        if (errors.Count > 0)
            throw new ArgumentException(string.Join(" ", errors), nameof(options));

        var machine = ProcessSampler.Machine();
        // The run's clock starts on a whole second, two seconds ahead, so that connections are open by then.
        var now = DateTime.UtcNow;
        var runStartUtc = new DateTime(now.Ticks - (now.Ticks % TimeSpan.TicksPerSecond), DateTimeKind.Utc).AddSeconds(2);
        var fleet = new LoadFleet(options, runStartUtc);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            // Read by /metrics too when the silo runs with Telemetry:Api:PublicMetrics=false.
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", options.ApiKey);
        }
        var metricsUrl = options.ApiUrl is null ? null : new Uri(options.ApiUrl, "metrics");
        var baseline = metricsUrl is null ? null : await ScrapeAsync(http, metricsUrl, cancellationToken);

        var clock = new Stopwatch();
        await using var alerts = options.ApiUrl is null ? null : new AlertStreamListener(options.ApiUrl, clock, options.ApiKey);
        if (alerts is not null)
            await alerts.StartAsync(cancellationToken);

        await using var generator = new LoadGenerator(options, fleet, clock, runStartUtc);
        await generator.ConnectAsync(cancellationToken);

        var wait = runStartUtc - DateTime.UtcNow;
        if (wait > TimeSpan.Zero)
            await Task.Delay(wait, cancellationToken);
        clock.Start();

        var sampler = new Sampler(options, generator, http, metricsUrl, baseline, clock);
        var timeline = new List<LoadSnapshot>();
        async Task<LoadSnapshot> SampleAsync(string phase, bool scrape = false)
        {
            var snapshot = await sampler.TakeAsync(phase, scrape, cancellationToken);
            timeline.Add(snapshot);
            progress?.Invoke(snapshot);
            return snapshot;
        }

        var first = await SampleAsync("reissue", scrape: true);
        var running = generator.RunAsync(TimeSpan.FromSeconds(30), cancellationToken);
        var liveStart = (double)options.HistorySeconds;
        while (!running.IsCompleted)
        {
            await Task.WhenAny(running, Task.Delay(options.SampleInterval, CancellationToken.None));
            if (!running.IsCompleted)
                await SampleAsync(clock.Elapsed.TotalSeconds < liveStart ? "reissue" : "live");
        }
        await running;
        var endOfOffer = await SampleAsync("live", scrape: true);
        var offerSeconds = clock.Elapsed.TotalSeconds;

        // Drain: until the silo has stored what it was offered (or the TSDB holds it all), or the timeout.
        var drainDeadline = clock.Elapsed + options.DrainTimeout;
        var last = endOfOffer;
        double? drainSeconds = null;
        while (true)
        {
            var stored = last.StoredSamples >= last.OfferedSamples && (last.SiloDecodedFrames ?? 0) >= last.AckedFrames;
            var alertsDone = alerts is null || fleet.Faults.All(f => FirstOpened(alerts.Alerts, f) is not null);
            if (stored && drainSeconds is null)
                drainSeconds = clock.Elapsed.TotalSeconds - offerSeconds;
            if ((stored || last.StoredSamples is null) && alertsDone)
                break;
            if (clock.Elapsed >= drainDeadline)
                break;
            await Task.Delay(options.SampleInterval, cancellationToken);
            last = await SampleAsync("drain", scrape: true);
        }

        TsdbVerification? verified = null;
        if (options.TsdbUrl is { } tsdb)
        {
            using var verifier = new TsdbVerifier(tsdb);
            var expected = fleet.Vehicles.ToDictionary(v => v.Vin, v => v.Parked is { } gap
                ? new SentSeconds(ToSecond(v.HistoryStartUtc), ToSecond(v.SentUntilUtc), ToSecond(gap.FromUtc), ToSecond(gap.ToUtc))
                : new SentSeconds(ToSecond(v.HistoryStartUtc), ToSecond(v.SentUntilUtc)), StringComparer.Ordinal);
            // Rows become visible to queries a few seconds after the write: retry until exact or the deadline.
            var deadline = clock.Elapsed + TimeSpan.FromSeconds(Math.Max(15, (drainDeadline - clock.Elapsed).TotalSeconds));
            while (true)
            {
                verified = await verifier.VerifyAsync(options.VinPrefix, expected, cancellationToken);
                if (verified.Exact || verified.Duplicated > 0 || verified.Unexpected > 0 || clock.Elapsed >= deadline)
                    break;
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
            drainSeconds ??= verified.Exact ? clock.Elapsed.TotalSeconds - offerSeconds : null;
        }

        var final = metricsUrl is null ? null : await ScrapeAsync(http, metricsUrl, cancellationToken);
        return Build(options, machine, runStartUtc, fleet, generator, alerts, timeline, first, endOfOffer, last, offerSeconds, drainSeconds,
            verified, baseline, final, sampler, clock);
    }

    private static LoadReport Build(LoadOptions options, MachineInfo machine, DateTime runStartUtc, LoadFleet fleet, LoadGenerator generator,
        AlertStreamListener? alerts, List<LoadSnapshot> timeline, LoadSnapshot first, LoadSnapshot endOfOffer, LoadSnapshot last,
        double offerSeconds, double? drainSeconds, TsdbVerification? verified, PrometheusText? baseline, PrometheusText? final, Sampler sampler,
        Stopwatch clock)
    {
        // The live schedule's frames fall due from the re-issue window + one frame interval on, for Duration.
        var liveSeconds = options.Duration.TotalSeconds;
        var liveFrom = options.HistorySeconds + options.RecordsPerFrame;
        var liveFrames = generator.OfferedFrames - generator.HistoryFrames;
        var liveSamples = generator.OfferedSamples - generator.HistorySamples;
        var liveRate = liveSamples / liveSeconds;

        // Stored rate over the live window: from the snapshot nearest its start to the end of the offer.
        var liveFirst = timeline.FirstOrDefault(s => s.Seconds >= liveFrom && s.StoredSamples is not null) ?? first;
        double? storedRate = endOfOffer.StoredSamples is { } e && liveFirst.StoredSamples is { } b && endOfOffer.Seconds > liveFirst.Seconds
            ? (e - b) / (endOfOffer.Seconds - liveFirst.Seconds) : null;

        var lagSeconds = endOfOffer.LagSamples is { } lag ? lag / Math.Max(1, liveRate) : (double?)null;
        var half = timeline.Where(s => s.Phase == "live" && s.Seconds >= liveFrom + (liveSeconds / 2) && s.LagSamples is not null).ToList();
        double? growth = half.Count >= 3 ? Slope(half.Select(s => (s.Seconds, (double)s.LagSamples!.Value)).ToList()) : null;

        var latency = new LongHistogram(TimeSpan.FromHours(2).Ticks / 10, 3);
        var unmatched = 0;
        var detected = new List<string>();
        var missed = new List<string>();
        var streamed = alerts?.Alerts ?? [];
        foreach (var fault in fleet.Faults)
        {
            var opened = FirstOpened(streamed, fault);
            if (opened is null)
            {
                missed.Add(fault.Vin);
                continue;
            }
            detected.Add(fault.Vin);
            var published = fleet.ByVin[fault.Vin].PublishedTicksOf(opened.LastHeldUtc);
            if (published is { } p)
                latency.RecordValue(Math.Max(0, (long)((opened.ArrivedTicks - p) * 1_000_000.0 / Stopwatch.Frequency)));
            else
                unmatched++;
        }
        var injectedRules = fleet.Faults.Select(f => f.ExpectedRule).ToHashSet(StringComparer.Ordinal);
        var falsePositives = streamed.Where(a => a.Kind == "opened" && injectedRules.Contains(a.RuleId) && fleet.ByVin.TryGetValue(a.Vin, out var v) && v.Fault is null)
            .Select(a => a.Vin).Distinct(StringComparer.Ordinal).ToList();
        // A parked truck switched its engine off before going silent: an offline episode starting in its ignition-off is a false alert.
        var parkedOffline = streamed.Count(a => a.Kind == "opened" && a.RuleId == "R9.offline" && fleet.ByVin.TryGetValue(a.Vin, out var v)
            && v.Parked is { } gap && a.StartUtc >= gap.FromUtc.AddSeconds(-LoadVehicle.StopLeadSeconds) && a.StartUtc < gap.ToUtc);
        var openedByRule = streamed.Where(a => a.Kind == "opened").GroupBy(a => a.RuleId, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        // R1 needs 300 s of warm exceedance after a 300 s gate; the fault starts 2 min into the history.
        var detectable = alerts is not null && fleet.Faults.Count > 0 && (options.HistoryMinutes * 60) + options.Duration.TotalSeconds >= 15 * 60;
        var detection = new DetectionFigures(Definitions["detection"], detectable, fleet.Faults.Count, detected.Count, missed.Count, falsePositives.Count,
            detected.Count + falsePositives.Count == 0 ? null : (double)detected.Count / (detected.Count + falsePositives.Count),
            fleet.Faults.Count == 0 ? null : (double)detected.Count / fleet.Faults.Count,
            [.. missed.Take(50)], [.. falsePositives.Take(50)], openedByRule);

        var lateness = generator.Lateness();
        var generatorCpu = sampler.GeneratorCpuPercentOverall;
        var generatorBound = lateness.GetValueAtPercentile(99) > options.MaxLagSeconds * 1_000_000 / 2
            && (options.Qos == 0 || endOfOffer.InFlight < options.MaxInFlight * options.ConnectionCount / 2);

        // A counter the silo has not yet incremented is not exposed at all: with a scrape, absent means 0.
        long? Delta(string name) => final is null ? null : (long)((final.Sum(name) ?? 0) - (baseline?.Sum(name) ?? 0));
        var rejectedByReason = final?.ByLabel(RejectedMetric, "reason") ?? new Dictionary<string, double>();
        var rejected = Delta(RejectedMetric);
        var failed = Delta(FailedMetric);
        var processes = sampler.Figures();
        var silo = processes.FirstOrDefault(p => p.Name == "silo");
        double? bytesPerVehicle = silo?.RssBytesEnd is { } rssEnd && silo.RssBytesStart is { } rssStart ? (double)(rssEnd - rssStart) / options.Vehicles : null;

        var targets = new List<TargetCheck>();
        var genErrors = generator.Errors.Select(e => e.Message).ToList();
        targets.Add(new("connections", true, genErrors.Count == 0, genErrors.Count == 0 ? "every broker connection stayed up" : string.Join("; ", genErrors)));
        var ackMet = generator.AckedFrames == generator.OfferedFrames;
        targets.Add(new("acknowledged", options.Qos == 1, options.Qos == 0 || ackMet,
            Inv($"{generator.AckedFrames} of {generator.OfferedFrames} frames acknowledged by the broker")));
        if (verified is not null)
        {
            targets.Add(new("nothing lost", true, verified.Missing == 0,
                Inv($"{verified.DistinctSamples} of {verified.ExpectedSamples} (VIN, second) stored; {verified.Missing} missing")));
            targets.Add(new("nothing duplicated", true, verified.Duplicated == 0 && verified.Unexpected == 0,
                Inv($"{verified.Duplicated} extra copies, {verified.Unexpected} samples never sent")));
        }
        else
        {
            var met = last.StoredSamples >= generator.OfferedSamples;
            targets.Add(new("nothing lost", last.StoredSamples is not null, met,
                last.StoredSamples is null ? "not checked: give --tsdb or --api" : Inv($"silo stored {last.StoredSamples} points for {generator.OfferedSamples} samples offered (not verified in the TSDB)")));
        }
        targets.Add(new("nothing rejected", rejected is not null, (rejected ?? 0) == 0 && (failed ?? 0) == 0,
            rejected is null ? "not checked: give --api" : Inv($"{rejected} rejected, {failed ?? 0} failed at the silo")));
        targets.Add(new("lag bounded", lagSeconds is not null, lagSeconds <= options.MaxLagSeconds,
            lagSeconds is null ? "not checked: give --api (the silo's storage counter)" : Inv($"lag {endOfOffer.LagSamples} samples ({lagSeconds:0.0} s of offered samples) at the end of the offer; limit {options.MaxLagSeconds} s")));
        targets.Add(new("drained", verified is not null || last.StoredSamples is not null, drainSeconds is not null,
            drainSeconds is { } d ? Inv($"everything stored {d:0.0} s after the offer ended") : Inv($"not everything stored within --drain-timeout {options.DrainTimeout.TotalSeconds} s")));
        var lateP99 = lateness.TotalCount == 0 ? 0 : lateness.GetValueAtPercentile(99) / 1000.0;
        targets.Add(new("on schedule", true, lateP99 <= options.MaxLagSeconds * 1000,
            Inv($"p99 of frames written {lateP99:0.#} ms after their due time; limit {options.MaxLagSeconds} s")));
        if (detectable)
        {
            targets.Add(new("faults detected", true, missed.Count == 0, Inv($"{detected.Count} of {fleet.Faults.Count} injected faults detected")));
        }
        else
        {
            targets.Add(new("faults detected", false, true, alerts is null ? "not checked: give --api" : "not checked: history + duration shorter than 15 min, R1 cannot hold yet"));
        }
        var parked = fleet.Vehicles.Count(v => v.Parked is not null);
        targets.Add(new("parked trucks quiet", alerts is not null && parked > 0, parkedOffline == 0,
            alerts is null ? "not checked: give --api" : parked == 0 ? "not checked: no vehicle parked in this run"
            : Inv($"{parkedOffline} offline episodes opened on {parked} trucks during their ignition-off")));
        var reasons = targets.Where(t => t.Checked && !t.Met).Select(t => $"{t.Name}: {t.Detail}").ToList();
        var journalFull = Delta(JournalFullMetric) ?? 0;
        var (saturated, evidence) = reasons.Count == 0 ? (null, null) : Saturation(options, machine, processes, generatorBound, ackMet, generatorCpu, endOfOffer, journalFull);

        var settings = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["vehicles"] = options.Vehicles,
            ["durationSeconds"] = options.Duration.TotalSeconds,
            ["format"] = options.Format,
            ["recordsPerFrame"] = options.RecordsPerFrame,
            ["rateFramesPerSecond"] = options.FramesPerSecond,
            ["connections"] = options.ConnectionCount,
            ["perDeviceConnections"] = options.PerDeviceConnections,
            ["qos"] = options.Qos,
            ["maxInFlight"] = options.MaxInFlight,
            ["broker"] = $"{options.Host}:{options.Port}",
            ["tsdb"] = options.TsdbUrl?.ToString(),
            ["api"] = options.ApiUrl?.ToString(),
            ["siloPid"] = options.SiloPid,
            ["faultShare"] = options.FaultShare,
            ["faultyVehicles"] = fleet.Faults.Count,
            ["parkedShare"] = options.ParkedShare,
            ["parkedMinutes"] = options.ParkedMinutes,
            ["parkedVehicles"] = parked,
            ["historyMinutes"] = options.HistoryMinutes,
            ["historyForAll"] = options.HistoryForAll,
            ["historySeconds"] = options.HistorySeconds,
            ["seed"] = options.Seed,
            ["vinPrefix"] = options.VinPrefix,
            ["maxLagSeconds"] = options.MaxLagSeconds,
            ["drainTimeoutSeconds"] = options.DrainTimeout.TotalSeconds,
        };

        return new LoadReport
        {
            Label = options.Label,
            StartedUtc = runStartUtc,
            Machine = machine,
            Settings = settings,
            Offered = new(generator.OfferedFrames, generator.OfferedSamples, generator.OfferedFrames / offerSeconds, generator.OfferedSamples / offerSeconds),
            OfferedLive = new(liveFrames, liveSamples, liveFrames / liveSeconds, liveRate),
            ReissuedFrames = generator.HistoryFrames,
            ReissuedSamples = generator.HistorySamples,
            Acknowledged = new(generator.AckedFrames, generator.AckedSamples, generator.AckedFrames / offerSeconds, generator.AckedSamples / offerSeconds),
            StoredSamplesPerSecondLive = storedRate,
            StoredSamplesAtEndOfOffer = endOfOffer.StoredSamples,
            StoredSamplesAfterDrain = last.StoredSamples,
            DrainSeconds = drainSeconds,
            Verified = verified,
            LagSamplesAtEndOfOffer = endOfOffer.LagSamples,
            LagSecondsAtEndOfOffer = lagSeconds,
            LagSamplesMax = timeline.Max(s => s.LagSamples),
            LagGrowthSamplesPerSecond = growth,
            AlertLatency = Latency(Definitions["alertLatency"], latency, unmatched),
            GeneratorLateness = Latency(Definitions["generatorLateness"], lateness, 0),
            Detection = detection,
            GeneratorCpuPercent = generatorCpu,
            GeneratorBound = generatorBound,
            Processes = processes,
            SiloRejected = rejected,
            SiloRejectedByReason = rejectedByReason,
            SiloFailed = failed,
            SiloReceived = Delta(ReceivedMetric),
            SiloDecoded = Delta(DecodedMetric),
            SiloBytesPerVehicle = bytesPerVehicle,
            Saturated = saturated,
            SaturationEvidence = evidence,
            Targets = targets,
            Passed = reasons.Count == 0,
            Reasons = reasons,
            Definitions = Definitions,
            Timeline = timeline,
        };
    }

    /// <summary>
    /// Names the component that most likely saturated first: the generator when it fell behind its
    /// schedule with its in-flight windows not full; the broker when publishes waited for
    /// acknowledgements; otherwise the busiest of the watched processes, the silo when nothing is watched.
    /// </summary>
    internal static (string?, string?) Saturation(LoadOptions options, MachineInfo machine, IReadOnlyList<ProcessFigures> processes, bool generatorBound,
        bool acked, double generatorCpu, LoadSnapshot endOfOffer, long journalFullRejections)
    {
        var cpu = string.Join(", ", processes.Where(p => p.CpuPercentMean is not null).Select(p => Inv($"{p.Name} {p.CpuPercentMean:0}%")));
        cpu = Inv($"CPU (% of one core, {machine.Processors} cores): generator {generatorCpu:0}%{(cpu.Length > 0 ? ", " + cpu : "")}");
        if (generatorBound)
        {
            // Late frames from a generator far from a core of its own, on a machine whose cores were all busy:
            // the processes sharing the machine starved it, not its own work.
            var total = generatorCpu + processes.Where(p => p.Source == "proc").Sum(p => p.CpuPercentMean ?? 0);
            var capacity = machine.Processors * 100.0;
            if (generatorCpu < 80 && total >= 0.85 * capacity)
                return ("machine", Inv($"frames went out late while the generator used {generatorCpu:0}% of a core and the processes on this machine {total:0}% of its {capacity:0}%: too few cores for all of them; {cpu}"));
            return ("generator", $"frames went out late while the in-flight windows were not full; {cpu}");
        }
        // A silo whose journal is at its disk cap takes no frame until a cursor moves: that, not its CPU, held the run.
        if (journalFullRejections > 0)
            return ("journal", Inv($"the silo's journal reached its disk cap (Telemetry:Journal:MaxBytes) and refused {journalFullRejections} appends, so the silo stopped taking frames; its warning 4033 names the cursor that held it; {cpu}"));
        if (!acked || (options.Qos == 1 && endOfOffer.InFlight >= options.MaxInFlight * options.ConnectionCount / 2))
            return ("broker", $"publishes waited for PUBACKs ({endOfOffer.InFlight} in flight at the end of the offer); {cpu}");
        var busiest = processes.Where(p => p.Name != "silo" && p.CpuPercentMean is not null).OrderByDescending(p => p.CpuPercentMean).FirstOrDefault();
        var silo = processes.FirstOrDefault(p => p.Name == "silo");
        if (busiest is not null && silo?.CpuPercentMean is { } s && busiest.CpuPercentMean > s)
            return (busiest.Name, $"busiest process while the lag grew; {cpu}");
        return ("silo", $"the lag grew while the broker acknowledged everything on time; {cpu}");
    }

    private static StreamedAlert? FirstOpened(IReadOnlyList<StreamedAlert> alerts, InjectedFault fault) =>
        alerts.FirstOrDefault(a => a.Kind == "opened" && a.Vin == fault.Vin && a.RuleId == fault.ExpectedRule);

    private static LatencyFigures Latency(string definition, LongHistogram h, int unmatched) => h.TotalCount == 0
        ? new(definition, 0, null, null, null, null, unmatched)
        : new(definition, h.TotalCount, h.GetValueAtPercentile(50) / 1000.0, h.GetValueAtPercentile(99) / 1000.0, h.GetValueAtPercentile(99.9) / 1000.0,
            h.GetMaxValue() / 1000.0, unmatched);

    private static double Slope(List<(double X, double Y)> points)
    {
        var mx = points.Average(p => p.X);
        var my = points.Average(p => p.Y);
        var sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        return sxx == 0 ? 0 : points.Sum(p => (p.X - mx) * (p.Y - my)) / sxx;
    }

    private static long ToSecond(DateTime utc) => utc.Ticks / TimeSpan.TicksPerSecond - (DateTime.UnixEpoch.Ticks / TimeSpan.TicksPerSecond);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    internal static async Task<PrometheusText?> ScrapeAsync(HttpClient http, Uri url, CancellationToken cancellationToken)
    {
        try
        {
            return PrometheusText.Parse(await http.GetStringAsync(url, cancellationToken));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Takes the snapshots and keeps the per-process CPU and memory figures.</summary>
    private sealed class Sampler
    {
        private readonly LoadOptions _options;
        private readonly LoadGenerator _generator;
        private readonly HttpClient _http;
        private readonly Uri? _metricsUrl;
        private readonly PrometheusText? _baseline;
        private readonly Stopwatch _clock;
        private readonly Dictionary<string, Track> _tracks = new(StringComparer.Ordinal);
        private readonly TimeSpan _generatorCpuStart;
        private TimeSpan _generatorCpuLast;
        private double _lastSeconds;
        private double _lastScrapeSeconds = double.NegativeInfinity;

        public Sampler(LoadOptions options, LoadGenerator generator, HttpClient http, Uri? metricsUrl, PrometheusText? baseline, Stopwatch clock)
        {
            _options = options;
            _generator = generator;
            _http = http;
            _metricsUrl = metricsUrl;
            _baseline = baseline;
            _clock = clock;
            _generatorCpuStart = _generatorCpuLast = Process.GetCurrentProcess().TotalProcessorTime;
            if (options.SiloPid is { } pid)
                _tracks["silo"] = new Track(pid, "proc");
            else if (metricsUrl is not null)
                _tracks["silo"] = new Track(null, "metrics");
            foreach (var (name, watched) in options.WatchPids)
                _tracks[name] = new Track(watched, "proc");
            foreach (var track in _tracks.Values)
                track.Sample(null, 0);
        }

        public double GeneratorCpuPercentOverall =>
            _clock.Elapsed.TotalSeconds <= 0 ? 0 : (Process.GetCurrentProcess().TotalProcessorTime - _generatorCpuStart).TotalSeconds / _clock.Elapsed.TotalSeconds * 100;

        /// <summary>
        /// One snapshot. The silo's figures (stored, lag, decoded) are read when <paramref name="scrape"/> or
        /// when <see cref="LoadOptions.ScrapeInterval"/> has passed; otherwise they are null in this snapshot.
        /// </summary>
        public async Task<LoadSnapshot> TakeAsync(string phase, bool scrape, CancellationToken cancellationToken)
        {
            var due = scrape || _clock.Elapsed.TotalSeconds - _lastScrapeSeconds >= _options.ScrapeInterval.TotalSeconds - 0.05;
            var metrics = _metricsUrl is null || !due ? null : await ScrapeAsync(_http, _metricsUrl, cancellationToken);
            var seconds = _clock.Elapsed.TotalSeconds;
            if (metrics is not null)
                _lastScrapeSeconds = seconds;
            var dt = seconds - _lastSeconds;
            _lastSeconds = seconds;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var generatorCpu = dt > 0 ? (cpu - _generatorCpuLast).TotalSeconds / dt * 100 : 0;
            _generatorCpuLast = cpu;
            var perProcess = new SortedDictionary<string, double>(StringComparer.Ordinal);
            foreach (var (name, track) in _tracks)
            {
                if (track.Sample(metrics, seconds) is { } percent)
                    perProcess[name] = percent;
            }
            long? Since(string name) => metrics is null ? null : (long)((metrics.Sum(name) ?? 0) - (_baseline?.Sum(name) ?? 0));
            var stored = Since(StoredMetric);
            var offered = _generator.OfferedSamples;
            var silo = _tracks.GetValueOrDefault("silo");
            return new LoadSnapshot
            {
                Seconds = Math.Round(seconds, 3),
                Phase = phase,
                OfferedFrames = _generator.OfferedFrames,
                OfferedSamples = offered,
                AckedFrames = _generator.AckedFrames,
                AckedSamples = _generator.AckedSamples,
                InFlight = _generator.InFlight,
                GeneratorBehindSeconds = Math.Round(_generator.BehindSeconds, 3),
                SiloDecodedFrames = Since(DecodedMetric),
                StoredSamples = stored,
                // Stored points include the few hdv_alert points, so the difference can dip below 0: shown as 0.
                LagSamples = stored is { } s ? Math.Max(0, offered - s) : null,
                SiloCpuPercent = silo?.LastPercent,
                SiloRssBytes = silo?.LastRss,
                GeneratorCpuPercent = Math.Round(generatorCpu, 1),
                ProcessCpuPercent = perProcess,
            };
        }

        public IReadOnlyList<ProcessFigures> Figures() =>
            [.. _tracks.Select(kv => new ProcessFigures(kv.Key, kv.Value.Pid, kv.Value.Source, kv.Value.MeanPercent, kv.Value.MaxPercent,
                kv.Value.FirstRss, kv.Value.LastRss, kv.Value.MaxRss))];

        private sealed class Track(int? pid, string source)
        {
            private double? _firstCpu;
            private double? _lastCpu;
            private double _lastAt;
            private double _seconds;
            public int? Pid { get; } = pid;
            public string Source { get; } = source;
            public double? LastPercent { get; private set; }
            public double? MaxPercent { get; private set; }
            public double? MeanPercent => _firstCpu is { } f && _lastCpu is { } l && _seconds > 0 ? Math.Round((l - f) / _seconds * 100, 1) : null;
            public long? FirstRss { get; private set; }
            public long? LastRss { get; private set; }
            public long? MaxRss { get; private set; }

            /// <summary>Reads the process's figures at <paramref name="at"/> seconds into the run; null when there are none (no fresh scrape).</summary>
            public double? Sample(PrometheusText? metrics, double at)
            {
                double? cpu;
                long? rss;
                if (Pid is { } p)
                {
                    var read = ProcessSampler.Read(p);
                    cpu = read?.CpuSeconds;
                    rss = read?.RssBytes;
                }
                else
                {
                    cpu = metrics?.Sum(CpuMetrics);
                    rss = metrics?.Sum(MemoryMetrics) is { } m ? (long)m : null;
                }
                if (rss is { } r)
                {
                    FirstRss ??= r;
                    LastRss = r;
                    MaxRss = Math.Max(MaxRss ?? 0, r);
                }
                if (cpu is not { } c)
                    return null;
                double? percent = null;
                var dt = at - _lastAt;
                _lastAt = at;
                if (_lastCpu is { } previous && dt > 0)
                {
                    percent = Math.Round((c - previous) / dt * 100, 1);
                    LastPercent = percent;
                    MaxPercent = Math.Max(MaxPercent ?? 0, percent.Value);
                    _seconds += dt;
                }
                _firstCpu ??= c;
                _lastCpu = c;
                return percent;
            }
        }
    }
}
