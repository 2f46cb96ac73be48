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
internal sealed class SignatureRule : Rule
{
    private readonly DataQualityOptions _o;
    private long _failed;

    public SignatureRule(DataQualityOptions o)
        : base("R9.signature", "Data quality: signature failures", FieldMask.None, AlertSeverity.Warning)
    {
        _o = o;
        Thresholds = Dict(("signatureFailures", 1));
    }

    public override bool Enabled => _o.Enabled;

    public override void OnEpisodeOpened() => _failed = 0;

    public override void OnSample(in Sample s, in SampleContext c, Evaluator e)
    {
        if (s.Signature != SignatureCheck.Failed)
            return;
        _failed++;
        e.Hold(this, c.Second, Severity);
    }

    public override void Measure(ImmutableSortedDictionary<string, double>.Builder m) => m["signatureFailures"] = _failed;

    public override string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{_failed} samples came in records whose SM2 signature did not verify with the terminal's registered public key.");

    public override void Save(StateBag bag) => bag.Put(_failed);

    public override void Load(StateBag bag)
    {
        var n = bag.Number();
        _failed = double.IsNaN(n) ? 0 : (long)n;
    }
}
