namespace Telemetry.Detection;

/// <summary>What one batch did to the vehicle's sample timeline.</summary>
/// <param name="Accepted">New samples (appended to the accepted list for storage).</param>
/// <param name="Duplicates">Samples whose sample time was already seen: dropped, never counted twice.</param>
/// <param name="Late">Accepted samples older than the newest evaluated one (out of order or re-issued), evaluated on a separate timeline.</param>
/// <param name="Reissued">Accepted samples of a re-issue frame (0x03).</param>
/// <param name="TooOld">Accepted samples older than the dedup memory: stored (storage overwrites by time) but not evaluated.</param>
/// <param name="Rejected">Samples with an implausible time (far in the future or unset): neither stored nor evaluated.</param>
public readonly record struct BatchResult(int Accepted, int Duplicates, int Late = 0, int Reissued = 0, int TooOld = 0, int Rejected = 0);

/// <summary>Whether a rule runs for this vehicle, and if not, why.</summary>
/// <param name="RuleId">Rule identifier (R1 ... R9.x, Z).</param>
/// <param name="Name">Human name of the rule.</param>
/// <param name="Active">True when the rule has what it needs; false when it stays silent.</param>
/// <param name="MissingFields">Canonical names of the missing inputs (sample fields, <c>obd</c>, <c>referenceTorqueNm</c>).</param>
/// <param name="EpisodeOpen">True when an episode of this rule is open.</param>
/// <param name="Note">Why the rule is silent beyond missing fields (disabled, no data yet), or null.</param>
[GenerateSerializer, Immutable]
public sealed record RuleStatus(
    [property: Id(0)] string RuleId,
    [property: Id(1)] string Name,
    [property: Id(2)] bool Active,
    [property: Id(3)] IReadOnlyList<string> MissingFields,
    [property: Id(4)] bool EpisodeOpen,
    [property: Id(5)] string? Note = null);
