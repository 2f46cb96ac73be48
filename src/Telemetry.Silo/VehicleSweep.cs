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
    TelemetryClock clock,
    TimeProvider time,
    ILogger<VehicleSweep> logger) : BackgroundService
{
    /// <summary>Journal cursor: records before it are covered by saved grain state.</summary>
    public const string GrainStateCursor = "grain-state";

    private readonly Queue<Mark> _marks = new();

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

    /// <summary>One pass: advance silent vehicles, save the index, move the grain-state cursor.</summary>
    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        var now = clock.UtcNow;
        var mark = journal.LastSequence;
        // While ingest is behind, every truck's frames arrive late: advance the detectors' clocks only as
        // far as ingest has got, so that a backlog is not reported as trucks going offline, and count a
        // truck as silent only when no frame came for a clock period beyond that. Otherwise a backlog
        // makes every truck "silent" between its late frames, and a pass calls and saves every grain
        // (at 100,000 trucks 3,300 extra state writes a second, just when the silo is short of CPU).
        // The grain-state cursor below waits for the allowance in turn.
        // While ingest is stalled (journal full, broker away) the clocks are held (Allowance grows with the
        // stall) but the vehicles are chosen, and the cursor waits, by the delay measured from frames: the
        // silent ones are still called and save their state, so that the journal can free space. Choosing
        // by the held clock would keep every mark from passing and the journal full for good.
        var allowance = delay.Allowance(now);
        LogAllowanceChange(allowance);
        var horizon = now - TimeSpan.FromSeconds(allowance);
        var measured = Math.Min(allowance, delay.MeasuredAllowance(now));
        var due = vehicles.DueForClock(now - TimeSpan.FromSeconds(measured), options.Value.ClockPeriod);
        // Vehicles whose call failed in an earlier pass are called again, due or not.
        var retry = _failures.Retry;
        List<string> called = retry.Count > 0 ? [.. due.Union(retry, StringComparer.Ordinal)] : due;
        metrics.ClockAdvanced(called.Count);
        var failed = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        var retryOnly = new System.Collections.Concurrent.ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        await Parallel.ForEachAsync(called, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = cancellationToken }, async (vin, _) =>
        {
            try
            {
                await grains.GetGrain<IVehicleGrain>(vin).AdvanceClock(horizon);
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
        foreach (var vin in _failures.Record(called, [.. failed.Keys], [.. retryOnly.Keys]))
        {
            Log.AdvanceGivenUp(logger, vin, _failures.MaxPasses);
        }
        await vehicles.SaveAsync(IndexPath, cancellationToken);

        // Every grain saves its state at least every PersistInterval while data flows, and the pass
        // after it falls silent saves the rest: a position recorded that long ago is covered. A vehicle
        // silent since before a mark is due once a clock period plus the allowance has passed, so a mark
        // also waits for the largest allowance of the passes since it was taken.
        foreach (var m in _marks)
        {
            m.MaxAllowanceSeconds = Math.Max(m.MaxAllowanceSeconds, measured);
        }
        _marks.Enqueue(new Mark(now, mark) { MaxAllowanceSeconds = measured });
        var covered = now - options.Value.PersistInterval - options.Value.ClockPeriod - options.Value.ClockPeriod;
        bool Passed(Mark oldest) => oldest.Time <= covered - TimeSpan.FromSeconds(oldest.MaxAllowanceSeconds);
        if (_failures.HoldCursor)
        {
            // A vehicle that may not have saved its state: the marks wait until it has.
            if (_marks.Count > 0 && Passed(_marks.Peek()))
            {
                Log.CursorHeld(logger, _failures.Holding);
            }
            return;
        }
        long? cursor = null;
        while (_marks.Count > 0 && Passed(_marks.Peek()))
        {
            cursor = _marks.Dequeue().Sequence;
        }
        if (cursor is { } position)
        {
            await journal.SaveCursorAsync(GrainStateCursor, position, cancellationToken);
        }
    }

    /// <summary>The vehicles the sweep could not advance: retried, and holding the grain-state cursor meanwhile.</summary>
    public SweepFailures Failures => _failures;

    // Given up on after 5 minutes of failed passes, and at least 10 (at the default 30 s clock period, both).
    private readonly SweepFailures _failures = new(Math.Max(SweepFailures.DefaultMaxPasses,
        (int)Math.Ceiling(TimeSpan.FromMinutes(5) / options.Value.ClockPeriod)));

    /// <summary>A journal position at a pass, and the largest ingest-delay allowance of the passes since.</summary>
    private sealed class Mark(DateTime time, long sequence)
    {
        public DateTime Time { get; } = time;
        public long Sequence { get; } = sequence;
        public double MaxAllowanceSeconds { get; set; }
    }

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
