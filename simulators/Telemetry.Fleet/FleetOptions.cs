namespace Telemetry.Fleet;

/// <summary>A simulated fleet and the broker it publishes to.</summary>
public sealed class FleetOptions
{
    public const string Section = "Telemetry:Simulation";

    /// <summary>Number of simulated trucks; 0 disables the in-process simulation of the silo.</summary>
    public int Trucks { get; set; }

    /// <summary>Frame format and topic suffix: <c>gb17691</c> (one frame a second), <c>hj1239</c> (ten records every 10 s) or <c>json</c>.</summary>
    public string Format { get; set; } = "gb17691";

    /// <summary>Share of trucks (0-1) whose NOx control fails (R1 exceedance injected), at least one when there are trucks.</summary>
    public double ExceedanceShare { get; set; } = 0.05;

    /// <summary>
    /// Minutes of driving each truck has already done when the simulation starts. Terminals re-issue
    /// data they stored (command 0x03), so this history arrives first and rules evaluated on sample
    /// time find exceedances within seconds.
    /// </summary>
    public int HistoryMinutes { get; set; } = 20;

    /// <summary>First VIN index, so several simulators can run side by side without sharing VINs.</summary>
    public int FirstIndex { get; set; }

    /// <summary>Seed of the deterministic truck models.</summary>
    public int Seed { get; set; } = 17691;

    /// <summary>Broker host.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Broker port.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>Topic prefix.</summary>
    public string TopicPrefix { get; set; } = "hdv";

    /// <summary>
    /// User name of the fleet's one connection; null: anonymous. A silo's embedded broker takes many VINs on one
    /// connection from <c>@operator</c> with an admin API key as <see cref="Password"/>.
    /// </summary>
    public string? Username { get; set; }

    /// <summary>Password of the fleet's one connection.</summary>
    public string? Password { get; set; }

    /// <summary>Returns one sentence per invalid setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (Trucks is < 0 or > 1_000_000)
        {
            yield return $"{Section}:Trucks {Trucks} must be between 0 and 1000000 (command line: --simulate N).";
        }
        if (!FleetFormats.IsKnown(Format))
        {
            yield return $"{Section}:Format '{Format}' must be gb17691, hj1239 or json.";
        }
        if (ExceedanceShare is < 0 or > 1 || double.IsNaN(ExceedanceShare))
        {
            yield return $"{Section}:ExceedanceShare {ExceedanceShare} must be between 0 and 1.";
        }
        if (HistoryMinutes is < 0 or > 24 * 60)
        {
            yield return $"{Section}:HistoryMinutes {HistoryMinutes} must be between 0 and 1440.";
        }
        if (Port is < 1 or > 65535)
        {
            yield return $"{Section}:Port {Port} is not a TCP port (1-65535).";
        }
        if (FirstIndex < 0)
        {
            yield return $"{Section}:FirstIndex {FirstIndex} must not be negative.";
        }
    }
}

/// <summary>The formats the simulator can publish.</summary>
public static class FleetFormats
{
    public const string Gb17691 = "gb17691";
    public const string Hj1239 = "hj1239";
    /// <summary>The signed-records layout, with placeholder signatures (simulated terminals have no keys).</summary>
    public const string SignedRecords = "signedRecords";
    public const string Json = "json";

    /// <summary>True for a format the simulator can publish.</summary>
    public static bool IsKnown(string format) => format is Gb17691 or Hj1239 or SignedRecords or Json;
}
