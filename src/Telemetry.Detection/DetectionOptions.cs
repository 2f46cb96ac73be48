using Telemetry.Detection.Rules;

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
        NonNegative(R4.NoDosingMlph, "R4:NoDosingMlph");
        NonNegative(R4.NoDosingMinFuelLph, "R4:NoDosingMinFuelLph");
        if (R4.NoDosingWindowMinutes is < 1 or > 240)
            errors.Add($"{Section}:R4:NoDosingWindowMinutes must be between 1 and 240 (it is {R4.NoDosingWindowMinutes}).");
        if (R4.NoDosingMinSeconds < 1 || R4.NoDosingMinSeconds > R4.NoDosingWindowMinutes * 60)
            errors.Add($"{Section}:R4:NoDosingMinSeconds ({R4.NoDosingMinSeconds}) must be at least 1 and fit in R4:NoDosingWindowMinutes ({R4.NoDosingWindowMinutes}).");
        if (R4.NoDosingShare is < 0 or > 1 || double.IsNaN(R4.NoDosingShare))
            errors.Add($"{Section}:R4:NoDosingShare must be between 0 and 1 (it is {R4.NoDosingShare}).");
        NonNegative(R4.MinUreaToFuelPercent, "R4:MinUreaToFuelPercent");
        Positive(R4.UreaRatioFuelL, "R4:UreaRatioFuelL");
        Positive(R4.UreaDensityKgPerL, "R4:UreaDensityKgPerL");
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

