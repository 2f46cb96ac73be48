using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R7: the malfunction indicator lamp on while moving for more than 10 min or 10 km. The MIL state is
/// the last known state: valid until the next OBD record, however sparse (field firmware may send one
/// at key-on and then once a day). A record taken while the engine is not running may show the bulb
/// check (every MIL lights for a few seconds at key-on): its "on" tells nothing and is not used.
/// </summary>
internal sealed class R7MilDriving : Rule<R7MilDriving.RuleData>
{
    private readonly MilOptions _o;

    public R7MilDriving(MilOptions o)
        : base("R7", "MIL-on driving", FieldMask.Obd | FieldMask.SpeedKmh, AlertSeverity.Warning)
    {
        _o = o;
        Thresholds = Dict(("maxSeconds", o.MaxSeconds), ("maxKm", o.MaxKm), ("movingSpeedKmh", o.MovingSpeedKmh), ("obdMaxAgeSeconds", o.ObdMaxAgeSeconds));
        Init();
    }

    /// <summary>R7 state: the last known MIL state and when it was reported, and the moving time and distance with it on.</summary>
    [GenerateSerializer, Alias("detection.R7.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public bool MilOn { get; set; }
        [Id(1)] public long MilSecond { get; set; } = long.MinValue;
        [Id(2)] public double Seconds { get; set; }
        [Id(3)] public double Km { get; set; }
        [Id(4)] public double LastOdometerKm { get; set; } = double.NaN;

        internal override RuleState Copy() => (RuleData)MemberwiseClone();
    }

    public override bool Enabled => _o.Enabled;
    public override bool UsesObd => true;

    protected override RuleData NewState() => new();

    /// <summary>True when the last known MIL state is on and not older than <c>R7:ObdMaxAgeSeconds</c> at <paramref name="second"/>.</summary>
    public bool Lit(long second) => State.MilOn && (_o.ObdMaxAgeSeconds <= 0 || second - State.MilSecond <= _o.ObdMaxAgeSeconds);

    public override Verdict EvaluateObd(ObdSnapshot obd, long second, bool engineRunning, bool episodeOpen)
    {
        if (obd.MilOn is not { } on)
            return default;
        var st = State;
        // The bulb check lights the lamp at key-on before the engine runs, fault or not.
        if (on && !engineRunning)
            return default;
        if (!on)
        {
            st.Seconds = 0;
            st.Km = 0;
        }
        st.MilOn = on;
        st.MilSecond = second;
        return default;
    }

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        var st = State;
        if (!st.MilOn || (_o.ObdMaxAgeSeconds > 0 && c.Second - st.MilSecond > _o.ObdMaxAgeSeconds))
        {
            st.LastOdometerKm = double.NaN;
            return default;
        }
        var speed = s.SpeedKmh;
        var odo = s.OdometerKm;
        if (Sample.Has(speed) && speed > _o.MovingSpeedKmh)
        {
            st.Seconds += c.Dt;
            var d = Sample.Has(odo) && Sample.Has(st.LastOdometerKm) ? odo - st.LastOdometerKm : double.NaN;
            st.Km += d is >= 0 and < 1 ? d : speed * c.Dt / 3600.0;
        }
        st.LastOdometerKm = odo;
        return st.Seconds > _o.MaxSeconds || st.Km > _o.MaxKm ? Verdict.Hold(Severity) : default;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        m["milOnMovingSeconds"] = Math.Round(State.Seconds);
        m["milOnKm"] = Math.Round(State.Km, 2);
    }

    public override string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"Driven {State.Seconds / 60:F0} min and {State.Km:F1} km with the malfunction indicator lamp on (limits {_o.MaxSeconds / 60:F0} min or {_o.MaxKm:F0} km).");
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
