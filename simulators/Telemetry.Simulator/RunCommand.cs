using System.CommandLine;
using Spectre.Console;
using Telemetry.Fleet;

namespace Telemetry.Simulator;

/// <summary><c>run</c>: publish a simulated fleet to a broker, with a live progress display.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var trucks = new Option<int>("--trucks", "-n") { Description = "Number of trucks.", DefaultValueFactory = _ => 100 };
        var format = new Option<string>("--format", "-f") { Description = "gb17691 (a frame a second), hj1239 (10 records every 10 s) or json.", DefaultValueFactory = _ => FleetFormats.Gb17691 };
        var broker = new Option<string>("--broker", "-b") { Description = "Broker as host:port.", DefaultValueFactory = _ => "127.0.0.1:1883" };
        var history = new Option<int>("--history-minutes") { Description = "Minutes of stored driving re-issued (command 0x03) at start.", DefaultValueFactory = _ => 20 };
        var share = new Option<double>("--exceedance-share") { Description = "Share of trucks (0-1) with a NOx exceedance injected.", DefaultValueFactory = _ => 0.05 };
        var first = new Option<int>("--first-index") { Description = "First VIN index, to run several simulators side by side.", DefaultValueFactory = _ => 0 };
        var duration = new Option<TimeSpan?>("--duration", "-d") { Description = "Stop after this long live (e.g. 00:05:00); default: until Ctrl+C." };
        var username = new Option<string?>("--username") { Description = "Broker user name (a silo's embedded broker: @operator, with an admin API key as password)." };
        var password = new Option<string?>("--password") { Description = "Broker password, or @FILE to read it from a file (such as @data/keys/admin.key)." };

        var command = new Command("run", "Publish a simulated fleet to an MQTT broker (the silo's embedded one by default).")
        {
            trucks, format, broker, history, share, first, duration, username, password,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (host, port, brokerError) = ParseBroker(parse.GetValue(broker)!);
            var secretErrors = new List<string>();
            var secret = LoadCommand.ReadKey(parse.GetValue(password), secretErrors, "--password");
            var options = new FleetOptions
            {
                Trucks = parse.GetValue(trucks),
                Format = parse.GetValue(format)!,
                HistoryMinutes = parse.GetValue(history),
                ExceedanceShare = parse.GetValue(share),
                FirstIndex = parse.GetValue(first),
                Host = host,
                Port = port,
                Username = parse.GetValue(username),
                Password = secret,
            };
            var errors = options.Validate().ToList();
            errors.AddRange(secretErrors);
            if (brokerError is not null)
            {
                errors.Add(brokerError);
            }
            if (options.Trucks < 1)
            {
                errors.Add("--trucks must be at least 1.");
            }
            if (errors.Count > 0)
            {
                foreach (var error in errors)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]{error}[/]");
                }
                return 1;
            }
            return await RunAsync(options, parse.GetValue(duration), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(FleetOptions options, TimeSpan? duration, CancellationToken cancellationToken)
    {
        await using var fleet = new FleetPublisher(options);
        try
        {
            await fleet.ConnectAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Cannot connect to the broker at {options.Host}:{options.Port}: {ex.Message}[/]");
            return 1;
        }
        var exceeding = fleet.Trucks.Where(t => t.Exceeds).Select(t => t.Vin).ToList();
        AnsiConsole.MarkupLineInterpolated($"{options.Trucks} trucks, format {options.Format}, broker {options.Host}:{options.Port}; NOx exceedance in {exceeding.Count}: {string.Join(", ", exceeding.Take(5))}");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var started = DateTime.UtcNow;
        await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async ctx =>
            {
                var history = ctx.AddTask("History (re-issued)", maxValue: Math.Max(1, options.HistoryMinutes * 60.0));
                var historyStart = fleet.SimulatedUtc;
                var publishing = fleet.PublishHistoryAsync(stop.Token);
                while (!publishing.IsCompleted)
                {
                    history.Value = (fleet.SimulatedUtc - historyStart).TotalSeconds;
                    history.Description = Describe("History (re-issued)", fleet.Progress, started);
                    await Task.WhenAny(publishing, Task.Delay(250, CancellationToken.None));
                }
                await publishing;
                history.Value = history.MaxValue;
                history.Description = Describe("History (re-issued)", fleet.Progress, started);
            });

        if (stop.IsCancellationRequested)
        {
            return 0;
        }
        if (duration is { } d)
        {
            stop.CancelAfter(d);
        }
        AnsiConsole.MarkupLine("Live: one status line every 10 s; Ctrl+C stops.");
        var live = fleet.RunLiveAsync(stop.Token);
        while (!live.IsCompleted)
        {
            await Task.WhenAny(live, Task.Delay(TimeSpan.FromSeconds(10), CancellationToken.None));
            AnsiConsole.MarkupLineInterpolated($"{Describe("Live", fleet.Progress, started)}");
        }
        await live;
        var p = fleet.Progress;
        AnsiConsole.MarkupLineInterpolated($"Published {p.Frames} frames, {p.Samples} samples, {p.Failures} failures.");
        return p.Failures == 0 ? 0 : 2;
    }

    private static string Describe(string phase, FleetProgress p, DateTime started)
    {
        var elapsed = Math.Max(0.001, (DateTime.UtcNow - started).TotalSeconds);
        return FormattableString.Invariant($"{phase}: {p.Frames:N0} frames, {p.Samples:N0} samples ({p.Frames / elapsed:N0} frames/s), {p.Failures} failures, at {p.SimulatedUtc:HH:mm:ss}Z");
    }

    /// <summary>Splits <c>host:port</c>; the error names the option.</summary>
    public static (string Host, int Port, string? Error) ParseBroker(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            return ("", 0, $"--broker '{value}' must be host:port with a port from 1 to 65535.");
        }
        return (value[..colon], port, null);
    }
}
