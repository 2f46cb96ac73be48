using Telemetry.Abstractions;

namespace Telemetry.Detection;

/// <summary>
/// Everything a <see cref="VehicleDetector"/> needs to continue after a restart: the covered sample
/// seconds (dedup), the open episodes, the rule windows and the offline-detection facts (last arrival,
/// last engine state, cadence). Compact: a few hundred bytes plus the open episodes' evidence.
/// </summary>
[GenerateSerializer]
public sealed class DetectorState
{
    /// <summary>Format version of this state.</summary>
    [Id(0)] public int Version { get; set; } = 1;
    [Id(1)] public string Vin { get; set; } = "";
    /// <summary>Covered sample seconds as (start, end) pairs of Unix seconds, inclusive.</summary>
    [Id(2)] public long[] Covered { get; set; } = [];
    /// <summary>Seconds before this are no longer remembered (Unix seconds).</summary>
    [Id(3)] public long ForgottenBefore { get; set; } = long.MinValue;
    [Id(4)] public EvaluatorState? Live { get; set; }
    [Id(5)] public EvaluatorState? Backfill { get; set; }
    /// <summary>Episode periods per rule as (rule index, start, end) triples, for late-data overlap checks.</summary>
    [Id(6)] public long[] Ledger { get; set; } = [];
    [Id(7)] public DateTime LastArrivalUtc { get; set; }
    [Id(8)] public DateTime BackfillArrivalUtc { get; set; }
    [Id(9)] public bool LoggedOut { get; set; }
    [Id(10)] public double CadenceSeconds { get; set; }
    [Id(11)] public double LastSpeedKmh { get; set; } = double.NaN;
    /// <summary>Arrival seconds of recent check-code failures.</summary>
    [Id(12)] public long[] CheckCodeFailures { get; set; } = [];
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
    /// <summary>Rule windows and accumulators, in rule order.</summary>
    [Id(7)] public double[] RuleNumbers { get; set; } = [];
    [Id(8)] public string[] RuleTexts { get; set; } = [];
    [Id(9)] public EpisodeState[] Episodes { get; set; } = [];
}

/// <summary>An open episode and its bookkeeping.</summary>
[GenerateSerializer]
public sealed record class EpisodeState(
    [property: Id(0)] string RuleId,
    [property: Id(1)] Alert Alert,
    [property: Id(2)] long LastHeldSecond,
    [property: Id(3)] long LastEmittedSecond,
    [property: Id(4)] AlertSeverity Severity);
