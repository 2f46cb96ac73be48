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
