using System.Globalization;

namespace Telemetry.Fleet.Load;

/// <summary>What a load run offers, where it sends it and which targets it must meet.</summary>
public sealed class LoadOptions
{
    /// <summary>Number of simulated vehicles.</summary>
    public int Vehicles { get; set; } = 1000;

    /// <summary>How long the live schedule runs (after the re-issue window).</summary>
    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Broker host.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Broker port.</summary>
    public int Port { get; set; } = 1883;

    /// <summary><c>hj1239</c>, <c>gb17691</c> or <c>json</c>.</summary>
    public string Format { get; set; } = FleetFormats.Hj1239;

    /// <summary>
    /// Frames per second the whole fleet offers while live; null: the format's cadence (hj1239 and json:
    /// vehicles / 10, a frame of ten 1-Hz records every 10 s; gb17691: vehicles, a frame a second). Each
    /// vehicle then sends a frame every vehicles / rate seconds holding that many records, which must be
    /// a whole number from 1 to 10.
    /// </summary>
    public double? Rate { get; set; }

    /// <summary>MQTT connections the vehicles are multiplexed over.</summary>
    public int Connections { get; set; } = 4;

    /// <summary>QoS of the publishes: 0 or 1.</summary>
    public int Qos { get; set; } = 1;

    /// <summary>QoS 1 publishes in flight per connection at most (unacknowledged).</summary>
    public int MaxInFlight { get; set; } = 10_000;

    /// <summary>Base URL of the TSDB (VictoriaMetrics) to verify every sample in; null: no verification.</summary>
    public Uri? TsdbUrl { get; set; }

    /// <summary>
    /// User name of the generator's connections; null: anonymous. A silo's embedded broker takes many VINs on one
    /// connection from <c>@operator</c> with an admin API key as <see cref="Password"/>.
    /// </summary>
    public string? Username { get; set; }

    /// <summary>Password of the generator's connections.</summary>
    public string? Password { get; set; }

    /// <summary>
    /// Each vehicle's MQTT secret by VIN; when set, every vehicle publishes over its own connection with its
    /// VIN as user name and its secret as password, as a terminal does (<see cref="Connections"/> is then the
    /// number of vehicles). Read from a file with <see cref="ReadDeviceSecrets"/>.
    /// </summary>
    public IReadOnlyDictionary<string, string>? DeviceSecrets { get; set; }

    /// <summary>True when every vehicle has a connection of its own (<see cref="DeviceSecrets"/>).</summary>
    public bool PerDeviceConnections => DeviceSecrets is not null;

    /// <summary>Connections the generator opens: one per vehicle with <see cref="DeviceSecrets"/>, else <see cref="Connections"/>.</summary>
    public int ConnectionCount => PerDeviceConnections ? Vehicles : Connections;

    /// <summary>
    /// Reads <c>VIN,secret</c> lines (what <c>telemetry-cli devices add-many --out</c> writes; blank lines and
    /// lines starting with <c>#</c> are skipped). Throws <see cref="InvalidDataException"/> naming the line
    /// that is not of that form.
    /// </summary>
    public static Dictionary<string, string> ReadDeviceSecrets(string path)
    {
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
        var number = 0;
        foreach (var raw in File.ReadLines(path))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
                continue;
            var comma = line.IndexOf(',', StringComparison.Ordinal);
            if (comma <= 0 || comma == line.Length - 1)
                throw new InvalidDataException($"{path}, line {number}: expected VIN,secret.");
            secrets[line[..comma].Trim()] = line[(comma + 1)..].Trim();
        }
        return secrets;
    }

    /// <summary>Base URL of the silo's HTTP API (alert stream, <c>/metrics</c>); null: nothing read from the silo.</summary>
    public Uri? ApiUrl { get; set; }

    /// <summary>API key for the alert stream (the silo's <c>data/keys/admin.key</c> or any key); null: none sent.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Process id of the silo when it runs on this machine, for CPU and memory from /proc.</summary>
    public int? SiloPid { get; set; }

    /// <summary>Further processes on this machine to watch in /proc (for example broker and TSDB), by name.</summary>
    public IDictionary<string, int> WatchPids { get; } = new Dictionary<string, int>(StringComparer.Ordinal);

    /// <summary>Share of vehicles (0-1) with a NOx control failure injected (ground truth: R1); at least one when above 0.</summary>
    public double FaultShare { get; set; } = 0.02;

    /// <summary>
    /// Share of the clean vehicles (0-1) that switch the ignition off once during the live schedule: they pull over,
    /// stop the engine, send nothing for <see cref="ParkedMinutes"/> and start again with a key-on. Only in runs
    /// long enough to hold the stop, the park and two minutes of driving either side.
    /// </summary>
    public double ParkedShare { get; set; } = 0.1;

    /// <summary>Minutes an ignition-off lasts (see <see cref="ParkedShare"/>).</summary>
    public int ParkedMinutes { get; set; } = 3;

    /// <summary>Minutes of stored driving the faulty vehicles re-issue (command 0x03) before they go live.</summary>
    public int HistoryMinutes { get; set; } = 30;

    /// <summary>Every vehicle, not only the faulty ones, re-issues <see cref="HistoryMinutes"/> first.</summary>
    public bool HistoryForAll { get; set; }

    /// <summary>Seconds over which the re-issued history is spread, before the live schedule starts.</summary>
    public int HistorySeconds { get; set; } = 10;

    /// <summary>Seed of the truck models.</summary>
    public int Seed { get; set; } = 17691;

    /// <summary>VIN prefix (up to 9 characters) so runs sharing a TSDB do not mix.</summary>
    public string VinPrefix { get; set; } = "LLOAD";

    /// <summary>Topic prefix.</summary>
    public string TopicPrefix { get; set; } = "hdv";

    /// <summary>Largest lag (offered - stored, in seconds of offered samples) at the end of the live schedule that still counts as keeping up.</summary>
    public double MaxLagSeconds { get; set; } = 10;

    /// <summary>How long to wait after the live schedule for the system to store what it was offered.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the live figures are sampled.</summary>
    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often the silo's <c>/metrics</c> is read while the offer runs (stored, lag, silo CPU without
    /// a PID). A read is not free for the system under test: Orleans' gauges walk every activation,
    /// 6 % of the silo's CPU at 100,000 vehicles when read every second. The end of the offer and the
    /// drain are always read.
    /// </summary>
    public TimeSpan ScrapeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Free text stored in the report (for example the commit measured).</summary>
    public string? Label { get; set; }

    /// <summary>Records per frame while live (and seconds between one vehicle's frames).</summary>
    public int RecordsPerFrame => Rate is { } r ? (int)Math.Round(Vehicles / r) : Format == FleetFormats.Gb17691 ? 1 : 10;

    /// <summary>Frames per second offered while live.</summary>
    public double FramesPerSecond => (double)Vehicles / RecordsPerFrame;

    /// <summary>Number of vehicles with an injected fault.</summary>
    public int FaultyVehicles => FaultShare <= 0 || Vehicles == 0 ? 0 : Math.Max(1, (int)Math.Round(Vehicles * FaultShare));

    /// <summary>Returns one sentence per invalid setting, naming its option.</summary>
    public IEnumerable<string> Validate()
    {
        if (Vehicles is < 1 or > 2_000_000)
            yield return $"--vehicles {Vehicles} must be from 1 to 2000000.";
        if (Duration <= TimeSpan.Zero || Duration > TimeSpan.FromDays(1))
            yield return $"--duration {Duration} must be above zero and at most a day.";
        if (!FleetFormats.IsKnown(Format))
            yield return $"--format '{Format}' must be hj1239, gb17691 or json.";
        if (Rate is { } rate)
        {
            var interval = Vehicles / rate;
            if (!double.IsFinite(interval) || Math.Abs(interval - Math.Round(interval)) > 1e-9 || Math.Round(interval) is < 1 or > 10)
                yield return string.Create(CultureInfo.InvariantCulture,
                    $"--rate {rate} gives {interval:0.###} s between one vehicle's frames (vehicles / rate); it must be a whole number of seconds from 1 to 10, each frame holding that many 1-Hz records.");
        }
        if (!PerDeviceConnections && (Connections < 1 || Connections > Math.Max(1, Vehicles)))
            yield return $"--connections {Connections} must be from 1 to the number of vehicles.";
        if (DeviceSecrets is { } secrets)
        {
            if (Username is not null || Password is not null)
                yield return "--device-secrets gives each vehicle its own credentials: leave out --username and --password.";
            var missing = Enumerable.Range(0, Math.Min(Vehicles, 2_000_000)).Select(i => Telemetry.Simulation.Vins.Make(i, VinPrefix))
                .Where(vin => !secrets.ContainsKey(vin)).ToList();
            if (missing.Count > 0)
                yield return $"--device-secrets has no secret for {missing.Count} of the {Vehicles} vehicles' VINs (the first: {missing[0]}); "
                    + $"list them with `simulator vins --vehicles {Vehicles} --vin-prefix {VinPrefix}` and issue them with `telemetry-cli devices add-many`.";
        }
        if (Qos is not (0 or 1))
            yield return $"--qos {Qos} must be 0 or 1.";
        if (ScrapeInterval < TimeSpan.Zero || ScrapeInterval > TimeSpan.FromMinutes(10))
            yield return $"--scrape-interval {ScrapeInterval} must be from 0 to 10 minutes.";
        if (MaxInFlight is < 1 or > 30_000)
            yield return $"--max-inflight {MaxInFlight} must be from 1 to 30000 (MQTT packet ids are 16 bits).";
        if (Port is < 1 or > 65535)
            yield return $"--broker port {Port} must be from 1 to 65535.";
        if (FaultShare is < 0 or > 1 || double.IsNaN(FaultShare))
            yield return $"--fault-share {FaultShare} must be from 0 to 1.";
        if (ParkedShare is < 0 or > 1 || double.IsNaN(ParkedShare))
            yield return $"--parked-share {ParkedShare} must be from 0 to 1.";
        if (ParkedMinutes is < 1 or > 24 * 60)
            yield return $"--parked-minutes {ParkedMinutes} must be from 1 to 1440.";
        if (HistoryMinutes is < 0 or > 24 * 60)
            yield return $"--history-minutes {HistoryMinutes} must be from 0 to 1440.";
        if (HistorySeconds is < 1 or > 3600)
            yield return $"--history-seconds {HistorySeconds} must be from 1 to 3600.";
        if (VinPrefix.Length is < 1 or > 9)
            yield return $"--vin-prefix '{VinPrefix}' must be 1 to 9 characters.";
        if (MaxLagSeconds <= 0)
            yield return $"--max-lag {MaxLagSeconds} must be above zero.";
        if (DrainTimeout < TimeSpan.Zero)
            yield return $"--drain-timeout {DrainTimeout} must not be negative.";
    }
}
