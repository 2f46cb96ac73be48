using System.Collections.Immutable;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>
/// One vehicle's compliance figures over a period, or a fleet's totals (then <see cref="Vin"/> is null and
/// <see cref="Vehicles"/> counts the vehicles). Units are in the names; a figure that cannot be known (no
/// reference torque, no distance, no urea dosing data) is null. Fields and definitions: src/Telemetry.Api/README.md.
/// </summary>
public sealed record class ReportRow
{
    /// <summary>The vehicle; null in a fleet's totals.</summary>
    public string? Vin { get; init; }
    public string? Fleet { get; init; }
    public string? Region { get; init; }
    /// <summary>Vehicles the row covers (1 for a vehicle).</summary>
    public int Vehicles { get; init; } = 1;
    /// <summary>Engine reference torque from the registry, N m; null when unknown (then no work and no mg/kWh).</summary>
    public double? ReferenceTorqueNm { get; init; }
    /// <summary>Distance from vehicle speed, km.</summary>
    public double DistanceKm { get; init; }
    /// <summary>Highest minus lowest odometer reading of the period, km; null without odometer readings.</summary>
    public double? OdometerDistanceKm { get; init; }
    /// <summary>Hours with the engine running.</summary>
    public double EngineHours { get; init; }
    /// <summary>Hours the emission rules' validity gate was open.</summary>
    public double GatedHours { get; init; }
    /// <summary>Brake work, kWh.</summary>
    public double? WorkKWh { get; init; }
    /// <summary>Tailpipe NOx mass, g.</summary>
    public double NoxG { get; init; }
    /// <summary>NOx per brake work over the seconds that have both, mg/kWh.</summary>
    public double? NoxMgPerKWh { get; init; }
    /// <summary>NOx per distance, g/km.</summary>
    public double? NoxGPerKm { get; init; }
    /// <summary>Fuel from the fuel flow, L.</summary>
    public double FuelL { get; init; }
    /// <summary>Urea dosed (supplementary record), L.</summary>
    public double UreaL { get; init; }
    /// <summary>Urea dosed per fuel burned over the seconds that have both, % by volume.</summary>
    public double? UreaToFuelPercent { get; init; }
    /// <summary>Distance driven with the malfunction indicator lamp on, km.</summary>
    public double MilOnDistanceKm { get; init; }
    /// <summary>Samples received and accepted.</summary>
    public long Samples { get; init; }
    /// <summary>Samples expected while the vehicle was reporting: 60 per reporting minute (1 Hz).</summary>
    public long ExpectedSamples { get; init; }
    /// <summary>Samples / expected samples, %.</summary>
    public double? CompletenessPercent { get; init; }
    /// <summary>Minutes with at least one sample.</summary>
    public long ReportingMinutes { get; init; }
    /// <summary>Reporting minutes / minutes of the period up to the time of the report (per vehicle), %.</summary>
    public double? OnlineRatePercent { get; init; }
    /// <summary>Minutes of alert episodes in the period, by rule id.</summary>
    public ImmutableSortedDictionary<string, double> ExceedanceMinutes { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
}

/// <summary>A vehicle's compliance report over [<see cref="FromUtc"/>, <see cref="UntilUtc"/>) (whole UTC hours).</summary>
public sealed record class VehicleReport(DateTime FromUtc, DateTime UntilUtc, DateTime GeneratedUtc, ReportRow Vehicle);

/// <summary>A fleet's compliance report: one row per vehicle of the fleet (within the caller's scope) and the fleet's totals.</summary>
public sealed record class FleetReport(string Fleet, DateTime FromUtc, DateTime UntilUtc, DateTime GeneratedUtc, IReadOnlyList<ReportRow> Vehicles, ReportRow Totals);

/// <summary>
/// Builds compliance reports from the stored hourly totals (<see cref="IHourTotalsStore"/>) and alert episodes. Every
/// ratio is a ratio of the period's sums, and a fleet's totals are made from the vehicles' sums, never from their ratios.
/// </summary>
public sealed class ComplianceReports(IHourTotalsStore hours, SqlAlertStore alerts, TimeProvider time)
{
    /// <summary>The report of one vehicle over the hours that start in [<paramref name="fromUtc"/>, <paramref name="untilUtc"/>).</summary>
    public async Task<VehicleReport> VehicleAsync(string vin, VehicleInfo? info, DateTime fromUtc, DateTime untilUtc, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var totals = await hours.ReadAsync([vin], fromUtc, untilUtc, cancellationToken);
        var episodes = await EpisodesAsync(vin, untilUtc, cancellationToken);
        var sums = Sums.Of(vin, info, totals, episodes, fromUtc, untilUtc, now);
        return new VehicleReport(fromUtc, untilUtc, now, sums.ToRow());
    }

    /// <summary>The report of <paramref name="fleet"/>'s <paramref name="vehicles"/>, one row each, and the totals.</summary>
    public async Task<FleetReport> FleetAsync(string fleet, IReadOnlyList<VehicleInfo> vehicles, DateTime fromUtc, DateTime untilUtc, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var vins = vehicles.Select(v => v.Vin).ToArray();
        var byVin = (await hours.ReadAsync(vins, fromUtc, untilUtc, cancellationToken)).ToLookup(t => t.Vin, StringComparer.Ordinal);
        var total = new Sums { Fleet = fleet, Vehicles = 0, PeriodMinutes = 0 };
        var rows = new List<ReportRow>(vehicles.Count);
        foreach (var v in vehicles.OrderBy(v => v.Vin, StringComparer.Ordinal))
        {
            var episodes = await EpisodesAsync(v.Vin, untilUtc, cancellationToken);
            var sums = Sums.Of(v.Vin, v, byVin[v.Vin], episodes, fromUtc, untilUtc, now);
            rows.Add(sums.ToRow());
            total.Add(sums);
        }
        total.TorqueKnown = vehicles.Count > 0 && vehicles.All(v => v.ReferenceTorqueNm is > 0);
        return new FleetReport(fleet, fromUtc, untilUtc, now, rows, total.ToRow());
    }

    private async Task<List<Alert>> EpisodesAsync(string vin, DateTime untilUtc, CancellationToken cancellationToken)
    {
        var filter = new AlertFilter { Vin = vin, UntilUtc = untilUtc };
        var list = new List<Alert>();
        string? cursor = null;
        do
        {
            var page = await alerts.QueryPageAsync(filter, cursor, SqlAlertStore.MaxPage, withTotal: false, cancellationToken);
            list.AddRange(page.Items.Select(r => r.Alert));
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return list;
    }

    /// <summary>The sums of a vehicle (or a fleet) over the period, before they become ratios and rounded figures.</summary>
    private sealed class Sums
    {
        // kWh per (% x rpm x s) at 1 N m of reference torque: /100 (percent) x 2 pi / 60 (rpm to rad/s) / 1000 (W to kW) / 3600 (s to h).
        private const double KWhPerPercentRpmSecondNm = 2 * Math.PI / 100 / 60 / 1000 / 3600;

        public string? Vin { get; init; }
        public string? Fleet { get; init; }
        public string? Region { get; init; }
        public int Vehicles { get; set; } = 1;
        public double? ReferenceTorqueNm { get; init; }
        public bool TorqueKnown { get; set; }
        public double DistanceKm { get; set; }
        public double? OdometerDistanceKm { get; set; }
        public long RunningSeconds { get; set; }
        public long GatedSeconds { get; set; }
        public double WorkKWh { get; set; }
        public double NoxG { get; set; }
        public double PairedNoxG { get; set; }
        public double PairedWorkKWh { get; set; }
        public double FuelL { get; set; }
        public double UreaL { get; set; }
        public double UreaFuelL { get; set; }
        public double MilOnDistanceKm { get; set; }
        public long Samples { get; set; }
        public long ReportingMinutes { get; set; }
        public double PeriodMinutes { get; set; }
        public SortedDictionary<string, double> Exceedance { get; } = new(StringComparer.Ordinal);

        public static Sums Of(string vin, VehicleInfo? info, IEnumerable<HourTotals> hours, IEnumerable<Alert> episodes, DateTime from, DateTime until, DateTime now)
        {
            var torque = info?.ReferenceTorqueNm is > 0 ? info.ReferenceTorqueNm : null;
            var s = new Sums
            {
                Vin = vin,
                Fleet = info?.Fleet,
                Region = info?.Region,
                ReferenceTorqueNm = torque,
                TorqueKnown = torque is not null,
                PeriodMinutes = Math.Max(0, ((until < now ? until : now) - from).TotalMinutes),
            };
            double odoMin = double.NaN, odoMax = double.NaN, workPrs = 0, pairedWorkPrs = 0;
            foreach (var h in hours)
            {
                s.Samples += h.Samples;
                s.ReportingMinutes += System.Numerics.BitOperations.PopCount(h.MinuteMask);
                s.RunningSeconds += h.RunningSeconds;
                s.GatedSeconds += h.GatedSeconds;
                s.DistanceKm += h.DistanceKm;
                s.MilOnDistanceKm += h.MilOnDistanceKm;
                odoMin = HourTotals.Min(odoMin, h.OdometerMinKm);
                odoMax = HourTotals.Max(odoMax, h.OdometerMaxKm);
                s.FuelL += h.FuelL;
                s.NoxG += h.NoxG;
                workPrs += h.WorkPercentRpmSeconds;
                s.PairedNoxG += h.PairedNoxG;
                pairedWorkPrs += h.PairedWorkPercentRpmSeconds;
                s.UreaL += h.UreaL;
                s.UreaFuelL += h.UreaFuelL;
            }
            s.OdometerDistanceKm = double.IsNaN(odoMin) ? null : odoMax - odoMin;
            if (torque is { } t)
            {
                s.WorkKWh = workPrs * t * KWhPerPercentRpmSecondNm;
                s.PairedWorkKWh = pairedWorkPrs * t * KWhPerPercentRpmSecondNm;
            }
            else
            {
                // Without a reference torque the vehicle adds no work and no NOx to a fleet's mg/kWh.
                s.PairedNoxG = 0;
            }
            foreach (var a in episodes)
            {
                // A closed episode lasts from its start to its end (last held + hysteresis); an open one to its last held sample.
                var end = a.Status == AlertStatus.Closed && a.EndUtc is { } e ? e : a.LastHeldUtc;
                var start = a.StartUtc > from ? a.StartUtc : from;
                if (end > until)
                    end = until;
                if (end <= start)
                    continue;
                s.Exceedance[a.RuleId] = s.Exceedance.GetValueOrDefault(a.RuleId) + (end - start).TotalMinutes;
            }
            return s;
        }

        public void Add(Sums v)
        {
            Vehicles++;
            DistanceKm += v.DistanceKm;
            if (v.OdometerDistanceKm is { } odo)
                OdometerDistanceKm = (OdometerDistanceKm ?? 0) + odo;
            RunningSeconds += v.RunningSeconds;
            GatedSeconds += v.GatedSeconds;
            WorkKWh += v.WorkKWh;
            NoxG += v.NoxG;
            PairedNoxG += v.PairedNoxG;
            PairedWorkKWh += v.PairedWorkKWh;
            FuelL += v.FuelL;
            UreaL += v.UreaL;
            UreaFuelL += v.UreaFuelL;
            MilOnDistanceKm += v.MilOnDistanceKm;
            Samples += v.Samples;
            ReportingMinutes += v.ReportingMinutes;
            PeriodMinutes += v.PeriodMinutes;
            foreach (var (rule, minutes) in v.Exceedance)
                Exceedance[rule] = Exceedance.GetValueOrDefault(rule) + minutes;
        }

        public ReportRow ToRow() => new()
        {
            Vin = Vin,
            Fleet = Fleet,
            Region = Region,
            Vehicles = Vehicles,
            ReferenceTorqueNm = ReferenceTorqueNm,
            DistanceKm = Math.Round(DistanceKm, 3),
            OdometerDistanceKm = OdometerDistanceKm is { } odo ? Math.Round(odo, 1) : null,
            EngineHours = Math.Round(RunningSeconds / 3600.0, 4),
            GatedHours = Math.Round(GatedSeconds / 3600.0, 4),
            WorkKWh = TorqueKnown ? Math.Round(WorkKWh, 3) : null,
            NoxG = Math.Round(NoxG, 3),
            NoxMgPerKWh = PairedWorkKWh > 0 ? Math.Round(PairedNoxG * 1000 / PairedWorkKWh, 1) : null,
            NoxGPerKm = DistanceKm > 0 ? Math.Round(NoxG / DistanceKm, 4) : null,
            FuelL = Math.Round(FuelL, 3),
            UreaL = Math.Round(UreaL, 4),
            UreaToFuelPercent = UreaFuelL > 0 ? Math.Round(UreaL * 100 / UreaFuelL, 3) : null,
            MilOnDistanceKm = Math.Round(MilOnDistanceKm, 3),
            Samples = Samples,
            ExpectedSamples = ReportingMinutes * 60,
            CompletenessPercent = ReportingMinutes > 0 ? Math.Round(Samples * 100.0 / (ReportingMinutes * 60), 2) : null,
            ReportingMinutes = ReportingMinutes,
            OnlineRatePercent = PeriodMinutes > 0 ? Math.Round(ReportingMinutes * 100.0 / PeriodMinutes, 2) : null,
            ExceedanceMinutes = Exceedance.ToImmutableSortedDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 2), StringComparer.Ordinal),
        };
    }
}
