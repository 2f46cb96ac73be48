namespace Telemetry.Detection;

/// <summary>
/// Every threshold of the detection rules, bound from configuration section <see cref="Section"/>.
/// Each rule, its thresholds, their defaults and units are described in RULES.md of this project.
/// </summary>
public sealed class DetectionOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Telemetry:Detection";

    /// <summary>Validity gate shared by the emission rules (R1-R3, R5 comparison).</summary>
    public GateOptions Gate { get; set; } = new();

    /// <summary>Episode bookkeeping: hysteresis, update rate, evidence.</summary>
    public EpisodeOptions Episodes { get; set; } = new();

    /// <summary>Duplicate and late-sample handling.</summary>
    public DedupOptions Dedup { get; set; } = new();

    /// <summary>Physical constants used by the rules.</summary>
    public PhysicsOptions Physics { get; set; } = new();

    /// <summary>R1 NOx concentration.</summary>
    public NoxConcentrationOptions R1 { get; set; } = new();

    /// <summary>R2 specific NOx (mg/kWh over work-based windows).</summary>
    public SpecificNoxOptions R2 { get; set; } = new();

    /// <summary>R3 low SCR efficiency.</summary>
    public ScrEfficiencyOptions R3 { get; set; } = new();

    /// <summary>R4 urea (reagent) tampering.</summary>
    public UreaOptions R4 { get; set; } = new();

    /// <summary>R5 NOx sensor stuck or emulated.</summary>
    public NoxSensorOptions R5 { get; set; } = new();

    /// <summary>R6 DPF removed.</summary>
    public DpfOptions R6 { get; set; } = new();

    /// <summary>R7 MIL-on driving.</summary>
    public MilOptions R7 { get; set; } = new();

    /// <summary>R8 OBD tampering.</summary>
    public ObdTamperingOptions R8 { get; set; } = new();

    /// <summary>R9 data quality.</summary>
    public DataQualityOptions R9 { get; set; } = new();

    /// <summary>R10 SCR temperature implausible.</summary>
    public ScrTemperatureOptions R10 { get; set; } = new();

    /// <summary>Z zones.</summary>
    public ZoneOptions Zones { get; set; } = new();

    /// <summary>Returns one sentence per bad setting, naming it; empty when the options are usable.</summary>
    public IEnumerable<string> Validate()
    {
        var errors = new List<string>();
        void Positive(double value, string name)
        {
            if (!(value > 0) || double.IsInfinity(value))
                errors.Add($"{Section}:{name} must be a positive number (it is {value}).");
        }
        void NonNegative(double value, string name)
        {
            if (!(value >= 0) || double.IsInfinity(value))
                errors.Add($"{Section}:{name} must be zero or a positive number (it is {value}).");
        }
        void Fraction(double value, string name)
        {
            if (!(value >= 0 && value <= 1))
                errors.Add($"{Section}:{name} must be between 0 and 1 (it is {value}).");
        }

        NonNegative(Gate.MinEngineSpeedRpm, "Gate:MinEngineSpeedRpm");
        NonNegative(Gate.MinSecondsSinceEngineStart, "Gate:MinSecondsSinceEngineStart");
        Positive(Gate.EngineOffGapSeconds, "Gate:EngineOffGapSeconds");

        Positive(Episodes.HysteresisSeconds, "Episodes:HysteresisSeconds");
        NonNegative(Episodes.UpdateIntervalSeconds, "Episodes:UpdateIntervalSeconds");
        if (Episodes.EvidenceSamples is < 1 or > 600)
            errors.Add($"{Section}:Episodes:EvidenceSamples must be between 1 and 600 (it is {Episodes.EvidenceSamples}).");

        Positive(Dedup.RetentionHours, "Dedup:RetentionHours");
        if (Dedup.MaxRanges < 16)
            errors.Add($"{Section}:Dedup:MaxRanges must be at least 16 (it is {Dedup.MaxRanges}).");
        Positive(Dedup.MaxFutureSeconds, "Dedup:MaxFutureSeconds");
        Positive(Dedup.BackfillIdleSeconds, "Dedup:BackfillIdleSeconds");

        Positive(Physics.FuelDensityKgPerL, "Physics:FuelDensityKgPerL");
        Positive(Physics.NoxMassFactor, "Physics:NoxMassFactor");

        Positive(R1.ThresholdPpm, "R1:ThresholdPpm");
        WindowChecks(R1.AverageSeconds, R1.MinExceedSeconds, R1.WindowMinutes, "R1");

        Positive(R2.WindowWorkKWh, "R2:WindowWorkKWh");
        if (R2.SubWindows is < 1 or > 60)
            errors.Add($"{Section}:R2:SubWindows must be between 1 and 60 (it is {R2.SubWindows}).");
        Positive(R2.AlertMgPerKWh, "R2:AlertMgPerKWh");
        Positive(R2.AdvisoryMgPerKWh, "R2:AdvisoryMgPerKWh");
        if (R2.AdvisoryMgPerKWh > R2.AlertMgPerKWh)
            errors.Add($"{Section}:R2:AdvisoryMgPerKWh ({R2.AdvisoryMgPerKWh}) must not exceed R2:AlertMgPerKWh ({R2.AlertMgPerKWh}).");
        NonNegative(R2.MinTorquePercent, "R2:MinTorquePercent");
        Positive(R2.MaxWindowMinutes, "R2:MaxWindowMinutes");

        Fraction(R3.MinEfficiency, "R3:MinEfficiency");
        NonNegative(R3.MinUpstreamPpm, "R3:MinUpstreamPpm");
        if (!(R3.MaxScrInletC > R3.MinScrInletC))
            errors.Add($"{Section}:R3:MaxScrInletC ({R3.MaxScrInletC}) must be above R3:MinScrInletC ({R3.MinScrInletC}).");
        WindowChecks(R3.AverageSeconds, R3.MinSeconds, R3.WindowMinutes, "R3");

        Positive(R4.UnchangedLevelPercent, "R4:UnchangedLevelPercent");
        Positive(R4.MinFuelBurnedL, "R4:MinFuelBurnedL");
        Positive(R4.RisePercent, "R4:RisePercent");
        Positive(R4.RefillStopSeconds, "R4:RefillStopSeconds");
        if (R4.RiseAverageSeconds is < 1 or > 3600)
            errors.Add($"{Section}:R4:RiseAverageSeconds must be between 1 and 3600 (it is {R4.RiseAverageSeconds}).");
        NonNegative(R4.RiseSustainSeconds, "R4:RiseSustainSeconds");
        NonNegative(R4.EmptyLevelPercent, "R4:EmptyLevelPercent");
        Positive(R4.EmptyMinSeconds, "R4:EmptyMinSeconds");
        NonNegative(R4.MovingSpeedKmh, "R4:MovingSpeedKmh");

        NonNegative(R5.MaxStdDevPpm, "R5:MaxStdDevPpm");
        Positive(R5.StuckWindowMinutes, "R5:StuckWindowMinutes");
        NonNegative(R5.MinTorqueStdDevPercent, "R5:MinTorqueStdDevPercent");
        NonNegative(R5.MinSpeedStdDevKmh, "R5:MinSpeedStdDevKmh");
        Positive(R5.DownstreamToUpstreamRatio, "R5:DownstreamToUpstreamRatio");
        NonNegative(R5.MinUpstreamPpm, "R5:MinUpstreamPpm");
        WindowChecks(R5.AverageSeconds, R5.AboveUpstreamSeconds, R5.AboveUpstreamWindowMinutes, "R5");
        Positive(R5.PinnedHighPpm, "R5:PinnedHighPpm");
        Positive(R5.PinnedSeconds, "R5:PinnedSeconds");
        NonNegative(R5.MinUpstreamStdDevPpm, "R5:MinUpstreamStdDevPpm");
        NonNegative(R5.MinExhaustStdDevKgph, "R5:MinExhaustStdDevKgph");
        if (R5.LostSeconds < 1 || R5.LostWindowMinutes * 60 < R5.LostSeconds)
            errors.Add($"{Section}:R5:LostSeconds ({R5.LostSeconds}) must be at least 1 and fit in R5:LostWindowMinutes ({R5.LostWindowMinutes}).");

        if (R10.MinLoadSeconds < 1 || R10.WindowMinutes * 60 < R10.MinLoadSeconds)
            errors.Add($"{Section}:R10:MinLoadSeconds ({R10.MinLoadSeconds}) must be at least 1 and fit in R10:WindowMinutes ({R10.WindowMinutes}).");

        NonNegative(R6.MaxPressureDropKpa, "R6:MaxPressureDropKpa");
        NonNegative(R6.MinExhaustFlowKgph, "R6:MinExhaustFlowKgph");
        if (R6.MinSeconds < 1 || R6.WindowMinutes * 60 < R6.MinSeconds)
            errors.Add($"{Section}:R6:MinSeconds ({R6.MinSeconds}) must be at least 1 and fit in R6:WindowMinutes ({R6.WindowMinutes}).");

        Positive(R7.MaxSeconds, "R7:MaxSeconds");
        Positive(R7.MaxKm, "R7:MaxKm");
        NonNegative(R7.MovingSpeedKmh, "R7:MovingSpeedKmh");
        NonNegative(R7.ObdMaxAgeSeconds, "R7:ObdMaxAgeSeconds");

        Positive(R9.ExpectedCadenceSeconds, "R9:ExpectedCadenceSeconds");
        Positive(R9.OfflineCadenceFactor, "R9:OfflineCadenceFactor");
        NonNegative(R9.OfflineMinSilenceSeconds, "R9:OfflineMinSilenceSeconds");
        Positive(R9.PositionInvalidSeconds, "R9:PositionInvalidSeconds");
        Positive(R9.MaxImpliedSpeedKmh, "R9:MaxImpliedSpeedKmh");
        NonNegative(R9.MinJumpKm, "R9:MinJumpKm");
        Positive(R9.MaxClockSkewSeconds, "R9:MaxClockSkewSeconds");
        Fraction(R9.MaxInvalidFieldFraction, "R9:MaxInvalidFieldFraction");
        Positive(R9.InvalidFieldWindowSeconds, "R9:InvalidFieldWindowSeconds");
        if (R9.MinCheckCodeFailures < 1)
            errors.Add($"{Section}:R9:MinCheckCodeFailures must be at least 1 (it is {R9.MinCheckCodeFailures}).");
        Positive(R9.CheckCodeWindowMinutes, "R9:CheckCodeWindowMinutes");

        if (Zones.UtcOffsetHours is < -14 or > 14)
            errors.Add($"{Section}:Zones:UtcOffsetHours must be between -14 and 14 (it is {Zones.UtcOffsetHours}).");
        Positive(Zones.CheckIntervalSeconds, "Zones:CheckIntervalSeconds");
        NonNegative(Zones.MovingSpeedKmh, "Zones:MovingSpeedKmh");
        return errors;

        void WindowChecks(int averageSeconds, int minSeconds, int windowMinutes, string rule)
        {
            if (averageSeconds is < 1 or > 600)
                errors.Add($"{Section}:{rule}:AverageSeconds must be between 1 and 600 (it is {averageSeconds}).");
            if (windowMinutes is < 1 or > 240)
                errors.Add($"{Section}:{rule}:WindowMinutes must be between 1 and 240 (it is {windowMinutes}).");
            if (minSeconds < 1 || minSeconds > windowMinutes * 60)
                errors.Add($"{Section}:{rule}: the minimum seconds ({minSeconds}) must be at least 1 and fit in the window of {windowMinutes} minutes.");
        }
    }
}

/// <summary>Validity gate for emission rules: warm engine, warm SCR, settled after start.</summary>
public sealed class GateOptions
{
    /// <summary>Engine speed at or above which the engine counts as running, rpm.</summary>
    public double MinEngineSpeedRpm { get; set; } = 500;
    /// <summary>Coolant temperature at or above which the engine is warm, deg C.</summary>
    public double MinCoolantC { get; set; } = 70;
    /// <summary>SCR inlet temperature at or above which the SCR converts well, deg C.</summary>
    public double MinScrInletC { get; set; } = 250;
    /// <summary>Seconds after engine start before emission rules count.</summary>
    public double MinSecondsSinceEngineStart { get; set; } = 300;
    /// <summary>A gap in data longer than this, or engine speed below the running threshold, ends an engine run, s.</summary>
    public double EngineOffGapSeconds { get; set; } = 120;
}

/// <summary>Episode bookkeeping.</summary>
public sealed class EpisodeOptions
{
    /// <summary>An episode closes when its condition has not held for this long (sample time), s.</summary>
    public double HysteresisSeconds { get; set; } = 300;
    /// <summary>At most one Updated change per episode per this much sample time, s.</summary>
    public double UpdateIntervalSeconds { get; set; } = 60;
    /// <summary>Number of most recent samples kept as evidence when an episode opens.</summary>
    public int EvidenceSamples { get; set; } = 30;
}

/// <summary>Duplicate and late-sample handling.</summary>
public sealed class DedupOptions
{
    /// <summary>How far back (behind the newest sample) the covered-time memory reaches, h. Older samples are stored but not evaluated.</summary>
    public double RetentionHours { get; set; } = 72;
    /// <summary>Maximum number of disjoint covered time ranges remembered per vehicle; the oldest are forgotten first.</summary>
    public int MaxRanges { get; set; } = 1024;
    /// <summary>Samples further ahead of the arrival time than this are rejected as implausible, s.</summary>
    public double MaxFutureSeconds { get; set; } = 86_400;
    /// <summary>Arrival-time silence after which an episode found in late (re-issued) data is closed, s.</summary>
    public double BackfillIdleSeconds { get; set; } = 300;
}

/// <summary>Physical constants.</summary>
public sealed class PhysicsOptions
{
    /// <summary>Diesel density, kg/L (exhaust mass flow = intake air + fuel x density).</summary>
    public double FuelDensityKgPerL { get; set; } = 0.835;
    /// <summary>Raw-exhaust NOx factor: g/h = factor x ppm x exhaust kg/h (WHTC/PEMS value for diesel).</summary>
    public double NoxMassFactor { get; set; } = 0.001586;
}

/// <summary>R1: 30 s moving average of downstream NOx above the threshold for enough gated time within a window.</summary>
public sealed class NoxConcentrationOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Downstream NOx threshold for the moving average, ppm.</summary>
    public double ThresholdPpm { get; set; } = 500;
    /// <summary>Moving-average length, s.</summary>
    public int AverageSeconds { get; set; } = 30;
    /// <summary>Gated seconds above the threshold needed within the window, s.</summary>
    public int MinExceedSeconds { get; set; } = 300;
    /// <summary>Window over which exceeding seconds are counted, min.</summary>
    public int WindowMinutes { get; set; } = 30;
}

/// <summary>R2: specific NOx over work-based windows.</summary>
public sealed class SpecificNoxOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Engine work of one window, kWh.</summary>
    public double WindowWorkKWh { get; set; } = 10;
    /// <summary>The window moves in steps of WindowWorkKWh / SubWindows.</summary>
    public int SubWindows { get; set; } = 10;
    /// <summary>Window result above which the episode is a warning (OBD threshold), mg/kWh.</summary>
    public double AlertMgPerKWh { get; set; } = 1200;
    /// <summary>Window result above which an advisory episode opens (in-use conformity), mg/kWh.</summary>
    public double AdvisoryMgPerKWh { get; set; } = 690;
    /// <summary>Seconds with torque below this are left out of windows (idle and motoring), % of reference torque.</summary>
    public double MinTorquePercent { get; set; } = 10;
    /// <summary>A window that takes longer than this to fill is discarded, min.</summary>
    public double MaxWindowMinutes { get; set; } = 60;
}

/// <summary>R3: low SCR conversion efficiency.</summary>
public sealed class ScrEfficiencyOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Efficiency (1 - downstream/upstream) below which the SCR counts as not working.</summary>
    public double MinEfficiency { get; set; } = 0.5;
    /// <summary>Upstream NOx above which efficiency is judged, ppm.</summary>
    public double MinUpstreamPpm { get; set; } = 100;
    /// <summary>SCR inlet temperature range in which efficiency is judged, deg C.</summary>
    public double MinScrInletC { get; set; } = 250;
    public double MaxScrInletC { get; set; } = 450;
    /// <summary>Averaging length for upstream and downstream NOx, s.</summary>
    public int AverageSeconds { get; set; } = 30;
    /// <summary>Gated seconds of low efficiency needed within the window, s.</summary>
    public int MinSeconds { get; set; } = 600;
    /// <summary>Window, min.</summary>
    public int WindowMinutes { get; set; } = 30;
}

/// <summary>R4: urea tampering.</summary>
public sealed class UreaOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>A level change smaller than this counts as unchanged, %.</summary>
    public double UnchangedLevelPercent { get; set; } = 0.4;
    /// <summary>Fuel burned with an unchanged level (while R3 holds) that raises the alert, L.</summary>
    public double MinFuelBurnedL { get; set; } = 50;
    /// <summary>Rise of the level while driving (no stop long enough to refill) that raises the alert, %.</summary>
    public double RisePercent { get; set; } = 2.0;
    /// <summary>The level is averaged over this long before rises are judged (a moving tank sloshes by 1-2 %), s.</summary>
    public int RiseAverageSeconds { get; set; } = 60;
    /// <summary>The averaged level must stay at least RisePercent above its minimum for this long while driving, s.</summary>
    public double RiseSustainSeconds { get; set; } = 120;
    /// <summary>A stop at least this long may be a refill and resets the rise tracking, s.</summary>
    public double RefillStopSeconds { get; set; } = 60;
    /// <summary>A level at or below this while driving counts as empty, %.</summary>
    public double EmptyLevelPercent { get; set; }
    /// <summary>Driving seconds with an empty tank that raise the alert, s.</summary>
    public double EmptyMinSeconds { get; set; } = 60;
    /// <summary>Speed above which the vehicle is driving, km/h.</summary>
    public double MovingSpeedKmh { get; set; } = 5;
}

/// <summary>R5: NOx sensor stuck, emulated or pinned.</summary>
public sealed class NoxSensorOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Downstream standard deviation at or below which the sensor counts as stuck, ppm.</summary>
    public double MaxStdDevPpm { get; set; } = 0.5;
    /// <summary>Length of the stuck-sensor window, min (evaluated every half window).</summary>
    public double StuckWindowMinutes { get; set; } = 10;
    /// <summary>Torque must vary at least this much (standard deviation) in the window, %.</summary>
    public double MinTorqueStdDevPercent { get; set; } = 5;
    /// <summary>Speed must vary at least this much (standard deviation) in the window, km/h.</summary>
    public double MinSpeedStdDevKmh { get; set; } = 2;
    /// <summary>Or upstream NOx must vary at least this much (standard deviation) in the window, ppm (steady cruise still varies by tens of ppm).</summary>
    public double MinUpstreamStdDevPpm { get; set; } = 10;
    /// <summary>Or exhaust flow must vary at least this much (standard deviation) in the window, kg/h.</summary>
    public double MinExhaustStdDevKgph { get; set; } = 20;
    /// <summary>Averaged downstream at or above this multiple of upstream counts as "downstream at or above upstream".</summary>
    public double DownstreamToUpstreamRatio { get; set; } = 1.0;
    /// <summary>Upstream NOx above which the comparison is made, ppm.</summary>
    public double MinUpstreamPpm { get; set; } = 100;
    /// <summary>Averaging length for the comparison, s.</summary>
    public int AverageSeconds { get; set; } = 30;
    /// <summary>Gated seconds with downstream at or above upstream needed within the window, s.</summary>
    public int AboveUpstreamSeconds { get; set; } = 300;
    /// <summary>Window for the comparison, min.</summary>
    public int AboveUpstreamWindowMinutes { get; set; } = 10;
    /// <summary>A reading at or above this is pinned at the range limit, ppm (range ends at 3012.75).</summary>
    public double PinnedHighPpm { get; set; } = 3000;
    /// <summary>Consecutive running seconds pinned that raise the alert, s.</summary>
    public double PinnedSeconds { get; set; } = 60;
    /// <summary>A downstream reading below this (or not available, error, -200) is no reading: sensor lost, ppm.</summary>
    public double LostReadingPpm { get; set; } = 0.5;
    /// <summary>Seconds of warm running under load without a downstream reading (upstream above MinUpstreamPpm, or the sensor read before) that raise the alert, s.</summary>
    public int LostSeconds { get; set; } = 600;
    /// <summary>Window for the lost-reading seconds, min.</summary>
    public int LostWindowMinutes { get; set; } = 20;
    /// <summary>Net torque (actual - friction) at or above which the engine is under load, % of reference torque.</summary>
    public double LostMinNetTorquePercent { get; set; } = 10;
}

/// <summary>R6: DPF removed.</summary>
public sealed class DpfOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>DPF pressure drop below this, kPa ...</summary>
    public double MaxPressureDropKpa { get; set; } = 0.5;
    /// <summary>... while exhaust flow is above this, kg/h ...</summary>
    public double MinExhaustFlowKgph { get; set; } = 300;
    /// <summary>... for at least this many seconds within the window.</summary>
    public int MinSeconds { get; set; } = 600;
    /// <summary>Window, min.</summary>
    public int WindowMinutes { get; set; } = 20;
    /// <summary>Alert when the OBD DPF support bit is cleared after the vehicle once reported it.</summary>
    public bool SupportBitCleared { get; set; } = true;
}

/// <summary>R7: MIL-on driving.</summary>
public sealed class MilOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Moving time with the MIL on that raises the alert, s.</summary>
    public double MaxSeconds { get; set; } = 600;
    /// <summary>Distance with the MIL on that raises the alert, km.</summary>
    public double MaxKm { get; set; } = 10;
    /// <summary>Speed above which the vehicle is moving, km/h.</summary>
    public double MovingSpeedKmh { get; set; } = 1;
    /// <summary>
    /// 0 (default): the MIL state of the latest OBD record holds until the next record, however sparse
    /// (field firmware may send one a day). A positive value makes a record older than this many
    /// seconds no longer tell the MIL state (the behaviour of earlier releases, with 300).
    /// </summary>
    public double ObdMaxAgeSeconds { get; set; }
}

/// <summary>R8: OBD tampering.</summary>
public sealed class ObdTamperingOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Alert when the calibration ID or CVN changes.</summary>
    public bool CalibrationChange { get; set; } = true;
    /// <summary>Alert when fault codes disappear while readiness monitors are reset.</summary>
    public bool DtcsClearedWithReadinessReset { get; set; } = true;
}

/// <summary>R9: data quality.</summary>
public sealed class DataQualityOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Expected frame cadence before the vehicle's own cadence is known, s.</summary>
    public double ExpectedCadenceSeconds { get; set; } = 10;
    /// <summary>Silence longer than this multiple of the cadence, while the engine was last running, is offline.</summary>
    public double OfflineCadenceFactor { get; set; } = 3;
    /// <summary>Silence shorter than this is never offline (keeps 1 Hz terminals from alerting on a network blip), s.</summary>
    public double OfflineMinSilenceSeconds { get; set; } = 30;
    /// <summary>Running seconds with an invalid position that raise the alert, s.</summary>
    public double PositionInvalidSeconds { get; set; } = 600;
    /// <summary>Implied speed between consecutive fixes above which the position jumped, km/h.</summary>
    public double MaxImpliedSpeedKmh { get; set; } = 150;
    /// <summary>Jumps shorter than this are GPS noise, km.</summary>
    public double MinJumpKm { get; set; } = 1;
    /// <summary>Difference between sample time and arrival time of real-time data above which the clock is skewed, s.</summary>
    public double MaxClockSkewSeconds { get; set; } = 60;
    /// <summary>Share of invalid fields (among those the terminal normally reports) above which data quality alerts.</summary>
    public double MaxInvalidFieldFraction { get; set; } = 0.2;
    /// <summary>Window for the invalid-field share, s.</summary>
    public double InvalidFieldWindowSeconds { get; set; } = 300;
    /// <summary>Check-code failures within the window that raise the alert.</summary>
    public int MinCheckCodeFailures { get; set; } = 3;
    /// <summary>Window for check-code failures, min.</summary>
    public double CheckCodeWindowMinutes { get; set; } = 10;
    /// <summary>Any terminal removal alarm (0x06) raises an alert.</summary>
    public bool RemovalAlarm { get; set; } = true;
}

/// <summary>R10: SCR inlet temperature far below what the exhaust energy implies.</summary>
public sealed class ScrTemperatureOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>A reported SCR inlet temperature below this after sustained load is implausible, deg C.</summary>
    public double MaxPlausibleScrInletC { get; set; } = 200;
    /// <summary>Net torque (actual - friction) at or above which a second counts as under load, % of reference torque.</summary>
    public double MinNetTorquePercent { get; set; } = 20;
    /// <summary>Warm seconds under load needed within the window before a low reading is implausible, s.</summary>
    public int MinLoadSeconds { get; set; } = 720;
    /// <summary>Window for the load seconds, min.</summary>
    public int WindowMinutes { get; set; } = 20;
}

/// <summary>Z: low-emission zones and restricted hours.</summary>
public sealed class ZoneOptions
{
    public bool Enabled { get; set; } = true;
    /// <summary>Restricted hours are local time at this offset from UTC (China Standard Time: 8), h.</summary>
    public double UtcOffsetHours { get; set; } = 8;
    /// <summary>How often (sample time) the zone of a moving vehicle is looked up, s.</summary>
    public double CheckIntervalSeconds { get; set; } = 10;
    /// <summary>Open a Z episode when a vehicle drives in a zone during its restricted hours.</summary>
    public bool AlertOnRestrictedHours { get; set; } = true;
    /// <summary>Speed above which the vehicle is driving, km/h.</summary>
    public double MovingSpeedKmh { get; set; } = 5;
}
