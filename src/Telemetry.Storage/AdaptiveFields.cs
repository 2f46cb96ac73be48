using Telemetry.Abstractions;

namespace Telemetry.Storage;

/// <summary>
/// The split of the <c>adaptive</c> storage policy: the core fields that the rules and the regulation
/// read are stored for every sample; the others as 1-minute aggregates, and in full around alert episodes.
/// </summary>
public static class AdaptiveFields
{
    /// <summary>
    /// Fields stored for every sample under the <c>adaptive</c> policy (with <c>positionValid</c> and
    /// <c>positionStatus</c>): what the rules read, and the odometer for distances (g/km, MIL-on distance).
    /// </summary>
    public static readonly IReadOnlySet<string> Core = new HashSet<string>(StringComparer.Ordinal)
    {
        "noxUpstreamPpm", "noxDownstreamPpm", "scrInletTempC", "scrOutletTempC", "reagentLevelPercent",
        "speedKmh", "engineSpeedRpm", "engineTorquePercent", "frictionTorquePercent", "fuelFlowLph",
        "intakeAirFlowKgph", "longitude", "latitude", "odometerKm",
    };

    /// <summary>Measurement of the 1-minute aggregates: fields <c>{name}_mean</c>, <c>{name}_min</c>, <c>{name}_max</c> and <c>samples</c>.</summary>
    public const string AggregateMeasurement = "hdv_1m";

    /// <summary>
    /// Measurement under which the journal keeps the non-core fields of each sample until the detail
    /// shipper decides; it is never sent under this name (those lines go out as <c>hdv</c>, or not at all).
    /// </summary>
    internal const string DetailMeasurement = "hdv_detail";

    /// <summary>For each field of <see cref="SampleFields.All"/>: true when it is core.</summary>
    internal static readonly bool[] IsCore = [.. SampleFields.All.Select(f => Core.Contains(f.Name))];

    /// <summary>For each field of <see cref="SampleFields.All"/>: true when it is not core.</summary>
    internal static readonly bool[] IsDetail = [.. IsCore.Select(core => !core)];

    /// <summary>Indexes into <see cref="SampleFields.All"/> of the fields that are not core.</summary>
    internal static readonly int[] DetailIndexes = [.. Enumerable.Range(0, IsCore.Length).Where(i => !IsCore[i])];
}
