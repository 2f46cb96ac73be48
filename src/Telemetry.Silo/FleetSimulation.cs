using Microsoft.Extensions.Options;
using Telemetry.Fleet;
using Telemetry.Ingest;

namespace Telemetry.Silo;

/// <summary>The in-process simulated fleet of <c>--simulate N</c>.</summary>
public static class FleetSimulation
{
    /// <summary>Adds the simulated fleet when <see cref="FleetOptions.Trucks"/> is above zero.</summary>
    public static IHostApplicationBuilder AddFleetSimulation(this IHostApplicationBuilder builder)
    {
        var fleet = TelemetrySiloExtensions.Bind<FleetOptions>(builder, FleetOptions.Section, o => o.Validate());
        if (fleet.Trucks > 0)
        {
            builder.Services.AddHostedService<FleetSimulationService>();
        }
        return builder;
    }
}

/// <summary>Publishes the simulated fleet to this silo's broker once ingest is subscribed.</summary>
public sealed partial class FleetSimulationService(
    IConfiguration configuration,
    IOptions<MqttIngestOptions> mqtt,
    MqttIngestService ingest,
    TimeProvider time,
    ILogger<FleetSimulationService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = configuration.GetSection(FleetOptions.Section).Get<FleetOptions>() ?? new FleetOptions();
        options.Host = mqtt.Value.Host;
        options.Port = mqtt.Value.Port;
        options.TopicPrefix = mqtt.Value.TopicPrefix;

        while (!ingest.IsSubscribed)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, stoppingToken);
        }

        await using var fleet = new FleetPublisher(options, time);
        await fleet.ConnectAsync(stoppingToken);
        var exceeding = fleet.Trucks.Where(t => t.Exceeds).Select(t => t.Vin).ToList();
        var examples = string.Join(", ", exceeding.Take(5));
        Log.Starting(logger, options.Trucks, options.Format, options.HistoryMinutes, exceeding.Count, examples);
        await fleet.PublishHistoryAsync(stoppingToken);
        var p = fleet.Progress;
        Log.HistoryDone(logger, p.Frames, p.Samples);
        await fleet.RunLiveAsync(stoppingToken);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "Simulating {Trucks} trucks ({Format}) with {History} min of re-issued history; NOx exceedance injected in {Exceeding}: {Vins}...")]
        public static partial void Starting(ILogger logger, int trucks, string format, int history, int exceeding, string vins);

        [LoggerMessage(EventId = 1302, Level = LogLevel.Information, Message = "Simulated history published: {Frames} frames, {Samples} samples; now live")]
        public static partial void HistoryDone(ILogger logger, long frames, long samples);
    }
}
