using System.Globalization;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Ingest;

namespace Telemetry.Silo;

/// <summary>Prints every alert change as it happens and a pipeline status line every 10 seconds.</summary>
public sealed partial class ConsoleReporter(IAlertFeed feed, IngestMetrics ingest, TimeProvider time, ILogger<ConsoleReporter> logger) : BackgroundService
{
    private static readonly TimeSpan StatusPeriod = TimeSpan.FromSeconds(10);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(PrintAlertsAsync(stoppingToken), PrintStatusAsync(stoppingToken));

    private async Task PrintAlertsAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var change in feed.SubscribeAsync(stoppingToken))
            {
                if (change.Kind != AlertChangeKind.Updated)
                {
                    Log.Alert(logger, Describe(change));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task PrintStatusAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(StatusPeriod, time);
        var last = ingest.Totals;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = ingest.Totals;
                var rate = (now.Decoded - last.Decoded) / StatusPeriod.TotalSeconds;
                Log.Status(logger, now.Received, now.Decoded, now.Rejected, rate);
                last = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>One line about an alert change, for people.</summary>
    public static string Describe(AlertChange change)
    {
        var a = change.Alert;
        var where = a.Position is { Valid: true } p
            ? string.Create(CultureInfo.InvariantCulture, $" at {p.Longitude:F5},{p.Latitude:F5}")
            : "";
        var measured = string.Join(", ", a.Measured.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key}={m.Value:G5}")));
        var thresholds = string.Join(", ", a.Thresholds.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key}={m.Value:G5}")));
        return string.Create(CultureInfo.InvariantCulture,
            $"ALERT {change.Kind.ToString().ToUpperInvariant()} {a.RuleId} {a.RuleName} [{a.Severity}] VIN {a.Vin} since {a.StartUtc:yyyy-MM-ddTHH:mm:ssZ}{where}: {measured} (thresholds {thresholds}) id {a.Id}");
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "{Line}")]
        public static partial void Alert(ILogger logger, string line);

        [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Ingest: {Received} received, {Decoded} stored, {Rejected} rejected ({Rate:F0} frames/s)")]
        public static partial void Status(ILogger logger, long received, long decoded, long rejected, double rate);
    }
}
