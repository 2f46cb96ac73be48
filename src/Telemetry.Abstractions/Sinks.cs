namespace Telemetry.Abstractions;

/// <summary>
/// The series a vehicle's samples go to: its VIN, and its fleet and region from the registry as tags
/// (so dashboards can filter by them; they depend on the VIN, so they add no series).
/// </summary>
public readonly record struct SeriesKey(string Vin, string? Fleet = null, string? Region = null)
{
    /// <summary>The series of <paramref name="vin"/> with the registry's fleet and region, when known.</summary>
    public static SeriesKey For(string vin, VehicleInfo? vehicle) => new(vin, vehicle?.Fleet, vehicle?.Region);

    /// <summary>A series tagged with the VIN only.</summary>
    public static SeriesKey FromString(string vin) => new(vin);

    /// <summary>A series tagged with the VIN only.</summary>
    public static implicit operator SeriesKey(string vin) => new(vin);
}

/// <summary>Where every accepted sample and every alert change goes as time series.</summary>
public interface ITimeSeriesSink
{
    /// <summary>Writes samples of one vehicle. Writing the same VIN and sample time again overwrites, never duplicates.</summary>
    ValueTask WriteSamplesAsync(SeriesKey series, IReadOnlyList<Sample> samples, CancellationToken cancellationToken = default);

    /// <summary>Writes one alert change as a point at the episode's start time.</summary>
    ValueTask WriteAlertAsync(Alert alert, CancellationToken cancellationToken = default);
}

/// <summary>Filter for alert queries.</summary>
public sealed record class AlertQuery
{
    public string? Vin { get; init; }
    /// <summary>A rule id (<c>R9.offline</c>) or a rule family (<c>R9</c> matches every <c>R9.*</c>).</summary>
    public string? RuleId { get; init; }
    public AlertStatus? Status { get; init; }
    /// <summary>Restricts to these fleets; null means every fleet (enforcement).</summary>
    public IReadOnlySet<string>? Fleets { get; init; }
    public DateTime? SinceUtc { get; init; }
    public int Limit { get; init; } = 100;

    /// <summary>True when <paramref name="ruleId"/> is <paramref name="wanted"/> or one of its sub-rules.</summary>
    public static bool MatchesRule(string ruleId, string wanted) =>
        ruleId.StartsWith(wanted, StringComparison.OrdinalIgnoreCase)
        && (ruleId.Length == wanted.Length || ruleId[wanted.Length] == '.');
}

/// <summary>The durable record of alert episodes: the evidence.</summary>
public interface IAlertStore
{
    /// <summary>Inserts or replaces the episode with the same id (a lower revision never replaces a higher one).</summary>
    ValueTask UpsertAsync(Alert alert, CancellationToken cancellationToken = default);

    /// <summary>One episode by id, or null.</summary>
    ValueTask<Alert?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Episodes matching the query, newest start first.</summary>
    ValueTask<IReadOnlyList<Alert>> QueryAsync(AlertQuery query, CancellationToken cancellationToken = default);
}

/// <summary>Vehicle reference data, updatable at run time.</summary>
public interface IVehicleRegistry
{
    /// <summary>The vehicle's reference data, or null when it is not registered.</summary>
    VehicleInfo? Find(string vin);

    /// <summary>Every registered vehicle (empty when the registry cannot list them).</summary>
    IReadOnlyCollection<VehicleInfo> All => [];

    /// <summary>True when only registered vehicles may send data (<c>Telemetry:ReferenceData:RequireRegistered</c>).</summary>
    bool RequireRegistered => false;

    /// <summary>
    /// True when the registry is a file (<c>Telemetry:ReferenceData:RegistryPath</c>): that file is changed to change
    /// it, and imports into the database's registry are refused rather than silently not in force.
    /// </summary>
    bool IsFile => false;

    /// <summary>Reloads from the source now when it changed (after an import, so the next answer reflects it).</summary>
    Task ReloadAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
