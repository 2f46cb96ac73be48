using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R8: calibration ID or CVN changed; fault codes cleared with readiness monitors reset. Placeholder
/// values (blank, all '0', all '1', all 0xFF bytes) mean "not available" and are never a change.
/// </summary>
internal sealed class R8ObdTampering : Rule<R8ObdTampering.RuleData>
{
    private readonly ObdTamperingOptions _o;

    public R8ObdTampering(ObdTamperingOptions o)
        : base("R8", "OBD tampering", FieldMask.Obd, AlertSeverity.Critical)
    {
        _o = o;
        Thresholds = Dict(("calibrationChange", o.CalibrationChange ? 1 : 0), ("dtcsClearedWithReadinessReset", o.DtcsClearedWithReadinessReset ? 1 : 0));
        Init();
    }

    /// <summary>R8 state: the last real calibration ID and CVN, fault-code count and readiness; what the latest finding was.</summary>
    [GenerateSerializer, Alias("detection.R8.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public string CalibrationId { get; set; } = "";
        [Id(1)] public string Cvn { get; set; } = "";
        [Id(2)] public int DtcCount { get; set; } = -1;
        [Id(3)] public ushort Readiness { get; set; }
        [Id(4)] public string What { get; set; } = "";
        [Id(5)] public string Before { get; set; } = "";
        [Id(6)] public string After { get; set; } = "";
        [Id(7)] public int ClearedCodes { get; set; }
        [Id(8)] public ushort ResetBits { get; set; }

        internal override RuleState Copy() => (RuleData)MemberwiseClone();
    }

    public override bool Enabled => _o.Enabled;
    public override bool UsesSamples => false;
    public override bool UsesObd => true;

    protected override RuleData NewState() => new();

    /// <summary>The value, or "" when it is a placeholder for "not available" (blank, all '0', all '1', all 0xFF).</summary>
    internal static string Real(string? value)
    {
        var v = (value ?? "").Trim().Trim('\0');
        if (v.Length == 0)
            return "";
        // The codec renders non-printable bytes as hex: "0xFFFF..." for a field of 0xFF bytes.
        var body = v.StartsWith("0x", StringComparison.Ordinal) ? v[2..] : v;
        if (body.Length == 0)
            return "";
        if (body.AsSpan().IndexOfAnyExcept('0') < 0 || body.AsSpan().IndexOfAnyExcept('1') < 0 ||
            (v.Length > 2 && v.StartsWith("0x", StringComparison.Ordinal) && body.AsSpan().IndexOfAnyExcept('F', 'f') < 0) ||
            v.AsSpan().IndexOfAnyExcept('\u00FF', '\uFFFD') < 0)
            return "";
        return v;
    }

    public override Verdict EvaluateObd(ObdSnapshot obd, long second, bool engineRunning, bool episodeOpen)
    {
        var st = State;
        var cal = Real(obd.CalibrationId);
        var cvn = Real(obd.Cvn);
        var held = false;
        if (_o.CalibrationChange)
        {
            if (cal.Length > 0 && st.CalibrationId.Length > 0 && cal != st.CalibrationId)
            {
                (st.What, st.Before, st.After, held) = ("calibration ID", st.CalibrationId, cal, true);
            }
            else if (cvn.Length > 0 && st.Cvn.Length > 0 && cvn != st.Cvn)
            {
                (st.What, st.Before, st.After, held) = ("CVN", st.Cvn, cvn, true);
            }
        }
        if (_o.DtcsClearedWithReadinessReset && !held && st.DtcCount > 0 && obd.DtcCount == 0 && !obd.DtcCountInvalid)
        {
            var reset = (ushort)(obd.DiagnosticReadiness & ~st.Readiness & (obd.DiagnosticSupport == 0 ? 0xFFFF : obd.DiagnosticSupport));
            if (reset != 0)
            {
                (st.What, st.Before, st.After, held) = ("fault codes", "", "", true);
                st.ClearedCodes = st.DtcCount;
                st.ResetBits = reset;
            }
        }
        if (cal.Length > 0)
            st.CalibrationId = cal;
        if (cvn.Length > 0)
            st.Cvn = cvn;
        if (!obd.DtcCountInvalid) // a count marked invalid says nothing about the codes
            st.DtcCount = obd.DtcCount;
        st.Readiness = obd.DiagnosticReadiness;
        return held ? Verdict.Hold(Severity) : default;
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m)
    {
        if (State.What == "fault codes")
        {
            m["clearedFaultCodes"] = State.ClearedCodes;
            m["readinessBitsReset"] = State.ResetBits;
        }
        else
        {
            m["calibrationChanged"] = 1;
        }
    }

    public override string Describe() => State.What == "fault codes"
        ? string.Create(CultureInfo.InvariantCulture, $"{State.ClearedCodes} fault codes disappeared while readiness monitors were reset (bits 0x{State.ResetBits:X4} not complete): codes cleared.")
        : string.Create(CultureInfo.InvariantCulture, $"OBD {State.What} changed from \"{State.Before}\" to \"{State.After}\".");
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
