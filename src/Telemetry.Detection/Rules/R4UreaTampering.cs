using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R4: urea (reagent) tampering seen in the tank level: (a) level frozen while fuel burns and R3
/// finds the SCR not converting; (b) a sustained rise while driving (a moving tank sloshes, so the
/// level is averaged and the rise must last; a refill needs a stop); (c) an empty tank while driving.
/// With the supplementary record (0x80), directly from the dosing: (d) no dosing for most of the
/// warm, fuel-burning seconds of a window; (e) cumulative urea used below a share of the cumulative
/// fuel used over a stretch of fuel.
/// </summary>
internal sealed class R4UreaTampering : Rule<R4UreaTampering.RuleData>
{
    private const int Frozen = 1;
    private const int Rising = 2;
    private const int Empty = 3;
    private const int NoDosing = 4;
    private const int LowUreaRatio = 5;

    private readonly UreaOptions _o;
    private readonly long _r3HoldSeconds;

    public R4UreaTampering(UreaOptions o, EpisodeOptions episodes)
        : base("R4", "Urea tampering", FieldMask.ReagentLevelPercent | FieldMask.SpeedKmh | FieldMask.FuelFlowLph, AlertSeverity.Critical)
    {
        _o = o;
        _r3HoldSeconds = (long)episodes.HysteresisSeconds;
        Thresholds = Dict(("unchangedLevelPercent", o.UnchangedLevelPercent), ("minFuelBurnedL", o.MinFuelBurnedL), ("risePercent", o.RisePercent),
            ("riseAverageSeconds", o.RiseAverageSeconds), ("riseSustainSeconds", o.RiseSustainSeconds),
            ("refillStopSeconds", o.RefillStopSeconds), ("emptyLevelPercent", o.EmptyLevelPercent), ("emptyMinSeconds", o.EmptyMinSeconds),
            ("movingSpeedKmh", o.MovingSpeedKmh), ("noDosingMlph", o.NoDosingMlph), ("noDosingMinFuelLph", o.NoDosingMinFuelLph),
            ("noDosingWindowMinutes", o.NoDosingWindowMinutes), ("noDosingMinSeconds", o.NoDosingMinSeconds), ("noDosingShare", o.NoDosingShare),
            ("minUreaToFuelPercent", o.MinUreaToFuelPercent), ("ureaRatioFuelL", o.UreaRatioFuelL));
        Init();
    }

    /// <summary>R4 state: the frozen-level tracker, the averaged level and its minimum while driving, and the counters.</summary>
    [GenerateSerializer, Alias("detection.R4.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public double ReferenceLevel { get; set; } = double.NaN;
        [Id(1)] public double FuelSinceChangeL { get; set; }
        [Id(2)] public MovingAverage LevelAverage { get; set; } = null!;
        [Id(3)] public double MinMovingAverage { get; set; } = double.NaN;
        [Id(4)] public double StoppedSeconds { get; set; }
        [Id(5)] public double RiseSeconds { get; set; }
        [Id(6)] public double EmptySeconds { get; set; }
        [Id(7)] public double Level { get; set; } = double.NaN;
        [Id(8)] public double AverageLevel { get; set; } = double.NaN;
        [Id(9)] public int Reason { get; set; }
        // (d) and (e), from the supplementary record; null or NaN until the terminal sends one.
        [Id(10)] public WindowCounter? DosingEligible { get; set; }
        [Id(11)] public WindowCounter? DosingNone { get; set; }
        [Id(12)] public double RatioFuelFromL { get; set; } = double.NaN;
        [Id(13)] public double RatioUreaFromG { get; set; } = double.NaN;
        [Id(14)] public double RatioPercent { get; set; } = double.NaN;
        [Id(15)] public double RatioFuelL { get; set; } = double.NaN;
        [Id(16)] public double DosingMlph { get; set; } = double.NaN;

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.LevelAverage = LevelAverage.Copy();
            c.DosingEligible = DosingEligible?.Copy();
            c.DosingNone = DosingNone?.Copy();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;
    /// <summary>Reads R3's result (the last second the SCR efficiency was low) for the frozen-level branch.</summary>
    public override IReadOnlyList<string> DependsOn => ReadsR3;

    protected override RuleData NewState() => new() { LevelAverage = new MovingAverage(_o.RiseAverageSeconds) };

    protected override RuleData? Adopt(RuleData saved)
    {
        saved.LevelAverage = saved.LevelAverage?.Fit(_o.RiseAverageSeconds) ?? new MovingAverage(_o.RiseAverageSeconds);
        saved.DosingEligible = saved.DosingEligible?.Fit(_o.NoDosingWindowMinutes);
        saved.DosingNone = saved.DosingNone?.Fit(_o.NoDosingWindowMinutes);
        return saved;
    }

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var st = State;
        var reason = s.Supplementary is { } x ? EvaluateDosing(x, s, c, st) : 0;
        var level = s.ReagentLevelPercent;
        if (double.IsNaN(level))
            return reason == 0 ? default : Hold(st, reason);
        st.Level = level;

        // (a) level unchanged while fuel burns and the SCR does not convert (R3, from the context).
        var fuel = s.FuelFlowLph;
        if (Sample.Has(fuel))
        {
            if (double.IsNaN(st.ReferenceLevel) || Math.Abs(level - st.ReferenceLevel) >= _o.UnchangedLevelPercent)
            {
                st.ReferenceLevel = level;
                st.FuelSinceChangeL = 0;
            }
            else
            {
                st.FuelSinceChangeL += fuel * c.Dt / 3600.0;
            }
            var r3 = c.ScrEfficiencyLowSecond;
            if (st.FuelSinceChangeL > _o.MinFuelBurnedL && r3 != long.MinValue && c.Second - r3 <= _r3HoldSeconds)
                reason = Frozen;
        }

        var speed = s.SpeedKmh;
        if (Sample.Has(speed))
        {
            // (b) a sustained rise of the averaged level while driving; a stop long enough to refill restarts it.
            st.LevelAverage.Add(c.Second, level);
            var avg = st.AverageLevel = st.LevelAverage.Mean;
            if (speed < 1)
            {
                st.StoppedSeconds += c.Dt;
                if (st.StoppedSeconds >= _o.RefillStopSeconds)
                {
                    st.MinMovingAverage = double.NaN;
                    st.RiseSeconds = 0;
                }
            }
            else
            {
                st.StoppedSeconds = 0;
            }
            if (speed > _o.MovingSpeedKmh)
            {
                if (st.LevelAverage.Full)
                {
                    st.MinMovingAverage = double.IsNaN(st.MinMovingAverage) ? avg : Math.Min(st.MinMovingAverage, avg);
                    st.RiseSeconds = avg - st.MinMovingAverage >= _o.RisePercent ? st.RiseSeconds + c.Dt : 0;
                    if (st.RiseSeconds >= _o.RiseSustainSeconds)
                        reason = Rising;
                }

                // (c) empty tank while driving.
                st.EmptySeconds = level <= _o.EmptyLevelPercent ? st.EmptySeconds + c.Dt : 0;
                if (st.EmptySeconds >= _o.EmptyMinSeconds)
                    reason = Empty;
            }
        }

        return reason == 0 ? default : Hold(st, reason);
    }

    private Verdict Hold(RuleData st, int reason)
    {
        st.Reason = reason;
        return Verdict.Hold(Severity);
    }

    // (d) and (e): the dosing itself. Returns the branch that holds, or 0.
    private int EvaluateDosing(SupplementaryStream x, in Sample s, in SampleContext c, RuleData st)
    {
        var reason = 0;
        var dosing = x.UreaDosingMlph;
        if (Sample.Has(dosing))
        {
            st.DosingMlph = dosing;
            var eligible = st.DosingEligible ??= new WindowCounter(_o.NoDosingWindowMinutes);
            var none = st.DosingNone ??= new WindowCounter(_o.NoDosingWindowMinutes);
            eligible.Advance(c.Minute);
            none.Advance(c.Minute);
            // A warm, settled engine burning fuel should dose: the SCR needs urea for the NOx it makes.
            if (c.EmissionGated && s.FuelFlowLph >= _o.NoDosingMinFuelLph)
            {
                eligible.Count();
                if (dosing <= _o.NoDosingMlph)
                    none.Count();
            }
            if (none.Total >= _o.NoDosingMinSeconds && none.Total >= _o.NoDosingShare * eligible.Total)
                reason = NoDosing;
        }

        // (e) the counters: urea used against fuel used, judged per stretch of RatioFuelL litres.
        var fuel = x.TotalFuelUsedL;
        var urea = x.TotalUreaUsedG;
        if (Sample.Has(fuel) && Sample.Has(urea))
        {
            if (double.IsNaN(st.RatioFuelFromL) || fuel < st.RatioFuelFromL || urea < st.RatioUreaFromG)
            {
                // First reading, or a counter went back (terminal or ECU replaced): start a new stretch.
                st.RatioFuelFromL = fuel;
                st.RatioUreaFromG = urea;
            }
            else if (fuel - st.RatioFuelFromL >= _o.UreaRatioFuelL)
            {
                var fuelL = fuel - st.RatioFuelFromL;
                st.RatioFuelL = fuelL;
                st.RatioPercent = 100 * (urea - st.RatioUreaFromG) / 1000 / _o.UreaDensityKgPerL / fuelL;
                st.RatioFuelFromL = fuel;
                st.RatioUreaFromG = urea;
            }
            // The last stretch's verdict stands until the next stretch is complete.
            if (st.RatioPercent < _o.MinUreaToFuelPercent && reason == 0)
                reason = LowUreaRatio;
        }
        return reason;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        var st = State;
        m["reagentLevelPercent"] = st.Level;
        m["reason"] = st.Reason;
        if (st.Reason == Frozen)
            m["fuelBurnedWithUnchangedLevelL"] = Math.Round(st.FuelSinceChangeL, 2);
        if (st.Reason == Rising)
        {
            m["riseWhileDrivingPercent"] = Math.Round(st.AverageLevel - st.MinMovingAverage, 2);
            m["riseSustainedSeconds"] = Math.Round(st.RiseSeconds);
        }
        if (st.Reason == Empty)
            m["emptyDrivingSeconds"] = st.EmptySeconds;
        if (st.Reason == NoDosing)
        {
            m["ureaDosingMlph"] = st.DosingMlph;
            m["noDosingSecondsInWindow"] = st.DosingNone?.Total ?? 0;
            m["dosingExpectedSecondsInWindow"] = st.DosingEligible?.Total ?? 0;
        }
        if (st.Reason == LowUreaRatio)
        {
            m["ureaToFuelPercent"] = Math.Round(st.RatioPercent, 3);
            m["fuelStretchL"] = Math.Round(st.RatioFuelL, 1);
        }
    }

    public override string Describe() => State.Reason switch
    {
        Frozen => string.Create(CultureInfo.InvariantCulture, $"Urea level stayed at {State.Level:F1} % while {State.FuelSinceChangeL:F0} L of fuel burned (more than {_o.MinFuelBurnedL:F0} L) and the SCR efficiency was low."),
        Rising => string.Create(CultureInfo.InvariantCulture, $"Urea level ({_o.RiseAverageSeconds} s average) rose by {State.AverageLevel - State.MinMovingAverage:F1} % while driving, for {State.RiseSeconds:F0} s, without a refill stop (at least {_o.RisePercent:F1} % for {_o.RiseSustainSeconds:F0} s)."),
        NoDosing => string.Create(CultureInfo.InvariantCulture, $"No urea dosed ({State.DosingMlph:F2} mL/h) for {State.DosingNone?.Total ?? 0} of {State.DosingEligible?.Total ?? 0} warm, fuel-burning seconds within {_o.NoDosingWindowMinutes} min (at most {_o.NoDosingMlph:F1} mL/h counts as none)."),
        LowUreaRatio => string.Create(CultureInfo.InvariantCulture, $"Urea used was {State.RatioPercent:F2} % of the fuel over the last {State.RatioFuelL:F0} L (below {_o.MinUreaToFuelPercent:F1} %)."),
        _ => string.Create(CultureInfo.InvariantCulture, $"Urea tank at {State.Level:F1} % while driving for {State.EmptySeconds:F0} s."),
    };
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
    /// <summary>(d) Actual dosing (record 0x80) at or below this counts as none, mL/h.</summary>
    public double NoDosingMlph { get; set; } = 1;
    /// <summary>(d) Fuel flow from which a warm engine is expected to dose, L/h.</summary>
    public double NoDosingMinFuelLph { get; set; } = 5;
    /// <summary>(d) Window over which dosing is judged, min.</summary>
    public int NoDosingWindowMinutes { get; set; } = 15;
    /// <summary>(d) Warm, fuel-burning seconds without dosing in the window that raise the alert, s.</summary>
    public int NoDosingMinSeconds { get; set; } = 600;
    /// <summary>(d) ... and their least share of the warm, fuel-burning seconds of the window (dosing pauses are normal).</summary>
    public double NoDosingShare { get; set; } = 0.8;
    /// <summary>(e) Urea used (record 0x80 counters) below this share of the fuel used raises the alert, % by volume.</summary>
    public double MinUreaToFuelPercent { get; set; } = 1.0;
    /// <summary>(e) Fuel burned per judged stretch, L.</summary>
    public double UreaRatioFuelL { get; set; } = 100;
    /// <summary>(e) Density of the urea solution (AUS 32), kg/L.</summary>
    public double UreaDensityKgPerL { get; set; } = 1.09;
}
