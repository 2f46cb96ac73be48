using Telemetry.Abstractions;
using Telemetry.Detection.Rules;

namespace Telemetry.Detection;

/// <summary>
/// Everything a <see cref="VehicleDetector"/> needs to continue after a restart: the covered sample
/// seconds (dedup), the open episodes, every rule's typed state (windows included) and the
/// offline-detection facts (last arrival, last engine state, cadence). Members keep their ids across
/// releases; <see cref="Version"/> 1 (rule state as a positional list of numbers) still loads.
/// </summary>
[GenerateSerializer]
public sealed class DetectorState
{
    /// <summary>The schema version this release writes.</summary>
    public const int CurrentVersion = 2;

    /// <summary>Format version of this state: 1 = rule state in <see cref="EvaluatorState.RuleNumbers"/>, 2 = typed <see cref="EvaluatorState.RuleStates"/>.</summary>
    [Id(0)] public int Version { get; set; } = 1;
    [Id(1)] public string Vin { get; set; } = "";
    /// <summary>Covered sample seconds as (start, end) pairs of Unix seconds, inclusive.</summary>
    [Id(2)] public long[] Covered { get; set; } = [];
    /// <summary>Seconds before this are no longer remembered (Unix seconds).</summary>
    [Id(3)] public long ForgottenBefore { get; set; } = long.MinValue;
    [Id(4)] public EvaluatorState? Live { get; set; }
    [Id(5)] public EvaluatorState? Backfill { get; set; }
    /// <summary>Episode periods per rule as (rule index, start, end) triples, for late-data overlap checks; the index is into <see cref="LedgerRules"/>.</summary>
    [Id(6)] public long[] Ledger { get; set; } = [];
    [Id(7)] public DateTime LastArrivalUtc { get; set; }
    [Id(8)] public DateTime BackfillArrivalUtc { get; set; }
    [Id(9)] public bool LoggedOut { get; set; }
    [Id(10)] public double CadenceSeconds { get; set; }
    [Id(11)] public double LastSpeedKmh { get; set; } = double.NaN;
    /// <summary>Arrival seconds of recent check-code failures.</summary>
    [Id(12)] public long[] CheckCodeFailures { get; set; } = [];
    /// <summary>Rule ids by the index used in <see cref="Ledger"/> (version 2; version 1 used the fixed rule order of its release).</summary>
    [Id(13)] public string[] LedgerRules { get; set; } = [];
    /// <summary>Late (re-issued, out-of-order) samples not yet evaluated: they wait for their backlog to be complete.</summary>
    [Id(14)] public Sample[] PendingLate { get; set; } = [];
}

/// <summary>State of one evaluation timeline.</summary>
[GenerateSerializer]
public sealed class EvaluatorState
{
    [Id(0)] public long LastSecond { get; set; } = long.MinValue;
    [Id(1)] public bool LastRunning { get; set; }
    [Id(2)] public long EngineStartSecond { get; set; } = long.MinValue;
    [Id(3)] public long LastRunningSecond { get; set; } = long.MinValue;
    [Id(4)] public int EverPresent { get; set; }
    [Id(5)] public GeoFix? LastFix { get; set; }
    [Id(6)] public long LastObdSecond { get; set; } = long.MinValue;
    /// <summary>Version 1 only: rule windows and accumulators as numbers, in the rule order of that release.</summary>
    [Id(7)] public double[] RuleNumbers { get; set; } = [];
    /// <summary>Version 1 only: rule texts (calibration ID, CVN), in the same order.</summary>
    [Id(8)] public string[] RuleTexts { get; set; } = [];
    [Id(9)] public EpisodeState[] Episodes { get; set; } = [];
    /// <summary>Version 2: each rule's typed state, by rule id.</summary>
    [Id(10)] public RuleStateEntry[] RuleStates { get; set; } = [];
    /// <summary>Minute of the newest field-presence mask (rule status "missing fields").</summary>
    [Id(11)] public long MaskMinute { get; set; } = long.MinValue;
    /// <summary>Fields present per minute over the last ten minutes.</summary>
    [Id(12)] public int[] MinuteMasks { get; set; } = [];
    /// <summary>The last samples kept as evidence for the next episode, packed (68 bytes each), oldest first; empty in states saved before they were kept.</summary>
    [Id(13)] public byte[] EvidencePacked { get; set; } = [];
    /// <summary>The evidence samples that could not be packed (values off the terminals' grid), in the order of their entries.</summary>
    [Id(14)] public Sample[] EvidenceWhole { get; set; } = [];
}

/// <summary>One rule's saved state.</summary>
[GenerateSerializer]
public sealed record class RuleStateEntry(
    [property: Id(0)] string RuleId,
    [property: Id(1)] RuleState State);

/// <summary>An open episode and its bookkeeping.</summary>
[GenerateSerializer]
public sealed record class EpisodeState(
    [property: Id(0)] string RuleId,
    [property: Id(1)] Alert Alert,
    [property: Id(2)] long LastHeldSecond,
    [property: Id(3)] long LastEmittedSecond,
    [property: Id(4)] AlertSeverity Severity);
