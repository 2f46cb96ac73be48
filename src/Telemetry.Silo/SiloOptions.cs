namespace Telemetry.Silo;

/// <summary>How this silo joins its cluster.</summary>
public sealed class SiloOptions
{
    public const string Section = "Telemetry:Orleans";

    /// <summary><c>Localhost</c>: one silo, nothing to install; <c>Redis</c>: several silos sharing a Redis.</summary>
    public ClusteringMode Clustering { get; set; } = ClusteringMode.Localhost;

    /// <summary>Redis connection string for Redis clustering and grain state.</summary>
    public string RedisConnectionString { get; set; } = "";

    /// <summary>Silo-to-silo port.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Client gateway port.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Cluster id: silos with the same id form one cluster.</summary>
    public string ClusterId { get; set; } = "telemetry";

    /// <summary>Service id: stays the same across deployments, keys persisted state.</summary>
    public string ServiceId { get; set; } = "hdv";

    /// <summary>
    /// Where grain state (localhost clustering) and the vehicle index are kept; relative to the working
    /// directory.
    /// </summary>
    public string StateDirectory { get; set; } = "data/state";

    /// <summary>
    /// Address other silos and clients reach this silo at (Redis clustering); empty: 127.0.0.1, which
    /// only works with every silo on one host.
    /// </summary>
    public string AdvertisedAddress { get; set; } = "";

    /// <summary>
    /// The Orleans dashboard (silos, grain activations and calls, reminders, grain state, live log) at
    /// <c>/orleans/</c>, for the admin role only. Off by default: it profiles every grain call.
    /// </summary>
    public bool Dashboard { get; set; }

    /// <summary>
    /// A grain idle this long is deactivated (its state saved) and its memory freed. Silent vehicles
    /// whose clock matters are still advanced by the sweep, which reactivates them from saved state.
    /// </summary>
    public TimeSpan CollectionAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Returns one sentence per invalid setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (SiloPort is < 1 or > 65535)
        {
            yield return $"{Section}:SiloPort {SiloPort} is not a TCP port (1-65535).";
        }
        if (GatewayPort is < 1 or > 65535 || GatewayPort == SiloPort)
        {
            yield return $"{Section}:GatewayPort {GatewayPort} must be a TCP port (1-65535) other than SiloPort.";
        }
        if (Clustering == ClusteringMode.Redis && string.IsNullOrWhiteSpace(RedisConnectionString))
        {
            yield return $"{Section}:RedisConnectionString is required when {Section}:Clustering is Redis.";
        }
        if (string.IsNullOrWhiteSpace(StateDirectory))
        {
            yield return $"{Section}:StateDirectory must name a directory.";
        }
        if (!string.IsNullOrEmpty(AdvertisedAddress) && !System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            yield return $"{Section}:AdvertisedAddress '{AdvertisedAddress}' is not an IP address.";
        }
        if (CollectionAge < TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:CollectionAge {CollectionAge} must be at least one minute (Orleans' minimum).";
        }
        if (string.IsNullOrWhiteSpace(ClusterId) || string.IsNullOrWhiteSpace(ServiceId))
        {
            yield return $"{Section}:ClusterId and {Section}:ServiceId must not be empty.";
        }
    }
}

/// <summary>Orleans membership.</summary>
public enum ClusteringMode
{
    Localhost = 0,
    Redis = 1,
}
