using Telemetry.Abstractions;

namespace Telemetry.Detection;

/// <summary>Told of each sample the rules evaluate (see <see cref="VehicleDetector.Observer"/>).</summary>
public interface IEvaluatedSampleObserver
{
    /// <summary>
    /// One evaluated sample: whether the engine was <paramref name="running"/>, whether the emission rules' validity
    /// gate was open (<paramref name="gated"/>) and whether the malfunction lamp was lit as last known (<paramref name="milOn"/>).
    /// </summary>
    void OnEvaluated(in Sample sample, bool running, bool gated, bool milOn);
}

/// <summary>
/// Adds up one vehicle's evaluated samples into <see cref="HourTotals"/> per UTC hour, for compliance reports.
/// Only the hours touched since the last <see cref="TakeDirty"/> are held (normally one, the current hour; a
/// backlog adds its own hours), so memory stays a few hundred bytes per vehicle. Pure: the owner stores what
/// <see cref="TakeDirty"/> hands out and gives it back with <see cref="Return"/> when storing failed.
/// </summary>
/// <remarks>
/// The detector calls it once per accepted sample second (duplicates and re-sent seconds never reach the rules),
/// late samples when their backlog is evaluated, so each second counts once, in its own hour.
/// Each sample counts as one second: terminals sample at 1 Hz.
/// </remarks>
public sealed class HourTotalsAccumulator(string vin, PhysicsOptions physics) : IEvaluatedSampleObserver
{
    private const double SecondsPerHour = 3600;
    private readonly List<HourTotals> _dirty = new(2);
    private HourTotals? _last;

    /// <summary>The vehicle.</summary>
    public string Vin { get; } = vin ?? throw new ArgumentNullException(nameof(vin));

    /// <summary>Hours with totals not yet handed out.</summary>
    public int DirtyCount => _dirty.Count;

    /// <summary>True when an hour other than the newest holds totals (the hour rolled, or a backlog came): time to store them.</summary>
    public bool NeedsFlush => _dirty.Count > 1;

    /// <inheritdoc />
    public void OnEvaluated(in Sample sample, bool running, bool gated, bool milOn)
    {
        var ticks = sample.TimeUtc.Ticks;
        var hour = new DateTime(ticks - (ticks % TimeSpan.TicksPerHour), DateTimeKind.Utc);
        var t = Hour(hour);
        t.Samples++;
        t.MinuteMask |= 1UL << (int)(ticks % TimeSpan.TicksPerHour / TimeSpan.TicksPerMinute);
        if (running)
            t.RunningSeconds++;
        if (gated)
            t.GatedSeconds++;

        var speed = sample.SpeedKmh;
        if (speed >= 0)
        {
            t.DistanceKm += speed / SecondsPerHour;
            if (milOn)
                t.MilOnDistanceKm += speed / SecondsPerHour;
        }
        var odometer = sample.OdometerKm;
        if (Sample.Has(odometer))
        {
            t.OdometerMinKm = HourTotals.Min(t.OdometerMinKm, odometer);
            t.OdometerMaxKm = HourTotals.Max(t.OdometerMaxKm, odometer);
        }

        var fuel = sample.FuelFlowLph;
        var hasFuel = fuel >= 0;
        if (hasFuel)
            t.FuelL += fuel / SecondsPerHour;

        // NOx <= 0 ppm is what a sensor reports while not ready: not a measurement of zero.
        var noxG = double.NaN;
        if (sample.NoxDownstreamPpm > 0 && hasFuel && sample.IntakeAirFlowKgph >= 0)
        {
            var exhaust = Physics.ExhaustFlowKgph(sample.IntakeAirFlowKgph, fuel, physics.FuelDensityKgPerL);
            noxG = Physics.NoxMassFlowGph(sample.NoxDownstreamPpm, exhaust, physics.NoxMassFactor) / SecondsPerHour;
            t.NoxG += noxG;
        }
        if (Sample.Has(sample.EngineTorquePercent) && sample.EngineSpeedRpm >= 0)
        {
            // Brake work: indicated (actual) torque minus friction; engine braking counts as no work.
            var friction = Sample.Has(sample.FrictionTorquePercent) ? sample.FrictionTorquePercent : 0;
            var work = Math.Max(0, sample.EngineTorquePercent - friction) * sample.EngineSpeedRpm;
            t.WorkPercentRpmSeconds += work;
            if (!double.IsNaN(noxG))
            {
                t.PairedNoxG += noxG;
                t.PairedWorkPercentRpmSeconds += work;
            }
        }

        var dosing = sample.UreaDosingMlph;
        if (dosing >= 0 && hasFuel)
        {
            t.UreaL += dosing / SecondsPerHour / 1000;
            t.UreaFuelL += fuel / SecondsPerHour;
        }
    }

    /// <summary>Hands out the totals gathered since the last call, oldest hour first, and forgets them.</summary>
    public IReadOnlyList<HourTotals> TakeDirty()
    {
        if (_dirty.Count == 0)
            return [];
        HourTotals[] taken = [.. _dirty.OrderBy(t => t.HourUtc)];
        _dirty.Clear();
        _last = null;
        return taken;
    }

    /// <summary>Takes back totals that could not be stored, adding them to what was gathered since.</summary>
    public void Return(IEnumerable<HourTotals> totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        foreach (var t in totals)
            Hour(t.HourUtc).Add(t);
    }

    private HourTotals Hour(DateTime hour)
    {
        if (_last is { } last && last.HourUtc == hour)
            return last;
        foreach (var t in _dirty)
        {
            if (t.HourUtc == hour)
                return _last = t;
        }
        var created = new HourTotals(Vin, hour);
        _dirty.Add(created);
        return _last = created;
    }
}
