using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R5: downstream NOx sensor stuck or emulated (held nearly constant while engine-out emissions vary),
/// reading at or above upstream, pinned at the range limit, or lost (not available, error, -200 or
/// ~0 ppm through warm running under load while upstream still reads high or after it was valid).
/// </summary>
internal sealed class R5NoxSensor : Rule<R5NoxSensor.RuleData>
{
    private const int Stuck = 1;
    private const int AboveUpstream = 2;
    private const int Pinned = 3;
    private const int Lost = 4;

    private readonly NoxSensorOptions _o;
    private readonly long _half;

    public R5NoxSensor(NoxSensorOptions o)
        : base("R5", "NOx sensor stuck, emulated or removed", FieldMask.NoxDownstreamPpm | FieldMask.NoxUpstreamPpm | FieldMask.EngineSpeedRpm |
                                                              FieldMask.EngineTorquePercent | FieldMask.SpeedKmh, AlertSeverity.Critical)
    {
        _o = o;
        _half = Math.Max(1, (long)(o.StuckWindowMinutes * 30));
        Thresholds = Dict(("maxStdDevPpm", o.MaxStdDevPpm), ("stuckWindowMinutes", o.StuckWindowMinutes), ("minTorqueStdDevPercent", o.MinTorqueStdDevPercent),
            ("minSpeedStdDevKmh", o.MinSpeedStdDevKmh), ("minUpstreamStdDevPpm", o.MinUpstreamStdDevPpm), ("minExhaustStdDevKgph", o.MinExhaustStdDevKgph),
            ("downstreamToUpstreamRatio", o.DownstreamToUpstreamRatio), ("minUpstreamPpm", o.MinUpstreamPpm),
            ("aboveUpstreamSeconds", o.AboveUpstreamSeconds), ("aboveUpstreamWindowMinutes", o.AboveUpstreamWindowMinutes),
            ("pinnedHighPpm", o.PinnedHighPpm), ("pinnedSeconds", o.PinnedSeconds),
            ("lostReadingPpm", o.LostReadingPpm), ("lostSeconds", o.LostSeconds), ("lostWindowMinutes", o.LostWindowMinutes),
            ("lostMinNetTorquePercent", o.LostMinNetTorquePercent));
        Init();
    }

    /// <summary>Running sums of one variable, shifted by its first value so that sums of squares keep their precision.</summary>
    [GenerateSerializer]
    internal struct Moments
    {
        [Id(0)] public double K;
        [Id(1)] public double S;
        [Id(2)] public double Q;

        public void Add(double x, bool first)
        {
            if (first)
                K = x;
            var d = x - K;
            S += d;
            Q += d * d;
        }

        public void Merge(in Moments o, int n)
        {
            if (n == 0)
                return;
            var a = o.K - K;
            Q += o.Q + (2 * a * o.S) + (n * a * a);
            S += o.S + (n * a);
        }

        public readonly double Mean(int n) => n == 0 ? double.NaN : K + (S / n);
        public readonly double Std(int n) => n < 2 ? 0 : Math.Sqrt(Math.Max(0, (Q - (S * S / n)) / n));
    }

    /// <summary>Half a stuck window of samples: downstream, torque, speed, upstream and exhaust flow.</summary>
    [GenerateSerializer]
    internal struct Block
    {
        [Id(0)] public long Start;
        [Id(1)] public int N;
        [Id(2)] public Moments Down;
        [Id(3)] public Moments Torque;
        [Id(4)] public Moments Speed;
        [Id(5)] public Moments Up;
        [Id(6)] public Moments Exhaust;

        public void Add(double down, double torque, double speed, double up, double exhaust)
        {
            var first = N == 0;
            N++;
            Down.Add(down, first);
            Torque.Add(torque, first);
            Speed.Add(speed, first);
            Up.Add(up, first);
            Exhaust.Add(exhaust, first);
        }

        public void Merge(in Block o)
        {
            Down.Merge(o.Down, o.N);
            Torque.Merge(o.Torque, o.N);
            Speed.Merge(o.Speed, o.N);
            Up.Merge(o.Up, o.N);
            Exhaust.Merge(o.Exhaust, o.N);
            N += o.N;
        }
    }

    /// <summary>R5 state: the two half-window blocks of the stuck test, the comparison averages and window, the pinned and lost counters.</summary>
    [GenerateSerializer, Alias("detection.R5.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public Block Previous;
        [Id(1)] public Block Current;
        [Id(2)] public long LastSecond { get; set; } = long.MinValue;
        [Id(3)] public bool Stuck { get; set; }
        [Id(4)] public double StdDown { get; set; }
        [Id(5)] public double StdTorque { get; set; }
        [Id(6)] public double StdSpeed { get; set; }
        [Id(7)] public double StdUp { get; set; }
        [Id(8)] public double StdExhaust { get; set; }
        [Id(9)] public double MeanDown { get; set; }
        [Id(10)] public MovingAverage Up { get; set; } = null!;
        [Id(11)] public MovingAverage Down { get; set; } = null!;
        [Id(12)] public WindowCounter AboveWindow { get; set; } = null!;
        [Id(13)] public double Ratio { get; set; } = double.NaN;
        [Id(14)] public double PinnedSeconds { get; set; }
        [Id(15)] public double PinnedValue { get; set; }
        [Id(16)] public WindowCounter LostWindow { get; set; } = null!;
        [Id(17)] public bool EverValid { get; set; }
        [Id(18)] public double LastUpstream { get; set; } = double.NaN;
        [Id(19)] public int Reason { get; set; }

        internal override RuleState Copy()
        {
            var c = (RuleData)MemberwiseClone();
            c.Up = Up.Copy();
            c.Down = Down.Copy();
            c.AboveWindow = AboveWindow.Copy();
            c.LostWindow = LostWindow.Copy();
            return c;
        }
    }

    public override bool Enabled => _o.Enabled;
    /// <summary>Reads R10's result: the emission gate opens when the SCR reading is implausible.</summary>
    public override IReadOnlyList<string> DependsOn => ReadsR10;

    protected override RuleData NewState() => new()
    {
        Up = new MovingAverage(_o.AverageSeconds),
        Down = new MovingAverage(_o.AverageSeconds),
        AboveWindow = new WindowCounter(_o.AboveUpstreamWindowMinutes),
        LostWindow = new WindowCounter(_o.LostWindowMinutes),
    };

    protected override RuleData? Adopt(RuleData saved)
    {
        saved.Up = saved.Up?.Fit(_o.AverageSeconds) ?? new MovingAverage(_o.AverageSeconds);
        saved.Down = saved.Down?.Fit(_o.AverageSeconds) ?? new MovingAverage(_o.AverageSeconds);
        saved.AboveWindow = saved.AboveWindow?.Fit(_o.AboveUpstreamWindowMinutes) ?? new WindowCounter(_o.AboveUpstreamWindowMinutes);
        saved.LostWindow = saved.LostWindow?.Fit(_o.LostWindowMinutes) ?? new WindowCounter(_o.LostWindowMinutes);
        return saved;
    }

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var st = State;
        if (!c.Running)
        {
            st.PinnedSeconds = 0;
            return default;
        }
        var sec = c.Second;
        var down = s.NoxDownstreamPpm;
        var up = s.NoxUpstreamPpm;
        var reason = 0;

        // (c) pinned at the range limit.
        if (down >= _o.PinnedHighPpm || up >= _o.PinnedHighPpm)
        {
            st.PinnedSeconds += c.Dt;
            st.PinnedValue = Math.Max(Sample.Has(down) ? down : 0, Sample.Has(up) ? up : 0);
            if (st.PinnedSeconds >= _o.PinnedSeconds)
                reason = Pinned;
        }
        else
        {
            st.PinnedSeconds = 0;
        }

        // (a) stuck: no variation over the window while the engine fires and engine-out emissions vary.
        var torque = s.EngineTorquePercent;
        var firing = torque > 0 && !(s.FuelFlowLph <= 0);
        if (down > 0 && firing && Sample.Has(s.SpeedKmh))
        {
            if (st.LastSecond != long.MinValue && sec - st.LastSecond > 60)
            {
                st.Previous = default;
                st.Current = default;
                st.Stuck = false;
            }
            st.LastSecond = sec;
            if (st.Current.N == 0)
                st.Current.Start = sec;
            st.Current.Add(down, torque, s.SpeedKmh, up > 0 ? up : 0, double.IsNaN(c.ExhaustKgph) ? 0 : c.ExhaustKgph);
            if (sec - st.Current.Start + 1 >= _half)
            {
                if (st.Previous.N > 0)
                    EvaluateStuck(st);
                st.Previous = st.Current;
                st.Current = default;
            }
            if (st.Stuck && reason == 0)
                reason = Stuck;
        }

        // (b) downstream at or above upstream while the SCR is warm.
        var gated = c.EmissionGated;
        if (gated && down > 0 && up > 0)
        {
            st.Up.Add(sec, up);
            st.Down.Add(sec, down);
            if (st.Up.Full)
            {
                st.AboveWindow.Advance(c.Minute);
                var u = st.Up.Mean;
                if (u > _o.MinUpstreamPpm)
                {
                    st.Ratio = st.Down.Mean / u;
                    if (st.Ratio >= _o.DownstreamToUpstreamRatio)
                    {
                        st.AboveWindow.Count();
                        if (st.AboveWindow.Total >= _o.AboveUpstreamSeconds && reason == 0)
                            reason = AboveUpstream;
                    }
                }
            }
        }

        // (d) lost: no believable downstream reading through warm running under load, while upstream
        // reads high or after the sensor was valid on this vehicle. A field missing from the start stays silent.
        var lost = !(down >= _o.LostReadingPpm);
        if (!lost && gated)
            st.EverValid = true;
        var netTorque = torque - (Sample.Has(s.FrictionTorquePercent) ? s.FrictionTorquePercent : 0);
        if (c.GatedButScr && netTorque >= _o.LostMinNetTorquePercent)
        {
            st.LostWindow.Advance(c.Minute);
            if (up > 0)
                st.LastUpstream = up;
            if (lost && (st.EverValid || up > _o.MinUpstreamPpm))
            {
                st.LostWindow.Count();
                if (st.LostWindow.Total >= _o.LostSeconds && reason == 0)
                    reason = Lost;
            }
        }

        if (reason == 0)
            return default;
        st.Reason = reason;
        return Verdict.Hold(Severity);
    }

    private void EvaluateStuck(RuleData st)
    {
        var all = st.Previous;
        all.Merge(st.Current);
        var n = all.N;
        st.StdDown = all.Down.Std(n);
        st.StdTorque = all.Torque.Std(n);
        st.StdSpeed = all.Speed.Std(n);
        st.StdUp = all.Up.Std(n);
        st.StdExhaust = all.Exhaust.Std(n);
        st.MeanDown = all.Down.Mean(n);
        // Any sign that engine-out emissions vary is evidence: steady highway cruise barely moves torque
        // and speed, but its upstream NOx and exhaust flow still vary by tens of ppm and kg/h.
        var varies = st.StdTorque >= _o.MinTorqueStdDevPercent || st.StdSpeed >= _o.MinSpeedStdDevKmh ||
                     st.StdUp >= _o.MinUpstreamStdDevPpm || st.StdExhaust >= _o.MinExhaustStdDevKgph;
        st.Stuck = n >= _half * 2 * 0.8 && st.StdDown <= _o.MaxStdDevPpm && varies;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        var st = State;
        m["reason"] = st.Reason;
        switch (st.Reason)
        {
            case Stuck:
                m["downstreamStdDevPpm"] = Math.Round(st.StdDown, 3);
                m["downstreamMeanPpm"] = Math.Round(st.MeanDown, 2);
                m["torqueStdDevPercent"] = Math.Round(st.StdTorque, 2);
                m["speedStdDevKmh"] = Math.Round(st.StdSpeed, 2);
                m["upstreamStdDevPpm"] = Math.Round(st.StdUp, 2);
                m["exhaustStdDevKgph"] = Math.Round(st.StdExhaust, 1);
                break;
            case AboveUpstream:
                m["downstreamToUpstreamRatio"] = Math.Round(st.Ratio, 3);
                m["aboveUpstreamSecondsInWindow"] = st.AboveWindow.Total;
                break;
            case Lost:
                m["lostSecondsInWindow"] = st.LostWindow.Total;
                m["upstreamPpm"] = Math.Round(st.LastUpstream, 1);
                m["validBefore"] = st.EverValid ? 1 : 0;
                break;
            default:
                m["pinnedPpm"] = st.PinnedValue;
                m["pinnedSeconds"] = st.PinnedSeconds;
                break;
        }
    }

    public override string Describe() => State.Reason switch
    {
        Stuck => string.Create(CultureInfo.InvariantCulture, $"Downstream NOx held at {State.MeanDown:F1} ppm (standard deviation {State.StdDown:F2} ppm) for {_o.StuckWindowMinutes:F0} min while engine-out emissions varied (upstream sd {State.StdUp:F0} ppm, exhaust sd {State.StdExhaust:F0} kg/h, torque sd {State.StdTorque:F0} %, speed sd {State.StdSpeed:F0} km/h): sensor stuck or emulated."),
        AboveUpstream => string.Create(CultureInfo.InvariantCulture, $"Downstream NOx at {State.Ratio * 100:F0} % of upstream for {State.AboveWindow.Total} s within {_o.AboveUpstreamWindowMinutes} min with a warm SCR: sensors swapped or emulated."),
        Lost => string.Create(CultureInfo.InvariantCulture, $"No downstream NOx reading for {State.LostWindow.Total} s of warm running under load within {_o.LostWindowMinutes} min ({(State.EverValid ? "the sensor read before" : "upstream read high")}, upstream {State.LastUpstream:F0} ppm): sensor unplugged or relocated."),
        _ => string.Create(CultureInfo.InvariantCulture, $"NOx reading pinned at {State.PinnedValue:F0} ppm (range limit) for {State.PinnedSeconds:F0} s while running."),
    };
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
