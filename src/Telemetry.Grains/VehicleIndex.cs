using System.Collections.Concurrent;
using System.Text;

namespace Telemetry.Grains;

/// <summary>
/// The vehicles this silo has heard from: when each last sent a frame and whether time passing
/// without data matters to it (see <see cref="Detection.VehicleDetector.NeedsClock"/>). One silo-wide
/// sweep reads it to advance the clock of silent vehicles (offline detection, episodes closing)
/// instead of a timer per vehicle; ingest reads it so that garbage on a VIN never heard of does not
/// activate a grain; the API answers 404 for a VIN it does not know. About 100 bytes per vehicle.
/// Saved to a file by the sweep, so that offline detection continues after a restart.
/// </summary>
public sealed class VehicleIndex
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>A vehicle counts as online when a frame of it arrived this recently (the API and the online gauge).</summary>
    public static readonly TimeSpan OnlineWindow = TimeSpan.FromMinutes(5);

    /// <summary>Vehicles known.</summary>
    public int Count => _entries.Count;

    /// <summary>True when the vehicle has sent data to this silo (and was not forgotten as idle).</summary>
    public bool IsKnown(string vin) => _entries.ContainsKey(vin);

    /// <summary>Records a vehicle's latest arrival and whether it needs the clock.</summary>
    public void Update(string vin, DateTime lastArrivalUtc, bool needsClock)
    {
        var entry = _entries.GetOrAdd(vin, static _ => new Entry());
        entry.LastArrivalTicks = lastArrivalUtc.Ticks;
        entry.NeedsClock = needsClock;
    }

    /// <summary>Stops advancing a vehicle's clock (parked for good); it stays known.</summary>
    public void Rest(string vin)
    {
        if (_entries.TryGetValue(vin, out var entry))
        {
            entry.NeedsClock = false;
        }
    }

    /// <summary>Vehicles that need the clock and have been silent for at least <paramref name="silence"/>.</summary>
    public List<string> DueForClock(DateTime nowUtc, TimeSpan silence)
    {
        var due = new List<string>();
        var before = (nowUtc - silence).Ticks;
        foreach (var (vin, entry) in _entries)
        {
            if (entry.NeedsClock && entry.LastArrivalTicks <= before)
            {
                due.Add(vin);
            }
        }
        return due;
    }

    /// <summary>Vehicles whose latest frame arrived at or after <paramref name="sinceUtc"/> (a scan: for gauges, not per frame).</summary>
    public long CountArrivedSince(DateTime sinceUtc)
    {
        var since = sinceUtc.Ticks;
        var count = 0L;
        foreach (var (_, entry) in _entries)
        {
            if (entry.LastArrivalTicks >= since)
            {
                count++;
            }
        }
        return count;
    }

    /// <summary>When the vehicle's latest frame arrived, or false when the vehicle is not known.</summary>
    public bool TryGetLastArrival(string vin, out DateTime lastArrivalUtc)
    {
        var known = _entries.TryGetValue(vin, out var entry);
        lastArrivalUtc = known ? new DateTime(entry!.LastArrivalTicks, DateTimeKind.Utc) : default;
        return known;
    }

    /// <summary>Every known vehicle with the arrival time of its latest frame (a scan: for API lists, not per frame).</summary>
    public IEnumerable<(string Vin, DateTime LastArrivalUtc)> LastArrivals()
    {
        foreach (var (vin, entry) in _entries)
        {
            yield return (vin, new DateTime(entry.LastArrivalTicks, DateTimeKind.Utc));
        }
    }

    /// <summary>
    /// The vehicles whose latest arrival is not yet shared with the cluster, or moved on by at least
    /// <paramref name="step"/> since it last was; marks them shared (see <see cref="Unshare"/> when sharing fails).
    /// </summary>
    public List<(string Vin, DateTime LastArrivalUtc)> TakeUnshared(TimeSpan step)
    {
        var result = new List<(string, DateTime)>();
        foreach (var (vin, entry) in _entries)
        {
            var arrival = Volatile.Read(ref entry.LastArrivalTicks);
            var shared = Volatile.Read(ref entry.SharedTicks);
            if (shared == 0 || arrival - shared >= step.Ticks)
            {
                entry.SharedTicks = arrival;
                result.Add((vin, new DateTime(arrival, DateTimeKind.Utc)));
            }
        }
        return result;
    }

    /// <summary>Marks the vehicles of a <see cref="TakeUnshared"/> whose sharing failed as not shared, so the next call offers them again.</summary>
    public void Unshare(IEnumerable<(string Vin, DateTime LastArrivalUtc)> taken)
    {
        ArgumentNullException.ThrowIfNull(taken);
        foreach (var (vin, _) in taken)
        {
            if (_entries.TryGetValue(vin, out var entry))
                entry.SharedTicks = 0;
        }
    }

    /// <summary>Writes the index as text lines <c>vin ticks needsClock</c> (atomically: temp file, then rename).</summary>
    public async Task SaveAsync(string path, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = path + ".tmp";
        await using (var writer = new StreamWriter(temp, false, Encoding.ASCII, 1 << 16))
        {
            foreach (var (vin, entry) in _entries)
            {
                await writer.WriteLineAsync($"{vin} {entry.LastArrivalTicks} {(entry.NeedsClock ? 1 : 0)}".AsMemory(), cancellationToken);
            }
        }
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Reads a file written by <see cref="SaveAsync"/>; a missing file is an empty index, a bad line is
    /// skipped and counted in the result.
    /// </summary>
    public async Task<(int Loaded, int Skipped)> LoadAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return (0, 0);
        }
        var loaded = 0;
        var skipped = 0;
        foreach (var line in await File.ReadAllLinesAsync(path, cancellationToken))
        {
            var parts = line.Split(' ');
            if (parts.Length == 3 && Abstractions.Vin.IsValid(parts[0]) && long.TryParse(parts[1], out var ticks) && ticks >= 0 && ticks <= DateTime.MaxValue.Ticks)
            {
                var entry = _entries.GetOrAdd(parts[0], static _ => new Entry());
                entry.LastArrivalTicks = Math.Max(entry.LastArrivalTicks, ticks);
                entry.NeedsClock |= parts[2] == "1";
                loaded++;
            }
            else if (line.Length > 0)
            {
                skipped++;
            }
        }
        return (loaded, skipped);
    }

    // Grain-state tags: which vehicles may have journal records that their saved state does not cover,
    // and since which sweep pass (see SaveTag). Kept apart from the entries: never saved to the index file
    // (after a restart the journal is read again from the grain-state cursor, and the replayed vehicles tag
    // themselves), and not a sign that a vehicle is known.
    private readonly ConcurrentDictionary<string, SaveTag> _tags = new(StringComparer.Ordinal);
    private long _pass = 1;

    /// <summary>The current sweep pass (1 before the first); a tag set now names it.</summary>
    public long Pass => Volatile.Read(ref _pass);

    /// <summary>Starts a new sweep pass: tags set from now on name it. Returns its number.</summary>
    public long BeginPass() => Interlocked.Increment(ref _pass);

    /// <summary>The vehicle's grain-state tag (made on first use; a grain keeps it for its life).</summary>
    public SaveTag SaveTagOf(string vin) => _tags.GetOrAdd(vin, static _ => new SaveTag());

    /// <summary>
    /// The oldest pass named by any tag (0 when no vehicle has unsaved records), and the vehicles whose tag
    /// names <paramref name="staleThrough"/> or an earlier pass: their state has stayed unsaved for long and
    /// holds the grain-state cursor, so the sweep calls them to save it.
    /// </summary>
    public (long OldestPass, List<string> Stale) UnsavedState(long staleThrough)
    {
        var oldest = 0L;
        var stale = new List<string>();
        foreach (var (vin, tag) in _tags)
        {
            var since = tag.Since;
            if (since == 0)
            {
                continue;
            }
            oldest = oldest == 0 ? since : Math.Min(oldest, since);
            if (since <= staleThrough)
            {
                stale.Add(vin);
            }
        }
        return (oldest, stale);
    }

    /// <summary>
    /// Lets the grain-state cursor pass a vehicle's records up to the current pass although its state may not
    /// cover them (a vehicle given up on, or one that cannot save while the journal is full): after a crash its
    /// frames before the cursor are not evaluated again. Its newer records still hold the cursor.
    /// </summary>
    /// <returns>True when the vehicle's unsaved records were held from before the current pass: the cursor no longer waits for them.</returns>
    public bool Release(string vin) => _tags.TryGetValue(vin, out var tag) && tag.Release(Pass);

    /// <summary>
    /// Marks a vehicle whose journal records are not yet covered by its saved grain state, and since which sweep
    /// pass: every record of the vehicle written after the tag was set comes after that pass's journal position.
    /// Set by ingest before it archives a raw message (<see cref="Arriving"/>) and by the grain before it evaluates or
    /// writes anything (<see cref="Unsaved"/>); cleared by the grain's save (<see cref="Saved"/>), unless a message
    /// archived meanwhile still waits for the grain, which its own save will cover.
    /// </summary>
    public sealed class SaveTag
    {
        private readonly Lock _gate = new();
        private long _since;
        private int _pending;

        /// <summary>The pass current when the vehicle's first unsaved record was written, or 0 when its state covers everything.</summary>
        public long Since => Volatile.Read(ref _since);

        /// <summary>Messages of the vehicle that ingest archived, or is archiving, and whose grain call has not yet returned.</summary>
        public int Pending => Volatile.Read(ref _pending);

        /// <summary>Records coming that the saved state will not cover: tag with the current pass unless already tagged.</summary>
        public void Unsaved(VehicleIndex index)
        {
            ArgumentNullException.ThrowIfNull(index);
            lock (_gate)
            {
                if (_since == 0)
                    Volatile.Write(ref _since, index.Pass);
            }
        }

        /// <summary>Ingest is about to archive a message of the vehicle (beside its grain call): tagged until a save after that call.</summary>
        public void Arriving(VehicleIndex index)
        {
            ArgumentNullException.ThrowIfNull(index);
            lock (_gate)
            {
                _pending++;
                if (_since == 0)
                    Volatile.Write(ref _since, index.Pass);
            }
        }

        /// <summary>The message of an <see cref="Arriving"/> is archived and its grain call returned (or failed).</summary>
        public void Arrived()
        {
            lock (_gate)
            {
                _pending--;
            }
        }

        /// <summary>
        /// The state was saved after every record of the vehicle written so far, and after the grain evaluated
        /// <paramref name="covering"/> of the pending messages (1 when saving inside the call of one): the tag is cleared
        /// unless more messages are pending, whose raw records may already be archived.
        /// </summary>
        public void Saved(int covering = 0)
        {
            lock (_gate)
            {
                if (_pending <= covering)
                    Volatile.Write(ref _since, 0);
            }
        }

        internal bool Release(long pass)
        {
            lock (_gate)
            {
                if (_since == 0 || _since >= pass)
                    return false;
                Volatile.Write(ref _since, pass);
                return true;
            }
        }
    }

    private sealed class Entry
    {
        public long LastArrivalTicks;
        /// <summary>The arrival last shared with the cluster, or 0.</summary>
        public long SharedTicks;
        public bool NeedsClock;
    }
}

/// <summary>
/// Sample seconds that the journal holds for a vehicle beyond its last saved state, found when the
/// silo starts after a crash. A grain takes its own when it activates, so that a frame sent again
/// after the crash is not stored twice.
/// </summary>
public sealed class RecoveredSeconds
{
    private readonly ConcurrentDictionary<string, List<long>> _byVin = new(StringComparer.Ordinal);

    /// <summary>Vehicles with seconds waiting.</summary>
    public int Count => _byVin.Count;

    /// <summary>Adds one stored second of a vehicle.</summary>
    public void Add(string vin, long unixSecond)
    {
        var list = _byVin.GetOrAdd(vin, static _ => []);
        lock (list)
        {
            list.Add(unixSecond);
        }
    }

    /// <summary>Removes and returns the seconds of a vehicle (empty when none).</summary>
    public IReadOnlyList<long> Take(string vin) => _byVin.TryRemove(vin, out var list) ? list : [];
}
