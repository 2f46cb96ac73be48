using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Telemetry.Abstractions;
using Telemetry.Simulation;

namespace Telemetry.Simulator;

/// <summary><c>scenarios</c>: run the labelled drive cycles through the detection engine and report per rule.</summary>
public static class ScenariosCommand
{
    private static readonly JsonSerializerOptions Indented = new(TelemetryJson.Options) { WriteIndented = true };

    public static Command Create()
    {
        var report = new Option<FileInfo?>("--report", "-r") { Description = "Write the report as JSON to this file." };
        var filter = new Option<string?>("--filter") { Description = "Only scenarios whose name contains this text." };
        var seed = new Option<int?>("--seed") { Description = "Seed of the truck models." };
        var command = new Command("scenarios", "Run the labelled scenarios (clean cycles and one per rule) through the rules: injected, detected, missed, false alerts, delay.")
        {
            report, filter, seed,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ScenarioSuiteOptions { Filter = parse.GetValue(filter) };
            if (parse.GetValue(seed) is { } s)
            {
                options.Seed = s;
            }
            var result = ScenarioSuite.Run(options);
            var json = JsonSerializer.Serialize(result, Indented);
            if (parse.GetValue(report) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, json, cancellationToken);
                AnsiConsole.MarkupLineInterpolated($"Report written to {file.FullName}");
            }
            else
            {
                Console.WriteLine(json);
            }
            return 0;
        });
        return command;
    }
}
