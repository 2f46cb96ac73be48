using System.Collections.Immutable;
using System.Globalization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Rules;

/// <summary>
/// R9 signature: a sample whose record's SM2 signature did not verify against the terminal's
/// registered public key (<see cref="SignatureCheck.Failed"/>) is data of doubtful origin: forged,
/// altered on the way, or sent by another terminal than the registered one. Samples without a key
/// (<see cref="SignatureCheck.NoKey"/>) or from unsigned terminals never raise it.
/// </summary>
internal sealed class R9SignatureFailures : Rule<R9SignatureFailures.RuleData>
{
    private readonly DataQualityOptions _o;

    public R9SignatureFailures(DataQualityOptions o)
        : base("R9.signature", "Data quality: signature failures", FieldMask.None, AlertSeverity.Warning)
    {
        _o = o;
        Thresholds = Dict(("signatureFailures", 1));
        Init();
    }

    /// <summary>R9 signature state: failed samples of the current (or last) episode.</summary>
    [GenerateSerializer, Alias("detection.R9.signature.v1")]
    internal sealed class RuleData : RuleState
    {
        [Id(0)] public long Failed { get; set; }

        internal override RuleState Copy() => (RuleData)MemberwiseClone();
    }

    public override bool Enabled => _o.Enabled;

    protected override RuleData NewState() => new();

    public override Verdict Evaluate(in Sample s, in SampleContext c, bool episodeOpen)
    {
        if (s.Signature != SignatureCheck.Failed)
            return default;
        var st = State;
        if (!episodeOpen)
            st.Failed = 0; // counted per episode
        st.Failed++;
        return Verdict.Hold(Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["signatureFailures"] = State.Failed;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{State.Failed} samples came in records whose SM2 signature did not verify with the terminal's registered public key.");
}
