using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Detection;

namespace Telemetry.Silo;

/// <summary>Files of vehicle reference data and low-emission zones.</summary>
public sealed class ReferenceDataOptions
{
    public const string Section = "Telemetry:ReferenceData";

    /// <summary>
    /// Vehicle registry (JSON or CSV, see <see cref="VehicleRegistry"/>); empty = no registry, rules that
    /// need reference data stay silent. Besides fleet, region and reference torque an entry may name the
    /// terminal's protocol profile (<c>terminalProfile</c>) and SM2 public key (<c>terminalPublicKey</c>).
    /// </summary>
    public string RegistryPath { get; set; } = "";

    /// <summary>Low-emission zones (GeoJSON FeatureCollection); empty = no zones.</summary>
    public string ZonesPath { get; set; } = "";

    /// <summary>How often the registry file is checked for changes.</summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Only vehicles in the registry may send data: a frame of any other VIN is dead-lettered as
    /// <c>unregistered</c> without activating a grain. Needs <see cref="RegistryPath"/>.
    /// </summary>
    public bool RequireRegistered { get; set; }

    /// <summary>Returns one sentence per invalid setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (!string.IsNullOrEmpty(RegistryPath) && !File.Exists(RegistryPath))
        {
            yield return $"{Section}:RegistryPath '{RegistryPath}' does not exist.";
        }
        if (!string.IsNullOrEmpty(ZonesPath) && !File.Exists(ZonesPath))
        {
            yield return $"{Section}:ZonesPath '{ZonesPath}' does not exist.";
        }
        if (RequireRegistered && string.IsNullOrEmpty(RegistryPath))
        {
            yield return $"{Section}:RequireRegistered needs {Section}:RegistryPath (no registry would refuse every vehicle).";
        }
        if (ReloadInterval < TimeSpan.FromSeconds(1))
        {
            yield return $"{Section}:ReloadInterval {ReloadInterval} must be at least one second.";
        }
    }
}

/// <summary>Reads the zones file once at start.</summary>
public static class ZoneFile
{
    /// <summary>The zones of <see cref="ReferenceDataOptions.ZonesPath"/>, or none.</summary>
    public static IZoneIndex Load(ReferenceDataOptions options) =>
        string.IsNullOrEmpty(options.ZonesPath) ? ZoneIndex.Empty : ZoneIndex.FromGeoJson(File.ReadAllText(options.ZonesPath));
}

/// <summary>
/// The vehicle registry loaded from <see cref="ReferenceDataOptions.RegistryPath"/> and reloaded
/// when the file changes; a file that does not parse keeps the previous registry and is logged.
/// </summary>
public sealed partial class FileVehicleRegistry(IOptions<ReferenceDataOptions> options, ILogger<FileVehicleRegistry> logger)
    : BackgroundService, IVehicleRegistry
{
    private readonly VehicleRegistry _current = new();
    private DateTime _loadedWriteTimeUtc;

    public VehicleInfo? Find(string vin) => _current.Find(vin);

    /// <inheritdoc />
    public IReadOnlyCollection<VehicleInfo> All => _current.All;

    /// <inheritdoc />
    public bool RequireRegistered => options.Value.RequireRegistered;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Reload(throwOnError: true);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (string.IsNullOrEmpty(options.Value.RegistryPath))
        {
            return;
        }
        using var timer = new PeriodicTimer(options.Value.ReloadInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            Reload(throwOnError: false);
        }
    }

    private void Reload(bool throwOnError)
    {
        var path = options.Value.RegistryPath;
        if (string.IsNullOrEmpty(path))
        {
            return;
        }
        try
        {
            var written = File.GetLastWriteTimeUtc(path);
            if (written == _loadedWriteTimeUtc)
            {
                return;
            }
            _current.Load(File.ReadAllText(path));
            _loadedWriteTimeUtc = written;
            Log.Loaded(logger, _current.Count, path);
        }
        catch (Exception ex) when (!throwOnError)
        {
            Log.ReloadFailed(logger, path, ex);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Vehicle registry: {Count} vehicles from {Path}")]
        public static partial void Loaded(ILogger logger, int count, string path);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Vehicle registry {Path} could not be reloaded; the previous one stays in force")]
        public static partial void ReloadFailed(ILogger logger, string path, Exception exception);
    }
}
