namespace Telemetry.Abstractions;

/// <summary>
/// What one vehicle's accepted samples of one UTC hour add up to: the raw material of compliance reports.
/// Every sample counts as one second (terminals sample at 1 Hz). Sums only, so totals of several flushes of
/// one hour add up, and the report derives every ratio from sums of the period (never a mean of means).
/// </summary>
/// <remarks>
/// Units: distances km, fuel and urea L, NOx g. Work is kept as the sum of net torque percent x rpm over the
/// seconds (<see cref="WorkPercentRpmSeconds"/>): the reference torque that turns it into kWh comes from the
/// vehicle registry when the report is made, so a torque registered late still gives the right work.
/// </remarks>
[GenerateSerializer]
public sealed class HourTotals
{
    /// <summary>Creates the totals of <paramref name="vin"/> for the hour that starts at <paramref name="hourUtc"/>.</summary>
    public HourTotals(string vin, DateTime hourUtc)
    {
        ArgumentNullException.ThrowIfNull(vin);
        Vin = vin;
        HourUtc = hourUtc;
    }

    /// <summary>The vehicle.</summary>
    [Id(0)] public string Vin { get; }

    /// <summary>Start of the hour, UTC (whole hour).</summary>
    [Id(1)] public DateTime HourUtc { get; }

    /// <summary>Accepted samples (seconds with data).</summary>
    [Id(2)] public long Samples { get; set; }

    /// <summary>Bit m set: at least one sample in minute m of the hour (the vehicle was reporting then).</summary>
    [Id(3)] public ulong MinuteMask { get; set; }

    /// <summary>Seconds with the engine running (engine speed at or above the gate's running speed; speed above 0 when rpm is missing).</summary>
    [Id(4)] public long RunningSeconds { get; set; }

    /// <summary>Seconds the emission rules' validity gate was open (warm engine, warm SCR, time since start).</summary>
    [Id(5)] public long GatedSeconds { get; set; }

    /// <summary>Distance from vehicle speed, km (speed x 1 s per sample).</summary>
    [Id(6)] public double DistanceKm { get; set; }

    /// <summary>Distance from vehicle speed while the malfunction indicator lamp was on (last known OBD state), km.</summary>
    [Id(7)] public double MilOnDistanceKm { get; set; }

    /// <summary>Lowest odometer reading of the hour, km; NaN when none.</summary>
    [Id(8)] public double OdometerMinKm { get; set; } = double.NaN;

    /// <summary>Highest odometer reading of the hour, km; NaN when none.</summary>
    [Id(9)] public double OdometerMaxKm { get; set; } = double.NaN;

    /// <summary>Fuel from the fuel flow, L (seconds with a fuel flow).</summary>
    [Id(10)] public double FuelL { get; set; }

    /// <summary>Tailpipe NOx mass, g (seconds with downstream NOx above 0 ppm, intake air and fuel flow).</summary>
    [Id(11)] public double NoxG { get; set; }

    /// <summary>Sum of max(0, actual - friction torque %) x rpm over the seconds with torque and rpm (%·rpm·s).</summary>
    [Id(12)] public double WorkPercentRpmSeconds { get; set; }

    /// <summary>NOx mass of the seconds that have both NOx mass and work, g (numerator of mg/kWh).</summary>
    [Id(13)] public double PairedNoxG { get; set; }

    /// <summary>Work of the seconds that have both NOx mass and work, %·rpm·s (denominator of mg/kWh).</summary>
    [Id(14)] public double PairedWorkPercentRpmSeconds { get; set; }

    /// <summary>Urea dosed, L (actual dosing of the supplementary record, mL/h x 1 s).</summary>
    [Id(15)] public double UreaL { get; set; }

    /// <summary>Fuel of the seconds that have a urea dosing value, L (denominator of the urea-to-fuel ratio).</summary>
    [Id(16)] public double UreaFuelL { get; set; }

    /// <summary>True when nothing was added.</summary>
    public bool IsEmpty => Samples == 0;

    /// <summary>Adds <paramref name="other"/> (totals of the same vehicle and hour) to these.</summary>
    public void Add(HourTotals other)
    {
        ArgumentNullException.ThrowIfNull(other);
        Samples += other.Samples;
        MinuteMask |= other.MinuteMask;
        RunningSeconds += other.RunningSeconds;
        GatedSeconds += other.GatedSeconds;
        DistanceKm += other.DistanceKm;
        MilOnDistanceKm += other.MilOnDistanceKm;
        OdometerMinKm = Min(OdometerMinKm, other.OdometerMinKm);
        OdometerMaxKm = Max(OdometerMaxKm, other.OdometerMaxKm);
        FuelL += other.FuelL;
        NoxG += other.NoxG;
        WorkPercentRpmSeconds += other.WorkPercentRpmSeconds;
        PairedNoxG += other.PairedNoxG;
        PairedWorkPercentRpmSeconds += other.PairedWorkPercentRpmSeconds;
        UreaL += other.UreaL;
        UreaFuelL += other.UreaFuelL;
    }

    /// <summary>The smaller of two readings, a missing (NaN) one ignored.</summary>
    public static double Min(double a, double b) => double.IsNaN(a) ? b : double.IsNaN(b) ? a : Math.Min(a, b);

    /// <summary>The larger of two readings, a missing (NaN) one ignored.</summary>
    public static double Max(double a, double b) => double.IsNaN(a) ? b : double.IsNaN(b) ? a : Math.Max(a, b);
}

/// <summary>Where the vehicles' hourly totals are kept (the case database).</summary>
public interface IHourTotalsStore
{
    /// <summary>
    /// Adds each of <paramref name="totals"/> to the stored totals of its vehicle and hour (creating them), all in one
    /// transaction: either every one is added or none.
    /// </summary>
    Task AddAsync(IReadOnlyCollection<HourTotals> totals, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds one batch of <paramref name="vin"/>'s totals once: like <see cref="AddAsync"/>, unless a batch numbered
    /// <paramref name="batch"/> or higher of this vehicle was added before, then nothing is added and the answer is
    /// false. A vehicle numbers its batches in increasing order and offers them oldest first, so a batch offered again
    /// (after a crash between storing it and saving that it was stored, or after an answer lost on the way) counts once.
    /// </summary>
    Task<bool> AddBatchAsync(string vin, long batch, IReadOnlyCollection<HourTotals> totals, CancellationToken cancellationToken = default);

    /// <summary>The stored totals of <paramref name="vins"/> for the hours that start in [<paramref name="fromUtc"/>, <paramref name="untilUtc"/>).</summary>
    Task<IReadOnlyList<HourTotals>> ReadAsync(IReadOnlyCollection<string> vins, DateTime fromUtc, DateTime untilUtc, CancellationToken cancellationToken = default);
}
