using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Telemetry.Simulation;

namespace Telemetry.Simulator;

/// <summary><c>scenarios</c>: run the labelled drive cycles through the detection engine and report per rule.</summary>
public static class ScenariosCommand
{
    public static Command Create()
    {
        var report = new Option<FileInfo?>("--report", "-r") { Description = "Write the report as JSON to this file." };
        var filter = new Option<string?>("--filter") { Description = "Only scenarios whose name contains this text." };
        var seed = new Option<int?>("--seed") { Description = "Seed of the truck models." };
        var command = new Command("scenarios", "Run the labelled scenarios (clean cycles and one per rule) through the rules and report per rule: injected, detected, missed, false alerts, detection delay. Exit code 0 when every injected fault is detected with no false alert.")
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
            var result = await AnsiConsole.Status().StartAsync("Running scenarios...", _ => Task.FromResult(ScenarioReport.Run(options)));
            Print(result);
            if (parse.GetValue(report) is { } file)
            {
                await File.WriteAllTextAsync(file.FullName, result.ToJson(), cancellationToken);
                AnsiConsole.MarkupLineInterpolated($"Report written to {file.FullName}");
            }
            return result.Overall.Passed ? 0 : 2;
        });
        return command;
    }

    private static void Print(ScenarioReport report)
    {
        var table = new Table().AddColumns("rule", "injected", "detected", "missed", "false alerts", "mean delay s", "max delay s");
        foreach (var r in report.Rules)
        {
            table.AddRow(r.RuleId, Num(r.Injected), Num(r.Detected), Num(r.Missed), Num(r.FalseAlerts), Delay(r.MeanDetectionDelaySeconds), Delay(r.MaxDetectionDelaySeconds));
        }
        AnsiConsole.Write(table);
        var o = report.Overall;
        AnsiConsole.MarkupLineInterpolated(
            $"{o.Scenarios} scenarios: {o.Injected} injected, {o.Detected} detected, {o.Missed} missed, {o.FalseAlerts} false alerts ({o.FalseAlertsOnCleanCycles} on clean cycles): {(o.Passed ? "PASSED" : "FAILED")}");
    }

    private static string Num(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Delay(double? seconds) => seconds is { } s ? s.ToString("F0", CultureInfo.InvariantCulture) : "-";
}
