using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Storage.Cases;

namespace Telemetry.Silo;

/// <summary>Files of vehicle reference data and low-emission zones.</summary>
public sealed class ReferenceDataOptions
{
    public const string Section = "Telemetry:ReferenceData";

    /// <summary>
    /// Vehicle registry file (JSON or CSV, see <see cref="VehicleRegistry"/>), which then is the registry; empty = the
    /// registry in the database (<c>telemetry-cli registry import</c>), empty until vehicles are imported: rules that
    /// need reference data stay silent for vehicles not registered. Besides fleet, region and reference torque an entry may name the
    /// terminal's protocol profile (<c>terminalProfile</c>) and SM2 public key (<c>terminalPublicKey</c>).
    /// </summary>
    public string RegistryPath { get; set; } = "";

    /// <summary>Low-emission zones (GeoJSON FeatureCollection); empty = no zones.</summary>
    public string ZonesPath { get; set; } = "";

    /// <summary>How often the registry file is checked for changes.</summary>
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Only vehicles in the registry (file or database) may send data: a frame of any other VIN is dead-lettered as
    /// <c>unregistered</c> without activating a grain.
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

/// <summary>Where the registry in force comes from.</summary>
public enum RegistrySource
{
    /// <summary>The relational database (<c>vehicles</c> table), managed with <c>telemetry-cli registry</c> or <c>PUT /api/registry</c>.</summary>
    Database = 0,

    /// <summary>The file <see cref="ReferenceDataOptions.RegistryPath"/>; the database's registry is not used.</summary>
    File = 1,
}

/// <summary>
/// The vehicle registry in force. When <see cref="ReferenceDataOptions.RegistryPath"/> names a file, that file is the
/// registry, reloaded when it changes; otherwise the registry is the database's (<see cref="SqlVehicleRegistryStore"/>),
/// reloaded when its version changes, so every silo on one PostgreSQL holds the same registry within one
/// <see cref="ReferenceDataOptions.ReloadInterval"/>. A source that cannot be read at start stops the silo; later, a
/// file that does not parse or a database that does not answer keeps the previous registry and is logged.
/// </summary>
public sealed partial class ReferenceVehicleRegistry(IOptions<ReferenceDataOptions> options, SqlVehicleRegistryStore database,
    ILogger<ReferenceVehicleRegistry> logger) : BackgroundService, IVehicleRegistry
{
    private readonly VehicleRegistry _current = new();
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private DateTime _loadedWriteTimeUtc;
    private long _loadedVersion = -1;

    public VehicleInfo? Find(string vin) => _current.Find(vin);

    /// <inheritdoc />
    public IReadOnlyCollection<VehicleInfo> All => _current.All;

    /// <inheritdoc />
    public bool RequireRegistered => options.Value.RequireRegistered;

    /// <summary>Where the registry comes from.</summary>
    public RegistrySource Source => string.IsNullOrEmpty(options.Value.RegistryPath) ? RegistrySource.Database : RegistrySource.File;

    /// <summary>Number of registered vehicles.</summary>
    public int Count => _current.Count;

    /// <inheritdoc />
    public bool IsFile => Source == RegistrySource.File;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await ReloadAsync(throwOnError: true, cancellationToken).ConfigureAwait(false);
        if (RequireRegistered && _current.Count == 0)
        {
            Log.RequireRegisteredEmpty(logger, Source.ToString());
        }
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reloads now when the source changed (after an import through the API, so the answer reflects it).</summary>
    public Task ReloadAsync(CancellationToken cancellationToken) => ReloadAsync(throwOnError: true, cancellationToken);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ReloadInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await ReloadAsync(throwOnError: false, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task ReloadAsync(bool throwOnError, CancellationToken cancellationToken)
    {
        await _reloading.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Source == RegistrySource.File)
                ReloadFile();
            else
                await ReloadDatabaseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!throwOnError && ex is not OperationCanceledException)
        {
            Log.ReloadFailed(logger, Where, ex);
        }
        finally
        {
            _reloading.Release();
        }
    }

    private string Where => Source == RegistrySource.File ? options.Value.RegistryPath : database.Database.Description;

    private void ReloadFile()
    {
        var path = options.Value.RegistryPath;
        var written = File.GetLastWriteTimeUtc(path);
        if (written == _loadedWriteTimeUtc)
        {
            return;
        }
        _current.Load(File.ReadAllText(path));
        _loadedWriteTimeUtc = written;
        Log.Loaded(logger, _current.Count, path);
    }

    private async Task ReloadDatabaseAsync(CancellationToken cancellationToken)
    {
        if (await database.VersionAsync(cancellationToken).ConfigureAwait(false) == _loadedVersion)
        {
            return;
        }
        var (version, vehicles) = await database.SnapshotAsync(cancellationToken).ConfigureAwait(false);
        _current.Load(vehicles);
        _loadedVersion = version;
        Log.Loaded(logger, _current.Count, Where);
    }

    public override void Dispose()
    {
        _reloading.Dispose();
        base.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Vehicle registry: {Count} vehicles from {Path}")]
        public static partial void Loaded(ILogger logger, int count, string path);

        [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Vehicle registry {Path} could not be reloaded; the previous one stays in force")]
        public static partial void ReloadFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(EventId = 1103, Level = LogLevel.Warning,
            Message = "Telemetry:ReferenceData:RequireRegistered is on and the registry ({Source}) is empty: every frame is refused as unregistered until vehicles are imported")]
        public static partial void RequireRegisteredEmpty(ILogger logger, string source);
    }
}
