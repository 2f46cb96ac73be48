using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>The rule instances of one timeline, in evaluation order (R3 before R4, which reads it).</summary>
internal sealed class RuleSet
{
    public const string ZoneRuleId = "Z";

    /// <summary>Fields the emission validity gate reads.</summary>
    public const FieldMask GateFields = FieldMask.EngineSpeedRpm | FieldMask.CoolantTempC | FieldMask.ScrInletTempC;

    // The rules that read samples, enabled ones only (null when disabled), called directly in the order of All.
    private readonly NoxConcentrationRule? _r1;
    private readonly SpecificNoxRule? _r2;
    private readonly ScrEfficiencyRule? _r3;
    private readonly UreaTamperingRule? _r4;
    private readonly NoxSensorRule? _r5;
    private readonly DpfRemovedRule? _r6;
    private readonly MilDrivingRule? _r7;
    private readonly PositionInvalidRule? _position;
    private readonly PositionJumpRule? _jump;
    private readonly InvalidFieldsRule? _fields;
    private readonly RestrictedZoneRule? _zone;
    private readonly SignatureRule? _signature;

    private RuleSet(Rule[] all, EventRule offline, EventRule clock, EventRule checkCode, EventRule removal)
    {
        All = all;
        Offline = offline;
        Clock = clock;
        CheckCode = checkCode;
        Removal = removal;
        for (var i = 0; i < all.Length; i++)
        {
            var r = all[i];
            r.Index = i;
            if (!r.Enabled || !r.UsesSamples)
                continue;
            switch (r)
            {
                case NoxConcentrationRule x: _r1 = x; break;
                case SpecificNoxRule x: _r2 = x; break;
                case ScrEfficiencyRule x: _r3 = x; break;
                case UreaTamperingRule x: _r4 = x; break;
                case NoxSensorRule x: _r5 = x; break;
                case DpfRemovedRule x: _r6 = x; break;
                case MilDrivingRule x: _r7 = x; break;
                case PositionInvalidRule x: _position = x; break;
                case PositionJumpRule x: _jump = x; break;
                case InvalidFieldsRule x: _fields = x; break;
                case RestrictedZoneRule x: _zone = x; break;
                case SignatureRule x: _signature = x; break;
                case ObdTamperingRule: break; // reads OBD records only
                default: throw new InvalidOperationException($"Rule {r.Id} reads samples but {nameof(OnSample)} does not call it.");
            }
        }
    }

    /// <summary>
    /// Runs every enabled rule that reads samples on one sample, in the order of <see cref="All"/>
    /// (R3 before R4, which reads it). Direct calls: no virtual dispatch per rule and sample.
    /// </summary>
    public void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        _r1?.OnSample(s, c, e);
        _r2?.OnSample(s, c, e);
        _r3?.OnSample(s, c, e);
        _r4?.OnSample(s, c, e);
        _r5?.OnSample(s, c, e);
        _r6?.OnSample(s, c, e);
        _r7?.OnSample(s, c, e);
        _position?.OnSample(s, c, e);
        _jump?.OnSample(s, c, e);
        _fields?.OnSample(s, c, e);
        _zone?.OnSample(s, c, e);
        _signature?.OnSample(s, c, e);
    }

    public Rule[] All { get; }
    public EventRule Offline { get; }
    public EventRule Clock { get; }
    public EventRule CheckCode { get; }
    public EventRule Removal { get; }

    public Rule? Find(string id) => Array.Find(All, r => r.Id == id);

    public static RuleSet Create(DetectionOptions o)
    {
        var r3 = new ScrEfficiencyRule(o.R3);
        var q = o.R9;
        var offline = new EventRule("R9.offline", "Data quality: terminal offline", AlertSeverity.Warning, q.Enabled,
            EventRule.Thr(("offlineCadenceFactor", q.OfflineCadenceFactor), ("offlineMinSilenceSeconds", q.OfflineMinSilenceSeconds)),
            r => FormattableString.Invariant($"No frame for {r.Value("silenceSeconds"):F0} s (expected every {r.Value("expectedCadenceSeconds"):F0} s) while the engine was running at {r.Value("lastSpeedKmh"):F0} km/h: terminal silent while driving."));
        var clock = new EventRule("R9.clock", "Data quality: clock skew", AlertSeverity.Advisory, q.Enabled,
            EventRule.Thr(("maxClockSkewSeconds", q.MaxClockSkewSeconds)),
            r => FormattableString.Invariant($"Terminal clock differs from arrival time by {r.Value("clockSkewSeconds"):F0} s (limit {q.MaxClockSkewSeconds:F0} s)."));
        var checkCode = new EventRule("R9.checkcode", "Data quality: check-code failures", AlertSeverity.Advisory, q.Enabled,
            EventRule.Thr(("minCheckCodeFailures", q.MinCheckCodeFailures), ("windowMinutes", q.CheckCodeWindowMinutes)),
            r => FormattableString.Invariant($"{r.Value("checkCodeFailures"):F0} frames failed their check code within {q.CheckCodeWindowMinutes:F0} min."));
        var removal = new EventRule("R9.removal", "Data quality: terminal removal alarm", AlertSeverity.Critical, q.Enabled && q.RemovalAlarm,
            EventRule.Thr(("removalAlarm", 1)),
            _ => "The terminal raised a removal (anti-tamper) alarm.");
        Rule[] all =
        [
            new NoxConcentrationRule(o.R1, o.Gate),
            new SpecificNoxRule(o.R2, o.Physics, o.Episodes),
            r3,
            new UreaTamperingRule(o.R4, r3, o.Episodes),
            new NoxSensorRule(o.R5),
            new DpfRemovedRule(o.R6),
            new MilDrivingRule(o.R7),
            new ObdTamperingRule(o.R8),
            offline,
            new PositionInvalidRule(q),
            new PositionJumpRule(q),
            clock,
            new InvalidFieldsRule(q, o.Gate),
            checkCode,
            removal,
            new RestrictedZoneRule(o.Zones),
            new SignatureRule(q),
        ];
        return new RuleSet(all, offline, clock, checkCode, removal);
    }
}
