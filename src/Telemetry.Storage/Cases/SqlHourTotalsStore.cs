using Dapper;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Cases;

/// <summary>
/// The vehicles' hourly totals in the <c>vehicle_hours</c> table of a <see cref="CaseDatabase"/>, one row per VIN
/// and UTC hour. <see cref="AddAsync"/> adds to a row (sums add, the minute mask is OR-ed, the odometer range
/// widens), so the grain stores what it gathered since its previous store, whatever is already there.
/// <see cref="AddBatchAsync"/> does the same once per numbered batch of a vehicle (<c>vehicle_hour_batches</c> keeps the
/// highest batch added per VIN), which the grain uses so that a batch offered again after a crash counts once.
/// </summary>
public sealed class SqlHourTotalsStore(CaseDatabase database) : IHourTotalsStore
{
    private const string Upsert = """
        INSERT INTO vehicle_hours (vin, hour_ticks, samples, minute_mask, running_seconds, gated_seconds, distance_km, mil_on_distance_km,
            odometer_min_km, odometer_max_km, fuel_l, nox_g, work_percent_rpm_s, paired_nox_g, paired_work_percent_rpm_s, urea_l, urea_fuel_l)
        VALUES (@Vin, @HourTicks, @Samples, @MinuteMask, @RunningSeconds, @GatedSeconds, @DistanceKm, @MilOnDistanceKm,
            @OdometerMinKm, @OdometerMaxKm, @FuelL, @NoxG, @Work, @PairedNoxG, @PairedWork, @UreaL, @UreaFuelL)
        ON CONFLICT (vin, hour_ticks) DO UPDATE SET
            samples = vehicle_hours.samples + excluded.samples,
            minute_mask = vehicle_hours.minute_mask | excluded.minute_mask,
            running_seconds = vehicle_hours.running_seconds + excluded.running_seconds,
            gated_seconds = vehicle_hours.gated_seconds + excluded.gated_seconds,
            distance_km = vehicle_hours.distance_km + excluded.distance_km,
            mil_on_distance_km = vehicle_hours.mil_on_distance_km + excluded.mil_on_distance_km,
            odometer_min_km = CASE WHEN vehicle_hours.odometer_min_km IS NULL OR excluded.odometer_min_km < vehicle_hours.odometer_min_km
                THEN excluded.odometer_min_km ELSE vehicle_hours.odometer_min_km END,
            odometer_max_km = CASE WHEN vehicle_hours.odometer_max_km IS NULL OR excluded.odometer_max_km > vehicle_hours.odometer_max_km
                THEN excluded.odometer_max_km ELSE vehicle_hours.odometer_max_km END,
            fuel_l = vehicle_hours.fuel_l + excluded.fuel_l,
            nox_g = vehicle_hours.nox_g + excluded.nox_g,
            work_percent_rpm_s = vehicle_hours.work_percent_rpm_s + excluded.work_percent_rpm_s,
            paired_nox_g = vehicle_hours.paired_nox_g + excluded.paired_nox_g,
            paired_work_percent_rpm_s = vehicle_hours.paired_work_percent_rpm_s + excluded.paired_work_percent_rpm_s,
            urea_l = vehicle_hours.urea_l + excluded.urea_l,
            urea_fuel_l = vehicle_hours.urea_fuel_l + excluded.urea_fuel_l
        """;

    private const string Columns = """
        vin AS Vin, hour_ticks AS HourTicks, samples AS Samples, minute_mask AS MinuteMask, running_seconds AS RunningSeconds,
        gated_seconds AS GatedSeconds, distance_km AS DistanceKm, mil_on_distance_km AS MilOnDistanceKm, odometer_min_km AS OdometerMinKm,
        odometer_max_km AS OdometerMaxKm, fuel_l AS FuelL, nox_g AS NoxG, work_percent_rpm_s AS Work, paired_nox_g AS PairedNoxG,
        paired_work_percent_rpm_s AS PairedWork, urea_l AS UreaL, urea_fuel_l AS UreaFuelL
        """;

    /// <summary>The database.</summary>
    public CaseDatabase Database { get; } = database;

    /// <inheritdoc />
    public async Task AddAsync(IReadOnlyCollection<HourTotals> totals, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(totals);
        if (totals.Count == 0)
            return;
        await using var connection = await Database.OpenAsync(cancellationToken);
        using var turn = await Database.WriteTurnAsync(cancellationToken);
        await using var transaction = Database.BeginWrite(connection);
        foreach (var t in totals)
        {
            if (!t.IsEmpty)
                await connection.ExecuteAsync(Upsert, Row.From(t), transaction);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Every vehicle saves its state (and offers its batch) every few minutes, so a silo with 100,000 vehicles offers
    /// hundreds of batches a second. They are written together: the batches offered while one transaction runs go in
    /// the next one (at most <see cref="MaxBatchesPerTransaction"/>), so the database sees one writer and a few
    /// transactions a second instead of hundreds of writers contending for its write lock (on SQLite each one blocked
    /// a thread while it waited). A failed transaction fails every batch in it; each is offered again later.
    /// </remarks>
    public Task<bool> AddBatchAsync(string vin, long batch, IReadOnlyCollection<HourTotals> totals, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vin);
        ArgumentNullException.ThrowIfNull(totals);
        if (totals.Any(t => t.Vin != vin))
            throw new ArgumentException($"Every total of a batch of {vin} must be of {vin}.", nameof(totals));
        cancellationToken.ThrowIfCancellationRequested();
        var offered = new OfferedBatch(vin, batch, totals);
        _offered.Enqueue(offered);
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
            _ = Task.Run(WriteOfferedAsync, CancellationToken.None);
        return offered.Added.Task;
    }

    /// <summary>Most batches written in one transaction.</summary>
    public const int MaxBatchesPerTransaction = 512;

    private readonly System.Collections.Concurrent.ConcurrentQueue<OfferedBatch> _offered = new();
    private int _writing;

    /// <summary>Transactions that wrote offered batches (for tests and diagnostics).</summary>
    public long BatchTransactions => Interlocked.Read(ref _batchTransactions);

    private long _batchTransactions;

    private sealed record OfferedBatch(string Vin, long Batch, IReadOnlyCollection<HourTotals> Totals)
    {
        public TaskCompletionSource<bool> Added { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Writes what is offered, a transaction at a time, until nothing is left; then lets the next offer start it again.</summary>
    private async Task WriteOfferedAsync()
    {
        var taken = new List<OfferedBatch>(MaxBatchesPerTransaction);
        while (true)
        {
            taken.Clear();
            while (taken.Count < MaxBatchesPerTransaction && _offered.TryDequeue(out var next))
                taken.Add(next);
            if (taken.Count == 0)
            {
                Volatile.Write(ref _writing, 0);
                // An offer that came after the queue was found empty and before the flag was cleared started no writer.
                if (_offered.IsEmpty || Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
                    return;
                continue;
            }
            try
            {
                var added = await WriteBatchesAsync(taken);
                Interlocked.Increment(ref _batchTransactions);
                for (var i = 0; i < taken.Count; i++)
                    taken[i].Added.TrySetResult(added[i]);
            }
            catch (Exception ex)
            {
                foreach (var offered in taken)
                    offered.Added.TrySetException(ex);
            }
        }
    }

    /// <summary>
    /// Adds each batch once, all in one transaction; returns for each whether it was added (false: a batch numbered as high
    /// was added before). In VIN order, so that two silos writing at once take the vehicles' rows in the same order.
    /// </summary>
    private async Task<bool[]> WriteBatchesAsync(List<OfferedBatch> batches)
    {
        var order = Enumerable.Range(0, batches.Count)
            .OrderBy(i => batches[i].Vin, StringComparer.Ordinal).ThenBy(i => batches[i].Batch).ToArray();
        var added = new bool[batches.Count];
        await using var connection = await Database.OpenAsync();
        using var turn = await Database.WriteTurnAsync();
        await using var transaction = Database.BeginWrite(connection);
        foreach (var i in order)
        {
            var (vin, batch, totals) = (batches[i].Vin, batches[i].Batch, batches[i].Totals);
            // The batch number is raised first, and only when it goes up: the raise holds the vehicle's row (or, for its
            // first batch, the key) until the commit, so two silos offering the same batch at once add it once.
            var raised = await connection.ExecuteAsync(
                """
                INSERT INTO vehicle_hour_batches (vin, batch) VALUES (@vin, @batch)
                ON CONFLICT (vin) DO UPDATE SET batch = excluded.batch WHERE vehicle_hour_batches.batch < excluded.batch
                """,
                new { vin, batch }, transaction);
            if (raised == 0)
                continue;
            added[i] = true;
            foreach (var t in totals)
            {
                if (!t.IsEmpty)
                    await connection.ExecuteAsync(Upsert, Row.From(t), transaction);
            }
        }
        await transaction.CommitAsync();
        return added;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<HourTotals>> ReadAsync(IReadOnlyCollection<string> vins, DateTime fromUtc, DateTime untilUtc, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(vins);
        if (vins.Count == 0 || untilUtc <= fromUtc)
            return [];
        var vinClause = Database.Kind == AlertStoreKind.Postgres ? "vin = ANY(@vins)" : "vin IN @vins";
        await using var connection = await Database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(
            $"SELECT {Columns} FROM vehicle_hours WHERE {vinClause} AND hour_ticks >= @fromTicks AND hour_ticks < @untilTicks ORDER BY vin, hour_ticks",
            new { vins = vins.ToArray(), fromTicks = fromUtc.Ticks, untilTicks = untilUtc.Ticks });
        return [.. rows.Select(r => r.ToTotals())];
    }

    private sealed class Row
    {
        public string Vin { get; set; } = "";
        public long HourTicks { get; set; }
        public long Samples { get; set; }
        public long MinuteMask { get; set; }
        public long RunningSeconds { get; set; }
        public long GatedSeconds { get; set; }
        public double DistanceKm { get; set; }
        public double MilOnDistanceKm { get; set; }
        public double? OdometerMinKm { get; set; }
        public double? OdometerMaxKm { get; set; }
        public double FuelL { get; set; }
        public double NoxG { get; set; }
        public double Work { get; set; }
        public double PairedNoxG { get; set; }
        public double PairedWork { get; set; }
        public double UreaL { get; set; }
        public double UreaFuelL { get; set; }

        public static Row From(HourTotals t) => new()
        {
            Vin = t.Vin,
            HourTicks = t.HourUtc.Ticks,
            Samples = t.Samples,
            MinuteMask = unchecked((long)t.MinuteMask),
            RunningSeconds = t.RunningSeconds,
            GatedSeconds = t.GatedSeconds,
            DistanceKm = t.DistanceKm,
            MilOnDistanceKm = t.MilOnDistanceKm,
            OdometerMinKm = double.IsNaN(t.OdometerMinKm) ? null : t.OdometerMinKm,
            OdometerMaxKm = double.IsNaN(t.OdometerMaxKm) ? null : t.OdometerMaxKm,
            FuelL = t.FuelL,
            NoxG = t.NoxG,
            Work = t.WorkPercentRpmSeconds,
            PairedNoxG = t.PairedNoxG,
            PairedWork = t.PairedWorkPercentRpmSeconds,
            UreaL = t.UreaL,
            UreaFuelL = t.UreaFuelL,
        };

        public HourTotals ToTotals() => new(Vin, new DateTime(HourTicks, DateTimeKind.Utc))
        {
            Samples = Samples,
            MinuteMask = unchecked((ulong)MinuteMask),
            RunningSeconds = RunningSeconds,
            GatedSeconds = GatedSeconds,
            DistanceKm = DistanceKm,
            MilOnDistanceKm = MilOnDistanceKm,
            OdometerMinKm = OdometerMinKm ?? double.NaN,
            OdometerMaxKm = OdometerMaxKm ?? double.NaN,
            FuelL = FuelL,
            NoxG = NoxG,
            WorkPercentRpmSeconds = Work,
            PairedNoxG = PairedNoxG,
            PairedWorkPercentRpmSeconds = PairedWork,
            UreaL = UreaL,
            UreaFuelL = UreaFuelL,
        };
    }
}
