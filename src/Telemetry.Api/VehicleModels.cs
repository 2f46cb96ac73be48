using System.Collections.Immutable;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Grains;

namespace Telemetry.Api;

/// <summary>A vehicle as <c>GET /api/vehicles</c> lists it.</summary>
/// <param name="Vin">The VIN.</param>
/// <param name="Fleet">Fleet from the registry; null for a vehicle heard on the wire but not registered.</param>
/// <param name="Region">Region from the registry; null when not registered.</param>
/// <param name="EngineModel">Engine model from the registry.</param>
/// <param name="EmissionStage">Emission stage from the registry.</param>
/// <param name="Registered">True when the vehicle is in the registry.</param>
/// <param name="Online">True when a frame of it arrived in the last 5 minutes.</param>
/// <param name="LastReceivedUtc">Arrival time of its latest frame; null when never heard of.</param>
/// <param name="OpenAlerts">Open episodes in the alert database (within the caller's scope).</param>
public sealed record class VehicleListItem(
    string Vin, string? Fleet, string? Region, string? EngineModel, string? EmissionStage,
    bool Registered, bool Online, DateTime? LastReceivedUtc, int OpenAlerts);

/// <summary>An open episode as the vehicle's live state shows it (the full record, with evidence, is <c>GET /api/alerts/{id}</c>).</summary>
public sealed record class OpenEpisodeView(
    string Id, string RuleId, string RuleName, AlertSeverity Severity, string? Zone, DateTime StartUtc, DateTime LastHeldUtc,
    ImmutableSortedDictionary<string, double> Thresholds, ImmutableSortedDictionary<string, double> Measured, string Summary)
{
    internal static OpenEpisodeView From(Alert a) =>
        new(a.Id, a.RuleId, a.RuleName, a.Severity, a.Zone, a.StartUtc, a.LastHeldUtc, a.Thresholds, a.Measured, a.Summary);
}

/// <summary>
/// What <c>GET /api/vehicles/{vin}</c> answers: registry data, online or not, and what the vehicle's grain knows now
/// (its last sample, counters, open episodes, and which rules run or stay silent for lack of fields).
/// </summary>
public sealed record class VehicleDetail
{
    public required string Vin { get; init; }
    public string? Fleet { get; init; }
    public string? Region { get; init; }
    public string? EngineModel { get; init; }
    public string? EmissionStage { get; init; }
    /// <summary>True when the vehicle is in the registry.</summary>
    public bool Registered { get; init; }
    /// <summary>True when a frame arrived in the last 5 minutes.</summary>
    public bool Online { get; init; }
    /// <summary>Newest sample time evaluated; null before any data.</summary>
    public DateTime? LastSampleUtc { get; init; }
    /// <summary>Arrival time of the newest frame; null before any frame.</summary>
    public DateTime? LastReceivedUtc { get; init; }
    /// <summary>The newest sample (fields not sent are null).</summary>
    public Sample? LastSample { get; init; }
    public long SamplesAccepted { get; init; }
    public long DuplicatesDropped { get; init; }
    /// <summary>Ids of the open episodes (the same as <see cref="OpenEpisodes"/>).</summary>
    public IReadOnlyList<string> OpenAlertIds { get; init; } = [];
    /// <summary>The open episodes of the detector, without evidence.</summary>
    public IReadOnlyList<OpenEpisodeView> OpenEpisodes { get; init; } = [];
    /// <summary>Every rule: active, or silent with the inputs it lacks (or a note: disabled, no data yet).</summary>
    public IReadOnlyList<RuleStatus> Rules { get; init; } = [];

    /// <summary>A registered vehicle never heard of: registry data only (asking its grain would activate one).</summary>
    internal static VehicleDetail FromRegistry(VehicleInfo info) => new()
    {
        Vin = info.Vin,
        Fleet = info.Fleet,
        Region = info.Region,
        EngineModel = info.EngineModel,
        EmissionStage = info.EmissionStage,
        Registered = true,
    };

    internal static VehicleDetail From(VehicleStatus status, VehicleInfo? info, DateTime nowUtc) => new()
    {
        Vin = status.Vin,
        Fleet = info?.Fleet,
        Region = info?.Region,
        EngineModel = info?.EngineModel,
        EmissionStage = info?.EmissionStage,
        Registered = info is not null,
        Online = status.LastReceivedUtc is { } received && received >= nowUtc - VehicleIndex.OnlineWindow,
        LastSampleUtc = status.LastSampleUtc,
        LastReceivedUtc = status.LastReceivedUtc,
        LastSample = status.LastSample,
        SamplesAccepted = status.SamplesAccepted,
        DuplicatesDropped = status.DuplicatesDropped,
        OpenAlertIds = status.OpenAlertIds,
        OpenEpisodes = [.. status.OpenEpisodes.Select(OpenEpisodeView.From)],
        Rules = status.Rules,
    };
}
