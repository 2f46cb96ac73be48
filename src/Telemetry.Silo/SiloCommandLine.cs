using System.CommandLine;

namespace Telemetry.Silo;

/// <summary>
/// The silo's command line: <c>--help</c> lists the short switches and how every setting can be given;
/// <c>--log-format json</c> switches the console log to JSON lines. Everything else is passed on to the
/// host's configuration unchanged (<c>--Telemetry:Mqtt:Port=1884</c>, <c>--simulate 200</c>, ...).
/// </summary>
public static class SiloCommandLine
{
    /// <summary>
    /// Handles <c>--help</c> and <c>--version</c> (prints and returns exit code 0) and malformed short switches (prints and returns 2);
    /// otherwise returns null and the arguments for the host, with <c>--log-format</c> turned into its setting.
    /// </summary>
    public static int? Handle(ref string[] args, TextWriter? output = null)
    {
        var root = Build();
        var result = root.Parse(args);
        var help = args.FirstOrDefault(a => a is "--help" or "-h" or "-?" or "/?" or "--version");
        if (help is not null || result.Errors.Count > 0)
        {
            var configuration = new InvocationConfiguration { Output = output ?? Console.Out, Error = output ?? Console.Error };
            if (help is not null)
            {
                root.Parse([help]).Invoke(configuration);
                return 0;
            }
            foreach (var error in result.Errors)
            {
                configuration.Error.WriteLine(error.Message);
            }
            configuration.Error.WriteLine("Try --help.");
            return 2;
        }

        if (result.GetValue(LogFormat) is { Length: > 0 } format)
        {
            var rest = new List<string>();
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] == "--log-format")
                {
                    i++;
                    continue;
                }
                if (!args[i].StartsWith("--log-format=", StringComparison.Ordinal))
                {
                    rest.Add(args[i]);
                }
            }
            rest.Add($"--Logging:Console:FormatterName={(format == "json" ? "json" : "simple")}");
            args = [.. rest];
        }
        return null;
    }

    private static readonly Option<string> LogFormat = new("--log-format")
    {
        Description = "Console log format: simple (default) or json (one JSON object a line, with scopes and event ids). Same as --Logging:Console:FormatterName=json.",
    };

    private static RootCommand Build()
    {
        LogFormat.AcceptOnlyFromAmong("simple", "json");
        var root = new RootCommand(
            "Heavy-duty diesel emissions monitoring silo: MQTT ingest, a grain per vehicle running the detection rules, " +
            "the journal and its shipper to the time-series store, the alert store and the HTTP API.\n\n" +
            "Every setting can also be given as --Section:Key=value (for example --Telemetry:Mqtt:Port=1884), as an " +
            "environment variable (Telemetry__Mqtt__Port=1884) or in appsettings.json; the README lists them with their defaults.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        root.Options.Add(new Option<int>("--simulate") { Description = "Simulated trucks in this process (Telemetry:Simulation:Trucks)." });
        root.Options.Add(new Option<string>("--format") { Description = "Frame format of the simulated trucks: gb17691, hj1239 or json (Telemetry:Simulation:Format)." });
        root.Options.Add(new Option<string>("--influx") { Description = "InfluxDB 2.x or VictoriaMetrics base URL to ship to (Telemetry:TimeSeries:InfluxUrl); without it, line-protocol files." });
        root.Options.Add(new Option<string>("--broker") { Description = "Broker mode: Embedded (default) or External (Telemetry:Mqtt:Mode); the address is Telemetry:Mqtt:Host/Port." });
        root.Options.Add(new Option<string>("--urls") { Description = "HTTP API address (Urls), default http://127.0.0.1:5080." });
        root.Options.Add(LogFormat);
        return root;
    }
}
