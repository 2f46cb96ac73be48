using Telemetry.Abstractions;

namespace Telemetry.Detection;

/// <summary>A numbered batch of one vehicle's hourly totals, saved with the vehicle's state until the store has it.</summary>
[GenerateSerializer]
public sealed class PendingHourTotals
{
    /// <summary>The batch number: increasing per vehicle (see <see cref="HourTotalsOutbox"/>).</summary>
    [Id(0)] public long Batch { get; init; }

    /// <summary>The totals, one per hour.</summary>
    [Id(1)] public List<HourTotals> Hours { get; init; } = [];

    /// <summary>
    /// True while the batch has never been offered to the store, so more totals may still be added to it. Not saved:
    /// a batch restored after a restart may have been offered (and stored) before, so it takes nothing more.
    /// </summary>
    public bool Open { get => _open; set => _open = value; }

    [NonSerialized] private bool _open;
}

/// <summary>
/// Hands a vehicle's hourly totals to the store exactly once, across crashes. The owner moves the totals gathered since
/// its last save into the outbox (<see cref="Add"/>), saves its state with <see cref="Pending"/> in it, and only then
/// offers the batches to the store (<see cref="StoreAsync"/>), which adds a batch at most once by its number. So:
/// a crash before the save loses the totals together with the dedup state that counted them (the samples are
/// evaluated and counted again when the terminal or broker sends them again); a crash after the save finds the batch in
/// the restored state and offers it again, and the store adds it once.
/// </summary>
/// <remarks>
/// While the store fails, at most two batches are held: the oldest, offered and failing, and one open batch that takes
/// every later total. Batch numbers are UTC ticks at creation (at least the previous number + 1), so numbering goes on
/// increasing even when a vehicle's saved state was lost.
/// </remarks>
public sealed class HourTotalsOutbox(string vin, IHourTotalsStore store, TimeProvider time)
{
    private List<PendingHourTotals> _pending = [];

    /// <summary>The vehicle.</summary>
    public string Vin { get; } = vin ?? throw new ArgumentNullException(nameof(vin));

    /// <summary>The batches not yet known to be stored, oldest first: what the owner saves with its state.</summary>
    public List<PendingHourTotals>? Pending => _pending.Count == 0 ? null : _pending;

    /// <summary>The number of the newest batch made: saved with the state, so numbers keep increasing after a restart.</summary>
    public long LastBatch { get; private set; }

    /// <summary>Takes back what a restored state held; every restored batch is offered again before anything newer.</summary>
    public void Restore(List<PendingHourTotals>? pending, long lastBatch)
    {
        _pending = pending is null ? [] : [.. pending.OrderBy(p => p.Batch)];
        foreach (var p in _pending)
            p.Open = false;
        LastBatch = Math.Max(lastBatch, _pending.Count == 0 ? 0 : _pending[^1].Batch);
    }

    /// <summary>Moves <paramref name="totals"/> into the newest batch when it was never offered, else into a new batch.</summary>
    public void Add(IReadOnlyList<HourTotals> totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        if (totals.Count == 0)
            return;
        if (_pending.Count == 0 || !_pending[^1].Open)
        {
            LastBatch = Math.Max(LastBatch + 1, time.GetUtcNow().UtcTicks);
            _pending.Add(new PendingHourTotals { Batch = LastBatch, Open = true });
        }
        var hours = _pending[^1].Hours;
        foreach (var t in totals)
        {
            var same = hours.Find(h => h.HourUtc == t.HourUtc);
            if (same is null)
                hours.Add(t);
            else
                same.Add(t);
        }
    }

    /// <summary>
    /// Offers the batches to the store, oldest first, and forgets each one the store has (added now, or before). Stops
    /// at the first failure and rethrows it; what was not stored stays for the next call.
    /// </summary>
    /// <returns>How many batches the store added now, and how many it had already.</returns>
    public async Task<(int Added, int AlreadyStored)> StoreAsync(CancellationToken cancellationToken = default)
    {
        int added = 0, already = 0;
        while (_pending.Count > 0)
        {
            var batch = _pending[0];
            batch.Open = false;
            if (await store.AddBatchAsync(Vin, batch.Batch, batch.Hours, cancellationToken).ConfigureAwait(false))
                added++;
            else
                already++;
            _pending.RemoveAt(0);
        }
        return (added, already);
    }
}
