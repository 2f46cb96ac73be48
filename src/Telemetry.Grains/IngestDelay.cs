namespace Telemetry.Grains;

/// <summary>
/// How far behind real time this silo's ingest is, estimated from the frames it receives: the
/// delay of a real-time frame is its arrival time minus the time the terminal stamped on it. A
/// backlog (at the broker, or in a silo short of CPU) delays every truck's frames alike, while a
/// terminal that really went silent delays nothing. The offline rule measures silence in arrival
/// time, so without this a backlog of 30 s would report every moving truck offline at once (and
/// the alerts would cost the CPU the backlog needs); the sweep and the reminders advance the
/// vehicles' clocks to <c>now - <see cref="Allowance"/></c> instead, and the clock-skew check
/// (R9.clock) allows for it too.
/// <para>
/// The estimate is the lower quartile of the delays of the real-time frames that arrived in the
/// last 10 to 15 s (<see cref="WindowsRead"/> windows of <see cref="WindowSeconds"/>; re-issued history and a quarter of skewed or
/// stale terminals do not move it), used only when at least <see cref="MinFrames"/> frames arrived
/// and it is at least <see cref="MinAllowanceSeconds"/> (the usual few seconds of delay change
/// nothing). A small fleet never gets an allowance: its frames are too few to tell a backlog from
/// a few silent terminals.
/// </para>
/// </summary>
public sealed class IngestDelay
{
    /// <summary>Width of one counting window, in seconds of arrival time.</summary>
    public const int WindowSeconds = 5;

    /// <summary>Windows the estimate reads: the current one (still filling) and the two before it.</summary>
    public const int WindowsRead = 3;

    /// <summary>Frames needed in the windows read before the estimate is used.</summary>
    public const int MinFrames = 50;

    /// <summary>A delay below this is normal terminal and network delay: no allowance.</summary>
    public const double MinAllowanceSeconds = 5;

    // Buckets: whole seconds up to 120 s, then 10 s up to 1 h, then one bucket for anything older.
    private const int FineSeconds = 120;
    private const int CoarseStep = 10;
    private const int MaxSeconds = 3600;
    private const int BucketCount = FineSeconds + (MaxSeconds - FineSeconds) / CoarseStep + 1;
    private const int Ring = WindowsRead + 1;

    private readonly object _roll = new();
    private readonly int[][] _counts = [.. Enumerable.Range(0, Ring).Select(_ => new int[BucketCount])];
    private readonly long[] _windows = [.. Enumerable.Repeat(-1L, Ring)];
    private Estimate _estimate = new(-1, 0);
    private long _stalledUntilTicks = long.MinValue;
    private long _stallHorizonTicks;

    private sealed record Estimate(long Second, double Seconds);

    /// <summary>Records one real-time frame: when it arrived and the time its terminal stamped on it.</summary>
    public void Observe(DateTime receivedUtc, DateTime frameTimeUtc)
    {
        var window = receivedUtc.Ticks / (WindowSeconds * TimeSpan.TicksPerSecond);
        var slot = (int)(window % Ring);
        if (Volatile.Read(ref _windows[slot]) != window && !Claim(slot, window))
        {
            return; // an arrival from before the windows kept (a clock going back): ignored
        }
        var delay = (receivedUtc - frameTimeUtc).TotalSeconds;
        Interlocked.Increment(ref _counts[slot][Bucket(delay)]);
    }

    /// <summary>
    /// Ingest cannot take frames at <paramref name="nowUtc"/> (the journal is at its disk cap, the
    /// external broker is unreachable): the frames that do not arrive meanwhile are the platform's
    /// backlog, not terminals falling silent. The first signal of a stall holds the vehicles' clocks
    /// where they were; the allowance then grows with the stall, and for <see cref="StallGrace"/> after
    /// the last signal, by when the backlog is arriving and measured again. Without this a stall of the
    /// whole silo reads as no delay at all (no frames to measure), and every moving truck would be
    /// reported offline.
    /// </summary>
    public void Stalled(DateTime nowUtc)
    {
        lock (_roll)
        {
            if (nowUtc.Ticks > _stalledUntilTicks)
            {
                _stallHorizonTicks = nowUtc.Ticks - (long)(Measured(nowUtc) * TimeSpan.TicksPerSecond);
            }
            _stalledUntilTicks = Math.Max(_stalledUntilTicks, (nowUtc + StallGrace).Ticks);
            Volatile.Write(ref _estimate, new Estimate(-1, 0));
        }
    }

    /// <summary>How long the clocks stay held after the last <see cref="Stalled"/> signal.</summary>
    public static readonly TimeSpan StallGrace = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The delay to allow for at <paramref name="nowUtc"/>, in seconds: how far the vehicles' clocks
    /// should be held back so that a backlog is not taken for silence. 0 when ingest keeps up.
    /// </summary>
    public double Allowance(DateTime nowUtc)
    {
        var second = nowUtc.Ticks / TimeSpan.TicksPerSecond;
        // Read on every frame (the clock-skew check): computed at most once per second.
        var cached = Volatile.Read(ref _estimate);
        if (cached.Second == second)
        {
            return cached.Seconds;
        }
        lock (_roll)
        {
            var estimate = Measured(nowUtc);
            if (nowUtc.Ticks <= _stalledUntilTicks)
            {
                estimate = Math.Max(estimate, (nowUtc.Ticks - _stallHorizonTicks) / (double)TimeSpan.TicksPerSecond);
            }
            Volatile.Write(ref _estimate, new Estimate(second, estimate));
            return estimate;
        }
    }

    /// <summary>
    /// The delay measured from the frames alone, without what a stall holds (<see cref="Stalled"/>):
    /// what the sweep uses to choose the vehicles to call and save, so that a stall, during which
    /// the clocks are held, never keeps vehicle state from being saved and the journal from being freed.
    /// </summary>
    public double MeasuredAllowance(DateTime nowUtc)
    {
        lock (_roll)
        {
            return Measured(nowUtc);
        }
    }

    /// <summary>The delay measured from the frames of the windows read (caller holds the lock).</summary>
    private double Measured(DateTime nowUtc)
    {
        var window = nowUtc.Ticks / (WindowSeconds * TimeSpan.TicksPerSecond);
        var read = new List<int[]>(WindowsRead);
        for (var w = window - WindowsRead + 1; w <= window; w++)
        {
            var slot = (int)(w % Ring);
            if (w >= 0 && _windows[slot] == w)
            {
                read.Add(_counts[slot]);
            }
        }
        return LowerQuartile(read);
    }

    /// <summary>The clock to advance silent vehicles to: <paramref name="nowUtc"/> less the <see cref="Allowance"/>.</summary>
    public DateTime HorizonUtc(DateTime nowUtc) => nowUtc - TimeSpan.FromSeconds(Allowance(nowUtc));

    private bool Claim(int slot, long window)
    {
        lock (_roll)
        {
            var held = _windows[slot];
            if (held == window)
            {
                return true;
            }
            if (held > window)
            {
                return false;
            }
            Array.Clear(_counts[slot]);
            Volatile.Write(ref _windows[slot], window);
            Volatile.Write(ref _estimate, new Estimate(-1, 0));
            return true;
        }
    }

    private static double LowerQuartile(List<int[]> windows)
    {
        long total = 0;
        foreach (var counts in windows)
        {
            for (var i = 0; i < BucketCount; i++)
            {
                total += Volatile.Read(ref counts[i]);
            }
        }
        if (total < MinFrames)
        {
            return 0;
        }
        var rank = total / 4;
        long seen = 0;
        for (var i = 0; i < BucketCount; i++)
        {
            foreach (var counts in windows)
            {
                seen += Volatile.Read(ref counts[i]);
            }
            if (seen > rank)
            {
                var seconds = Lower(i);
                return seconds >= MinAllowanceSeconds ? seconds : 0;
            }
        }
        return 0;
    }

    private static int Bucket(double delaySeconds)
    {
        if (!(delaySeconds > 0))
        {
            return 0; // on time, or stamped ahead of our clock (or NaN)
        }
        if (delaySeconds < FineSeconds)
        {
            return (int)delaySeconds;
        }
        if (delaySeconds < MaxSeconds)
        {
            return FineSeconds + (int)((delaySeconds - FineSeconds) / CoarseStep);
        }
        return BucketCount - 1;
    }

    // The lower edge of a bucket: the allowance never exceeds the delays it stands for.
    private static double Lower(int bucket) =>
        bucket < FineSeconds ? bucket : FineSeconds + (bucket - FineSeconds) * (double)CoarseStep;
}
