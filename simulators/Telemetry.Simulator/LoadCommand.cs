using System.Text;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Telemetry.Fleet;
using Telemetry.Fleet.Load;

namespace Telemetry.Simulator;

/// <summary>
/// <c>load</c>: drives a fleet at an exact open-loop rate over pipelined connections, measures what
/// the system under test stored and alerted, writes a JSON report and exits 0 only when the run met
/// its targets. <c>tsdb-ceiling</c>: the TSDB's own ingest ceiling, for reference.
/// </summary>
public static class LoadCommand
{
    public static Command Create()
    {
        var vehicles = new Option<int>("--vehicles", "-n") { Description = "Number of vehicles.", Required = true };
        var duration = new Option<TimeSpan>("--duration", "-d") { Description = "Length of the live schedule, e.g. 00:01:30.", Required = true };
        var broker = new Option<string>("--broker", "-b") { Description = "Broker as host:port.", Required = true };
        var format = new Option<string>("--format", "-f") { Description = "hj1239 (10 records every 10 s), gb17691 (a frame a second), signedRecords (a frame a second, placeholder signatures) or json.", DefaultValueFactory = _ => FleetFormats.Hj1239 };
        var rate = new Option<double?>("--rate") { Description = "Frames per second offered while live (default: the format's cadence); vehicles / rate must be 1-10 s." };
        var connections = new Option<int>("--connections", "-c") { Description = "MQTT connections the vehicles are spread over.", DefaultValueFactory = _ => 4 };
        var qos = new Option<int>("--qos") { Description = "0 or 1 (pipelined, not awaited one by one).", DefaultValueFactory = _ => 1 };
        var maxInFlight = new Option<int>("--max-inflight") { Description = "Unacknowledged QoS 1 publishes per connection at most.", DefaultValueFactory = _ => 10_000 };
        var tsdb = new Option<string?>("--tsdb") { Description = "VictoriaMetrics base URL: verify every (VIN, second) is stored exactly once." };
        var api = new Option<string?>("--api") { Description = "Silo API base URL: alert stream (latency, detection) and /metrics (stored, rejected, CPU)." };
        var username = new Option<string?>("--username") { Description = "Broker user name of the generator's connections (a silo's embedded broker: @operator, with an admin API key as password)." };
        var password = new Option<string?>("--password") { Description = "Broker password, or @FILE to read it from a file (such as @data/keys/admin.key)." };
        var apiKey = new Option<string?>("--api-key") { Description = "API key for the alert stream, or @FILE to read it from a file (such as @data/keys/admin.key)." };
        var report = new Option<FileInfo?>("--report", "-r") { Description = "Write the JSON report to this file." };
        var siloPid = new Option<int?>("--silo-pid") { Description = "PID of a silo on this machine: CPU and memory from /proc." };
        var watch = new Option<string[]>("--watch-pid") { Description = "name=PID of another process on this machine to watch in /proc (repeatable), e.g. broker=123.", AllowMultipleArgumentsPerToken = false };
        var faultShare = new Option<double>("--fault-share") { Description = "Share of vehicles (0-1) with a NOx control failure injected (ground truth R1).", DefaultValueFactory = _ => 0.02 };
        var parkedShare = new Option<double>("--parked-share") { Description = "Share of the clean vehicles (0-1) that switch the ignition off once during the run (pull over, engine off, silent, key-on again).", DefaultValueFactory = _ => 0.1 };
        var parkedMinutes = new Option<int>("--parked-minutes") { Description = "Minutes an ignition-off lasts.", DefaultValueFactory = _ => 3 };
        var history = new Option<int>("--history-minutes") { Description = "Minutes of stored driving the faulty vehicles re-issue (0x03) first.", DefaultValueFactory = _ => 30 };
        var historyAll = new Option<bool>("--history-all") { Description = "Every vehicle re-issues its history first, not only the faulty ones." };
        var historySeconds = new Option<int>("--history-seconds") { Description = "Seconds over which the re-issued history is spread, before the live schedule.", DefaultValueFactory = _ => 10 };
        var seed = new Option<int>("--seed") { Description = "Seed of the truck models (and so of the VINs' data).", DefaultValueFactory = _ => 17691 };
        var vinPrefix = new Option<string>("--vin-prefix") { Description = "VIN prefix of this run, so runs sharing a TSDB do not mix.", DefaultValueFactory = _ => "LLOAD" };
        var maxLag = new Option<double>("--max-lag") { Description = "Largest lag (seconds of offered samples) at the end of the offer that still counts as keeping up.", DefaultValueFactory = _ => 10 };
        var drain = new Option<TimeSpan>("--drain-timeout") { Description = "How long to wait for the system to store what it was offered.", DefaultValueFactory = _ => TimeSpan.FromSeconds(60) };
        var scrapeInterval = new Option<TimeSpan>("--scrape-interval")
        {
            Description = "How often the silo's /metrics is read while the offer runs (reading it costs the silo CPU: Orleans' gauges walk every activation). The end of the offer and the drain are always read.",
            DefaultValueFactory = _ => TimeSpan.FromSeconds(5),
        };
        var label = new Option<string?>("--label") { Description = "Free text stored in the report, e.g. the commit measured." };
        var deviceSecrets = new Option<FileInfo?>("--device-secrets")
        {
            Description = "VIN,secret lines (telemetry-cli devices add-many --out): each vehicle connects on its own with its VIN and secret, as terminals do; --connections is then the number of vehicles.",
        };

        var command = new Command("load", "Drive N vehicles at an exact open-loop rate over pipelined MQTT connections and measure what the system stored, how late it alerted and whether it kept up. Exit code 0 when the run met its targets.")
        {
            vehicles, duration, broker, format, rate, connections, qos, maxInFlight, tsdb, api, apiKey, username, password, report, siloPid, watch,
            faultShare, parkedShare, parkedMinutes, history, historyAll, historySeconds, seed, vinPrefix, maxLag, drain, scrapeInterval, label,
            deviceSecrets,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (host, port, brokerError) = RunCommand.ParseBroker(parse.GetValue(broker)!);
            var errors = new List<string>();
            var options = new LoadOptions
            {
                Vehicles = parse.GetValue(vehicles),
                Duration = parse.GetValue(duration),
                Host = host,
                Port = port,
                Format = parse.GetValue(format)!,
                Rate = parse.GetValue(rate),
                Connections = parse.GetValue(connections),
                Qos = parse.GetValue(qos),
                MaxInFlight = parse.GetValue(maxInFlight),
                TsdbUrl = ParseUrl(parse.GetValue(tsdb), "--tsdb", errors),
                ApiUrl = ParseUrl(parse.GetValue(api), "--api", errors),
                ApiKey = ReadKey(parse.GetValue(apiKey), errors),
                Username = parse.GetValue(username),
                Password = ReadKey(parse.GetValue(password), errors, "--password"),
                SiloPid = parse.GetValue(siloPid),
                FaultShare = parse.GetValue(faultShare),
                ParkedShare = parse.GetValue(parkedShare),
                ParkedMinutes = parse.GetValue(parkedMinutes),
                HistoryMinutes = parse.GetValue(history),
                HistoryForAll = parse.GetValue(historyAll),
                HistorySeconds = parse.GetValue(historySeconds),
                Seed = parse.GetValue(seed),
                VinPrefix = parse.GetValue(vinPrefix)!,
                MaxLagSeconds = parse.GetValue(maxLag),
                DrainTimeout = parse.GetValue(drain),
                ScrapeInterval = parse.GetValue(scrapeInterval),
                Label = parse.GetValue(label),
            };
            if (parse.GetValue(deviceSecrets) is { } secretsFile)
            {
                try
                {
                    options.DeviceSecrets = LoadOptions.ReadDeviceSecrets(secretsFile.FullName);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
                {
                    errors.Add($"--device-secrets: {ex.Message}");
                }
            }
            errors.AddRange(options.Validate());
            if (brokerError is not null)
                errors.Add(brokerError);
            foreach (var item in parse.GetValue(watch) ?? [])
            {
                var eq = item.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0 || !int.TryParse(item.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    errors.Add($"--watch-pid '{item}' must be name=PID.");
                else
                    options.WatchPids[item[..eq]] = pid;
            }
            if (errors.Count > 0)
            {
                foreach (var error in errors)
                    AnsiConsole.MarkupLineInterpolated($"[red]{error}[/]");
                return 1;
            }
            return await RunAsync(options, parse.GetValue(report), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(LoadOptions options, FileInfo? reportFile, CancellationToken cancellationToken)
    {
        AnsiConsole.MarkupLineInterpolated(
            $"{options.Vehicles:N0} vehicles, {options.Format}, {options.FramesPerSecond:N0} frames/s live ({options.RecordsPerFrame} records each) over {options.ConnectionCount:N0} connection(s){(options.PerDeviceConnections ? " (one per vehicle, with its secret)" : "")} at QoS {options.Qos}, {options.FaultyVehicles} faulty; re-issue {options.HistorySeconds} s then live {options.Duration}.");
        LoadReport result;
        try
        {
            if (AnsiConsole.Profile.Capabilities.Interactive)
            {
                var table = new Table().AddColumns("t s", "phase", "offered f/s", "acked", "in flight", "stored", "lag", "behind s", "silo CPU %", "gen CPU %");
                LoadSnapshot? previous = null;
                var known = default(SiloFigures);
                result = await AnsiConsole.Live(table).StartAsync(async ctx =>
                {
                    return await LoadRun.RunAsync(options, s =>
                    {
                        var rate = previous is null || s.Seconds <= previous.Seconds ? 0 : (s.OfferedFrames - previous.OfferedFrames) / (s.Seconds - previous.Seconds);
                        previous = s;
                        table.AddRow(Row(s, rate, ref known));
                        while (table.Rows.Count > 15)
                            table.Rows.RemoveAt(0);
                        ctx.Refresh();
                    }, cancellationToken);
                });
            }
            else
            {
                LoadSnapshot? previous = null;
                var known = default(SiloFigures);
                result = await LoadRun.RunAsync(options, s =>
                {
                    var rate = previous is null || s.Seconds <= previous.Seconds ? 0 : (s.OfferedFrames - previous.OfferedFrames) / (s.Seconds - previous.Seconds);
                    previous = s;
                    var row = Row(s, rate, ref known);
                    if (Math.Round(s.Seconds) % 5 == 0 || s.Phase == "drain")
                        Console.WriteLine(string.Join("  ", row));
                }, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or HttpRequestException or IOException or InvalidOperationException or InvalidDataException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]The load run could not start: {ex.Message}[/]");
            return 1;
        }

        Print(result);
        if (reportFile is not null)
        {
            await File.WriteAllTextAsync(reportFile.FullName, result.ToJson(), cancellationToken);
            AnsiConsole.MarkupLineInterpolated($"Report written to {reportFile.FullName}");
        }
        return result.Passed ? 0 : 2;
    }

    /// <summary>The silo's figures last read from its /metrics (shown until the next read).</summary>
    private record struct SiloFigures(long? Stored, long? Lag, double? Cpu);

    private static string[] Row(LoadSnapshot s, double rate, ref SiloFigures known)
    {
        if (s.StoredSamples is not null)
            known = known with { Stored = s.StoredSamples, Lag = s.LagSamples };
        if (s.SiloCpuPercent is not null)
            known = known with { Cpu = s.SiloCpuPercent };
        return
        [
            Inv($"{s.Seconds:0}"), s.Phase, Inv($"{rate:N0}"), Inv($"{s.AckedFrames:N0}"), Inv($"{s.InFlight:N0}"),
            known.Stored is { } st ? Inv($"{st:N0}") : "-", known.Lag is { } l ? Inv($"{l:N0}") : "-", Inv($"{s.GeneratorBehindSeconds:0.00}"),
            known.Cpu is { } c ? Inv($"{c:0}") : "-", Inv($"{s.GeneratorCpuPercent:0}"),
        ];
    }

    private static void Print(LoadReport r)
    {
        var table = new Table().AddColumns("measure", "value");
        table.AddRow("offered (live)", Inv($"{r.OfferedLive.FramesPerSecond:N0} frames/s, {r.OfferedLive.SamplesPerSecond:N0} samples/s; {r.Offered.Frames:N0} frames in all ({r.ReissuedFrames:N0} re-issued)"));
        table.AddRow("acknowledged", Inv($"{r.Acknowledged.Frames:N0} of {r.Offered.Frames:N0} frames ({r.Acknowledged.FramesPerSecond:N0}/s over the whole offer)"));
        table.AddRow("stored (live)", r.StoredSamplesPerSecondLive is { } s ? Inv($"{s:N0} samples/s") : "-");
        table.AddRow("lag at end of offer", r.LagSamplesAtEndOfOffer is { } l ? Inv($"{l:N0} samples ({r.LagSecondsAtEndOfOffer:0.0} s), growth {r.LagGrowthSamplesPerSecond:0} samples/s") : "-");
        table.AddRow("verified in TSDB", r.Verified is { } v ? Inv($"{v.DistinctSamples:N0} of {v.ExpectedSamples:N0}; missing {v.Missing:N0}, duplicated {v.Duplicated:N0}, unexpected {v.Unexpected:N0}") : "-");
        var a = r.AlertLatency;
        table.AddRow("publish -> alert", a.Count == 0 ? "-" : Inv($"p50 {a.P50Ms:N0} ms, p99 {a.P99Ms:N0} ms, p99.9 {a.P999Ms:N0} ms, max {a.MaxMs:N0} ms ({a.Count} alerts)"));
        var d = r.Detection;
        table.AddRow("detection", Inv($"{d.Detected} of {d.Injected} detected, {d.FalsePositives} false positives"));
        table.AddRow("generator", Inv($"CPU {r.GeneratorCpuPercent:0}% of a core, lateness p99 {r.GeneratorLateness.P99Ms:N0} ms{(r.GeneratorBound ? " (generator-bound)" : "")}"));
        foreach (var p in r.Processes)
            table.AddRow(p.Name, Inv($"CPU mean {p.CpuPercentMean:0}% max {p.CpuPercentMax:0}%, RSS max {(p.RssBytesMax ?? 0) / 1048576.0:N0} MiB ({p.Source})"));
        table.AddRow("rejected at silo", r.SiloRejected is { } rej ? Inv($"{rej}") : "-");
        AnsiConsole.Write(table);
        foreach (var reason in r.Reasons)
            AnsiConsole.MarkupLineInterpolated($"[red]{reason}[/]");
        if (r.Saturated is not null)
            AnsiConsole.MarkupLineInterpolated($"Saturated first: {r.Saturated} ({r.SaturationEvidence})");
        AnsiConsole.MarkupLine(r.Passed ? "[green]PASSED[/]" : "[red]FAILED[/]");
    }

    /// <summary><c>vins</c>: the VINs a <c>load</c> run with the same options uses, one per line (for issuing their secrets).</summary>
    public static Command CreateVins()
    {
        var vehicles = new Option<int>("--vehicles", "-n") { Description = "Number of vehicles.", Required = true };
        var vinPrefix = new Option<string>("--vin-prefix") { Description = "VIN prefix, as given to load.", DefaultValueFactory = _ => "LLOAD" };
        var command = new Command("vins", "Print the VINs of a load run's vehicles, one per line: `simulator vins -n 5000 | telemetry-cli devices add-many --vins - --out secrets.csv`.")
        {
            vehicles, vinPrefix,
        };
        command.SetAction(parse =>
        {
            var options = new LoadOptions { Vehicles = parse.GetValue(vehicles), VinPrefix = parse.GetValue(vinPrefix)! };
            var errors = options.Validate().Where(e => e.StartsWith("--vehicles", StringComparison.Ordinal) || e.StartsWith("--vin-prefix", StringComparison.Ordinal)).ToList();
            if (errors.Count > 0)
            {
                foreach (var error in errors)
                    Console.Error.WriteLine(error);
                return 1;
            }
            var output = new StringBuilder();
            for (var i = 0; i < options.Vehicles; i++)
                output.Append(Telemetry.Simulation.Vins.Make(i, options.VinPrefix)).Append('\n');
            Console.Out.Write(output.ToString());
            return 0;
        });
        return command;
    }

    /// <summary><c>tsdb-ceiling</c>: line protocol straight at the TSDB, several requests in flight.</summary>
    public static Command CreateCeiling()
    {
        var tsdb = new Option<string>("--tsdb") { Description = "VictoriaMetrics (or InfluxDB 2) base URL.", Required = true };
        var duration = new Option<TimeSpan>("--duration", "-d") { Description = "How long to write.", DefaultValueFactory = _ => TimeSpan.FromSeconds(20) };
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight.", DefaultValueFactory = _ => 4 };
        var lines = new Option<int>("--lines-per-request") { Description = "Lines per request (one per vehicle).", DefaultValueFactory = _ => 5000 };
        var report = new Option<FileInfo?>("--report", "-r") { Description = "Write the result as JSON to this file." };
        var command = new Command("tsdb-ceiling", "Measure the TSDB's own ingest ceiling: hdv-shaped line protocol straight to /api/v2/write, several requests in flight; reports lines/s and values/s.")
        {
            tsdb, duration, concurrency, lines, report,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var errors = new List<string>();
            var url = ParseUrl(parse.GetValue(tsdb), "--tsdb", errors);
            if (url is null)
            {
                foreach (var error in errors)
                    AnsiConsole.MarkupLineInterpolated($"[red]{error}[/]");
                return 1;
            }
            var result = await TsdbCeiling.RunAsync(url, parse.GetValue(duration), Math.Max(1, parse.GetValue(concurrency)),
                Math.Max(1, parse.GetValue(lines)), cancellationToken);
            AnsiConsole.MarkupLineInterpolated(
                $"{result.LinesPerSecond:N0} lines/s, {result.ValuesPerSecond:N0} values/s ({result.Requests} requests, {result.FailedRequests} failed, {result.Concurrency} in flight, writer CPU {result.ClientCpuPercent:0}% of a core)");
            if (parse.GetValue(report) is { } file)
                await File.WriteAllTextAsync(file.FullName, JsonSerializer.Serialize(result, ReportJson), cancellationToken);
            return result.FailedRequests == 0 ? 0 : 2;
        });
        return command;
    }

    private static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>An absolute http(s) URL ending in a slash (so relative paths append), or null with an error naming the option.</summary>
    private static Uri? ParseUrl(string? value, string option, List<string> errors)
    {
        if (string.IsNullOrEmpty(value))
            return null;
        if (!Uri.TryCreate(value.EndsWith('/') ? value : value + "/", UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            errors.Add($"{option} '{value}' is not an absolute http(s) URL.");
            return null;
        }
        return url;
    }

    /// <summary>The value, or the trimmed contents of FILE for <c>@FILE</c>; an unreadable file is an error naming <paramref name="option"/>.</summary>
    internal static string? ReadKey(string? value, List<string> errors, string option = "--api-key")
    {
        if (string.IsNullOrEmpty(value) || !value.StartsWith('@'))
            return value;
        try
        {
            return File.ReadAllText(value[1..]).Trim();
        }
        catch (IOException ex)
        {
            errors.Add($"{option}: cannot read '{value[1..]}': {ex.Message}");
            return null;
        }
        catch (UnauthorizedAccessException ex)
        {
            errors.Add($"{option}: cannot read '{value[1..]}': {ex.Message}");
            return null;
        }
    }

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
