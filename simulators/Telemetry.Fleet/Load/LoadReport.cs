using System.Text.Json;
using System.Text.Json.Serialization;

namespace Telemetry.Fleet.Load;

/// <summary>The machine a run measured on.</summary>
public sealed record class MachineInfo(int Processors, string? CpuModel, long MemoryBytes, string Os);

/// <summary>The live figures at one moment of a run (cumulative counts since the start).</summary>
public sealed record class LoadSnapshot
{
    public double Seconds { get; init; }
    /// <summary><c>reissue</c>, <c>live</c> or <c>drain</c>.</summary>
    public string Phase { get; init; } = "";
    public long OfferedFrames { get; init; }
    public long OfferedSamples { get; init; }
    public long AckedFrames { get; init; }
    public long AckedSamples { get; init; }
    public int InFlight { get; init; }
    /// <summary>How far the generator is behind its schedule, seconds.</summary>
    public double GeneratorBehindSeconds { get; init; }
    /// <summary>Frames the silo decoded (its <c>/metrics</c>), since the run started.</summary>
    public long? SiloDecodedFrames { get; init; }
    /// <summary>Points the silo's time-series sink had accepted from the TSDB (its <c>/metrics</c>), since the run started.</summary>
    public long? StoredSamples { get; init; }
    /// <summary>Offered samples minus stored samples.</summary>
    public long? LagSamples { get; init; }
    public double? SiloCpuPercent { get; init; }
    public long? SiloRssBytes { get; init; }
    public double GeneratorCpuPercent { get; init; }
    /// <summary>CPU % (of one core) of each watched process since the previous snapshot.</summary>
    public IReadOnlyDictionary<string, double> ProcessCpuPercent { get; init; } = new Dictionary<string, double>();
}

/// <summary>Counts and rates of one stage.</summary>
public sealed record class FlowFigures(long Frames, long Samples, double FramesPerSecond, double SamplesPerSecond);

/// <summary>A latency distribution, milliseconds.</summary>
public sealed record class LatencyFigures(string Definition, long Count, double? P50Ms, double? P99Ms, double? P999Ms, double? MaxMs, int Unmatched);

/// <summary>Detection against the injected ground truth.</summary>
public sealed record class DetectionFigures(
    string Definition, bool Checked, int Injected, int Detected, int Missed, int FalsePositives, double? Precision, double? Recall,
    IReadOnlyList<string> MissedVins, IReadOnlyList<string> FalsePositiveVins, IReadOnlyDictionary<string, int> OpenedByRule);

/// <summary>CPU and memory of a process over the run.</summary>
public sealed record class ProcessFigures(string Name, int? Pid, string Source, double? CpuPercentMean, double? CpuPercentMax, long? RssBytesStart, long? RssBytesEnd, long? RssBytesMax);

/// <summary>One target and whether the run met it.</summary>
public sealed record class TargetCheck(string Name, bool Checked, bool Met, string Detail);

/// <summary>The JSON report of a load run.</summary>
public sealed record class LoadReport
{
    public string Tool { get; init; } = "Telemetry.Simulator load";
    public int SchemaVersion { get; init; } = 1;
    public string? Label { get; init; }
    public DateTime StartedUtc { get; init; }
    public required MachineInfo Machine { get; init; }
    public required IReadOnlyDictionary<string, object?> Settings { get; init; }
    /// <summary>Written to the sockets; <c>Live</c> is the live schedule only (rates over the live window).</summary>
    public required FlowFigures Offered { get; init; }
    public required FlowFigures OfferedLive { get; init; }
    public long ReissuedFrames { get; init; }
    public long ReissuedSamples { get; init; }
    /// <summary>Acknowledged by the broker (QoS 1 PUBACK); at QoS 0, equal to offered.</summary>
    public required FlowFigures Acknowledged { get; init; }
    /// <summary>Stored end to end, per the silo's storage counter: rate over the live window, and the count at the end of the drain.</summary>
    public double? StoredSamplesPerSecondLive { get; init; }
    public long? StoredSamplesAtEndOfOffer { get; init; }
    public long? StoredSamplesAfterDrain { get; init; }
    public double? DrainSeconds { get; init; }
    public TsdbVerification? Verified { get; init; }
    public long? LagSamplesAtEndOfOffer { get; init; }
    public double? LagSecondsAtEndOfOffer { get; init; }
    public long? LagSamplesMax { get; init; }
    /// <summary>Least-squares slope of the lag over the second half of the live window, samples per second; near 0 when the system keeps up.</summary>
    public double? LagGrowthSamplesPerSecond { get; init; }
    public required LatencyFigures AlertLatency { get; init; }
    public required LatencyFigures GeneratorLateness { get; init; }
    public required DetectionFigures Detection { get; init; }
    public double GeneratorCpuPercent { get; init; }
    public bool GeneratorBound { get; init; }
    public required IReadOnlyList<ProcessFigures> Processes { get; init; }
    public long? SiloRejected { get; init; }
    public IReadOnlyDictionary<string, double> SiloRejectedByReason { get; init; } = new Dictionary<string, double>();
    public long? SiloFailed { get; init; }
    public long? SiloReceived { get; init; }
    public long? SiloDecoded { get; init; }
    /// <summary>Growth of the silo's resident memory over the run divided by the vehicles.</summary>
    public double? SiloBytesPerVehicle { get; init; }
    /// <summary>The component that saturated first, when the run did not keep up, and why we think so.</summary>
    public string? Saturated { get; init; }
    public string? SaturationEvidence { get; init; }
    public required IReadOnlyList<TargetCheck> Targets { get; init; }
    public bool Passed { get; init; }
    public IReadOnlyList<string> Reasons { get; init; } = [];
    public required IReadOnlyDictionary<string, string> Definitions { get; init; }
    public required IReadOnlyList<LoadSnapshot> Timeline { get; init; }

    /// <summary>Indented JSON, camelCase.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
