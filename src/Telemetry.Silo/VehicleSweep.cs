using System.Text;
using Microsoft.Extensions.Options;
using Telemetry.Grains;
using Telemetry.Ingest;
using Telemetry.Storage.Journal;

namespace Telemetry.Silo;

/// <summary>
/// One loop for all vehicles instead of a timer per vehicle: every
/// <see cref="VehicleGrainOptions.ClockPeriod"/> it advances the clock of the vehicles that went
/// silent while it matters (offline detection, episodes closing, unsaved state), saves the vehicle
/// index, and moves the journal cursor <see cref="GrainStateCursor"/> up to the position before which
/// every grain's saved state is complete.
/// </summary>
public sealed partial class VehicleSweep(
    IOptions<VehicleGrainOptions> options,
    IOptions<SiloOptions> silo,
    VehicleIndex vehicles,
    IngestDelay delay,
    GrainMetrics metrics,
    IGrainFactory grains,
    IJournal journal,
    IOptions<JournalOptions> journalOptions,
    TelemetryClock clock,
    TimeProvider time,
    ILogger<VehicleSweep> logger) : BackgroundService
{
    /// <summary>Journal cursor: records before it are covered by saved grain state.</summary>
    public const string GrainStateCursor = "grain-state";

    // The passes whose journal position a vehicle's tag may still name (see VehicleIndex.SaveTag).
    private readonly Dictionary<long, Mark> _marks = [];

    /// <summary>Path of the saved vehicle index.</summary>
    public string IndexPath => Path.Combine(silo.Value.StateDirectory, "vehicles.idx");

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var (loaded, skipped) = await vehicles.LoadAsync(IndexPath, cancellationToken);
        Log.IndexLoaded(logger, loaded, IndexPath, skipped);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.Value.ClockPeriod;
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SweepAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        await vehicles.SaveAsync(IndexPath, CancellationToken.None);
    }

    /// <summary>One pass: advance silent vehicles, save those whose state stayed unsaved too long, save the index, move the grain-state cursor.</summary>
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        if (_marks.Count == 0)
        {
            // Vehicles tagged before the first pass (those the recovery replayed, among others) are covered only
            // from the cursor saved before this start.
            _marks[vehicles.Pass] = new Mark(now, Math.Max(1, journal.ReadCursor(GrainStateCursor)));
        }
        // Every record a vehicle writes after it is tagged with this pass comes after this position.
        var mark = journal.LastSequence;
        var pass = vehicles.BeginPass();
        _marks[pass] = new Mark(now, mark);

        // While ingest is behind, every truck's frames arrive late: advance the detectors' clocks only as
        // far as ingest has got, so that a backlog is not reported as trucks going offline, and count a
        // truck as silent only when no frame came for a clock period beyond that. Otherwise a backlog
        // makes every truck "silent" between its late frames, and a pass calls and saves every grain
        // (at 100,000 trucks 3,300 extra state writes a second, just when the silo is short of CPU).
        // While ingest is stalled (journal full, broker away) the clocks are held (Allowance grows with the
        // stall) but the vehicles are chosen by the delay measured from frames.
        var allowance = delay.Allowance(now);
        LogAllowanceChange(allowance);
        var horizon = now - TimeSpan.FromSeconds(allowance);
        var measured = Math.Min(allowance, delay.MeasuredAllowance(now));
        var due = vehicles.DueForClock(now - TimeSpan.FromSeconds(measured), options.Value.ClockPeriod);
        // A vehicle whose state has stayed unsaved for long holds the grain-state cursor, and so the journal:
        // it is called to save (trucks that send save themselves every PersistInterval, so these are few, and
        // they need not wait for the ingest delay). Sooner while the journal runs short of space.
        var (_, stale) = vehicles.UnsavedState(PassAt(now - StaleAge()));
        // Vehicles whose call failed in an earlier pass are called again, due or not.
        var retry = _failures.Retry;
        List<string> called = retry.Count > 0 || stale.Count > 0 ? [.. due.Union(retry, StringComparer.Ordinal).Union(stale, StringComparer.Ordinal)] : due;
        metrics.ClockAdvanced(called.Count);
        var failed = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        var retryOnly = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(called, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (vin, _) =>
        {
            try
            {
                await grains.GetVehicle(vin).AdvanceClock(horizon);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The journal full (the grain keeps what it could not write) or no answer in time: called again,
                // but the cursor does not wait, since the journal frees space only when the cursors move.
                if (ex is TimeoutException || journal.Stats.IsFull)
                {
                    retryOnly[vin] = 0;
                    Log.AdvanceDeferred(logger, vin, ex);
                }
                else
                {
                    failed[vin] = 0;
                    Log.AdvanceFailed(logger, vin, ex);
                }
            }
        });
        metrics.UnsavedReleased(retryOnly.Keys.Count(vehicles.Release), "deferred");
        if (journal.Stats.IsFull)
        {
            // While the journal is full nothing may hold its cursor for long: messages waiting to be archived keep
            // their vehicles' tags from clearing, and the journal frees space only when the cursors move.
            metrics.UnsavedReleased(stale.Count(vehicles.Release), "journalFull");
        }
        var givenUp = 0;
        foreach (var vin in _failures.Record(called, [.. failed.Keys], [.. retryOnly.Keys]))
        {
            if (vehicles.Release(vin))
                givenUp++;
            Log.AdvanceGivenUp(logger, vin, _failures.MaxPasses);
        }
        metrics.UnsavedReleased(givenUp, "givenUp");
        await vehicles.SaveAsync(IndexPath, cancellationToken);

        // The cursor follows the saves exactly: up to the position of the oldest pass that a vehicle with
        // unsaved records was tagged in (a vehicle whose call failed keeps its tag, and so holds the cursor,
        // until it saves or is given up on), or this pass's position when every state is saved.
        var (oldest, _) = vehicles.UnsavedState(0);
        // (A tag naming a pass already let go is read as the oldest kept: the tag was set after that pass's scan.)
        var keep = Math.Max(oldest == 0 ? pass : oldest, _marks.Keys.Min());
        if (_failures.HoldCursor)
        {
            Log.CursorHeld(logger, _failures.Holding);
        }
        var cursor = _marks[keep].Sequence;
        foreach (var old in _marks.Keys.Where(p => p < keep).ToList())
        {
            _marks.Remove(old);
        }
        if (cursor > journal.ReadCursor(GrainStateCursor))
        {
            await journal.SaveCursorAsync(GrainStateCursor, cursor, cancellationToken);
        }
    }

    /// <summary>
    /// How long a vehicle's state may stay unsaved before the sweep calls it to save: a little longer than a
    /// sending vehicle takes to save by itself; two clock periods while the journal is over half full and this
    /// cursor, not the shipper's, is what holds it (saving early costs a state write per vehicle, and frees
    /// nothing while the shipper is further behind).
    /// </summary>
    private TimeSpan StaleAge()
    {
        var period = options.Value.ClockPeriod;
        var max = journalOptions.Value.MaxBytes;
        var pressed = max > 0 && journal.Stats.BytesOnDisk >= max / 2
            && journal.ReadCursor(GrainStateCursor) <= journal.ReadCursor(JournalShipper.CursorName);
        return pressed ? period + period : options.Value.PersistInterval + period + period;
    }

    /// <summary>The newest pass taken at or before <paramref name="time"/> (0 when none).</summary>
    private long PassAt(DateTime time)
    {
        var found = 0L;
        foreach (var (pass, m) in _marks)
        {
            if (m.Time <= time && pass > found)
            {
                found = pass;
            }
        }
        return found;
    }

    /// <summary>The vehicles the sweep could not advance: retried, and holding the grain-state cursor meanwhile.</summary>
    public SweepFailures Failures => _failures;

    // Given up on after 5 minutes of failed passes, and at least 10 (at the default 30 s clock period, both).
    private readonly SweepFailures _failures = new(Math.Max(SweepFailures.DefaultMaxPasses,
        (int)Math.Ceiling(TimeSpan.FromMinutes(5) / options.Value.ClockPeriod)));

    /// <summary>The journal position and the time of a pass.</summary>
    private sealed record Mark(DateTime Time, long Sequence);

    private void LogAllowanceChange(double allowance)
    {
        var behind = allowance >= LoggedAllowanceSeconds;
        if (behind && !_behind)
        {
            Log.IngestBehind(logger, allowance);
        }
        else if (!behind && _behind)
        {
            Log.IngestCaughtUp(logger, allowance);
        }
        _behind = behind;
    }

    private const double LoggedAllowanceSeconds = 30;
    private bool _behind;

    private static partial class Log
    {
        [LoggerMessage(EventId = 1404, Level = LogLevel.Warning, Message = "Ingest is {Seconds} s behind real time: offline detection waits for it (telemetry_ingest_delay_seconds)")]
        public static partial void IngestBehind(ILogger logger, double seconds);

        [LoggerMessage(EventId = 1405, Level = LogLevel.Information, Message = "Ingest caught up ({Seconds} s behind real time)")]
        public static partial void IngestCaughtUp(ILogger logger, double seconds);

        [LoggerMessage(EventId = 1401, Level = LogLevel.Information, Message = "Vehicle index: {Count} vehicles from {Path} ({Skipped} unreadable lines skipped)")]
        public static partial void IndexLoaded(ILogger logger, int count, string path, int skipped);

        [LoggerMessage(EventId = 1402, Level = LogLevel.Warning, Message = "Advancing the clock of {Vin} failed; it is called again on the next pass, and the grain-state cursor waits for it")]
        public static partial void AdvanceFailed(ILogger logger, string vin, Exception exception);

        [LoggerMessage(EventId = 1408, Level = LogLevel.Debug, Message = "Advancing the clock of {Vin} failed while the journal is full or the silo slow; it is called again on the next pass")]
        public static partial void AdvanceDeferred(ILogger logger, string vin, Exception exception);

        [LoggerMessage(EventId = 1406, Level = LogLevel.Warning, Message = "Grain-state cursor held: {Count} vehicles may not have saved their state (their clock could not be advanced)")]
        public static partial void CursorHeld(ILogger logger, int count);

        [LoggerMessage(EventId = 1407, Level = LogLevel.Error, Message = "Advancing the clock of {Vin} failed {Passes} passes in a row: the grain-state cursor no longer waits for it, so after a crash its frames before the cursor are not evaluated again")]
        public static partial void AdvanceGivenUp(ILogger logger, string vin, int passes);
    }
}

/// <summary>
/// At start, before ingest, continues exactly where a crash stopped. Every grain's saved state covers
/// the journal up to <see cref="VehicleSweep.GrainStateCursor"/> (at most a few minutes back); what
/// came after is in the journal. First the sample seconds already written after that point are
/// handed to their grains, then the raw frames archived after it are fed through the pipeline again:
/// the grains evaluate them on top of their saved state (so rule windows and episodes are as before
/// the crash) and store only the samples that were not yet written.
/// </summary>
public sealed partial class JournalRecovery(IJournal journal, RecoveredSeconds recovered, FramePipeline pipeline, ILogger<JournalRecovery> logger) : IHostedService
{
    private static readonly byte[] SampleMeasurement = "hdv,"u8.ToArray();
    private static readonly byte[] VinTag = "vin="u8.ToArray();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var from = Math.Max(1, journal.ReadCursor(VehicleSweep.GrainStateCursor));
        var records = 0L;
        var seconds = 0L;
        await foreach (var record in journal.ReadAsync(from, follow: false, cancellationToken))
        {
            if (record.Type is JournalRecordType.Points or JournalRecordType.PointsWithDetail)
            {
                records++;
                seconds += Collect(DetailBlock.Text(record.Type, record.Payload).Span, recovered);
            }
        }

        var frames = 0L;
        using var inFlight = new SemaphoreSlim(256, 256);
        var running = new List<Task>();
        await foreach (var record in journal.ReadAsync(from, follow: false, cancellationToken))
        {
            if (record.Type != JournalRecordType.Frame || !ArchivedFrame.TryDecode(record.Payload.ToArray(), out var frame))
            {
                continue;
            }
            frames++;
            await inFlight.WaitAsync(cancellationToken);
            running.Add(ReplayAsync(frame, inFlight, cancellationToken));
            if (running.Count >= 4096)
            {
                running.RemoveAll(t => t.IsCompleted);
            }
        }
        await Task.WhenAll(running);
        Log.Recovered(logger, from, records, seconds, recovered.Count, frames);
    }

    private async Task ReplayAsync(ArchivedFrame frame, SemaphoreSlim inFlight, CancellationToken cancellationToken)
    {
        try
        {
            await pipeline.ProcessAsync(frame.Topic, frame.Payload, frame.Payload.Length, frame.ReceivedUtc, cancellationToken, archive: false);
        }
        finally
        {
            inFlight.Release();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Adds the (VIN, second) of every sample line in a points record; returns how many.</summary>
    internal static long Collect(ReadOnlySpan<byte> points, RecoveredSeconds into)
    {
        var count = 0L;
        while (!points.IsEmpty)
        {
            var end = points.IndexOf((byte)'\n');
            var line = end < 0 ? points : points[..end];
            points = end < 0 ? [] : points[(end + 1)..];
            if (!line.StartsWith(SampleMeasurement))
            {
                continue;
            }
            var tag = line.IndexOf(VinTag);
            var space = line.LastIndexOf((byte)' ');
            if (tag < 0 || space < 0)
            {
                continue;
            }
            var vin = line[(tag + VinTag.Length)..];
            var vinEnd = vin.IndexOfAny((byte)',', (byte)' ');
            if (vinEnd < 0 || !long.TryParse(line[(space + 1)..], out var second))
            {
                continue;
            }
            into.Add(Encoding.ASCII.GetString(vin[..vinEnd]), second);
            count++;
        }
        return count;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Journal recovery from position {From}: {Records} sample records ({Seconds} seconds already stored for {Vehicles} vehicles), {Frames} archived frames evaluated again")]
        public static partial void Recovered(ILogger logger, long from, long records, long seconds, int vehicles, long frames);
    }
}
