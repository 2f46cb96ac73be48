using Microsoft.Extensions.Options;
using Telemetry.Fleet;
using Telemetry.Ingest;
using Telemetry.Storage.Cases;

namespace Telemetry.Silo;

/// <summary>The in-process simulated fleet of <c>--simulate N</c>.</summary>
public static class FleetSimulation
{
    /// <summary>Adds the simulated fleet when <see cref="FleetOptions.Trucks"/> is above zero.</summary>
    public static IHostApplicationBuilder AddFleetSimulation(this IHostApplicationBuilder builder)
    {
        var mqtt = builder.Configuration.GetSection(MqttIngestOptions.Section).Get<MqttIngestOptions>() ?? new MqttIngestOptions();
        var fleet = TelemetrySiloExtensions.Bind<FleetOptions>(builder, FleetOptions.Section, o => o.Validate().Concat(ConnectionLimit(o, mqtt)));
        if (fleet.Trucks > 0)
        {
            builder.Services.AddHostedService<FleetSimulationService>();
        }
        return builder;
    }

    /// <summary>Trucks that may authenticate one connection each on this machine (local ports and start-up time).</summary>
    public const int MaxAuthenticatedTrucks = 20_000;

    /// <summary>True when the trucks connect one by one with their own credentials (embedded broker that authenticates).</summary>
    public static bool PerTruckConnections(MqttIngestOptions mqtt) => mqtt.Mode == BrokerMode.Embedded && !mqtt.AllowAnonymous;

    private static IEnumerable<string> ConnectionLimit(FleetOptions fleet, MqttIngestOptions mqtt)
    {
        if (PerTruckConnections(mqtt) && fleet.Trucks > MaxAuthenticatedTrucks)
        {
            yield return $"{FleetOptions.Section}:Trucks {fleet.Trucks} is above {MaxAuthenticatedTrucks}: on the embedded broker each simulated truck "
                + $"authenticates on its own connection. Use {MqttIngestOptions.Section}:AllowAnonymous=true for a larger simulated fleet on one connection, "
                + "or the load harness (Telemetry.Simulator load) against an external broker.";
        }
    }
}

/// <summary>
/// Publishes the simulated fleet to this silo's broker once ingest is subscribed. On the embedded broker each truck
/// connects as a terminal does, with its VIN and a secret the simulation issues it at each start (replacing the
/// previous run's); on an external broker, or an embedded one that allows anonymous clients, the fleet shares one connection.
/// </summary>
public sealed partial class FleetSimulationService(
    IConfiguration configuration,
    IOptions<MqttIngestOptions> mqtt,
    MqttIngestService ingest,
    DeviceCredentialStore credentials,
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
        IReadOnlyDictionary<string, string>? secrets = null;
        if (FleetSimulation.PerTruckConnections(mqtt.Value))
        {
            var issued = await credentials.AddManyAsync([.. fleet.Trucks.Select(t => t.Vin)], replace: true, stoppingToken);
            secrets = issued.ToDictionary(d => d.Device.Vin, d => d.Secret, StringComparer.Ordinal);
        }
        await fleet.ConnectAsync(stoppingToken, secrets);
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
