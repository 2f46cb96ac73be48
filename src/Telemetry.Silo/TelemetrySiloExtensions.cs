using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;
using Orleans.Dashboard;
using Orleans.Runtime.Hosting;
using StackExchange.Redis;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Grains;
using Telemetry.Ingest;

namespace Telemetry.Silo;

/// <summary>Host wiring of the Orleans silo and the vehicle hot path.</summary>
public static class TelemetrySiloExtensions
{
    /// <summary>
    /// Adds Orleans (localhost clustering with in-memory state, or Redis clustering and state),
    /// the detection options, the vehicle registry, the zones and the alert feed.
    /// </summary>
    public static IHostApplicationBuilder AddTelemetrySilo(this IHostApplicationBuilder builder)
    {
        var silo = Bind<SiloOptions>(builder, SiloOptions.Section, o => o.Validate());
        var vehicles = Bind<VehicleGrainOptions>(builder, VehicleGrainOptions.Section, o => o.Validate());
        builder.UseOrleans(orleans =>
        {
            orleans.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = silo.ClusterId;
                o.ServiceId = silo.ServiceId;
            });
            if (silo.Clustering == ClusteringMode.Redis)
            {
                var redis = ConfigurationOptions.Parse(silo.RedisConnectionString);
                orleans.UseRedisClustering(o => o.ConfigurationOptions = redis);
                // Grain state in Orleans' binary format, as on local disk: the default JSON serializer cannot read back
                // immutable collections (an open episode's thresholds), so such a vehicle could not activate again.
                // State an earlier version wrote as JSON is read with the JSON serializer when the binary one cannot read it.
                orleans.AddRedisGrainStorage(VehicleGrainOptions.StorageName, options => options.Configure<IServiceProvider>((o, sp) =>
                {
                    o.ConfigurationOptions = redis;
                    o.GrainStorageSerializer = new GrainStorageSerializer(
                        new OrleansGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>()),
                        sp.GetRequiredService<IGrainStorageSerializer>());
                }));
                orleans.UseRedisReminderService(o => o.ConfigurationOptions = redis);
                var advertised = string.IsNullOrEmpty(silo.AdvertisedAddress) ? System.Net.IPAddress.Loopback : System.Net.IPAddress.Parse(silo.AdvertisedAddress);
                orleans.ConfigureEndpoints(advertised, silo.SiloPort, silo.GatewayPort, listenOnAnyHostAddress: !string.IsNullOrEmpty(silo.AdvertisedAddress));
            }
            else
            {
                // One machine: grain state on local disk, so a restart (or kill -9) continues where it stopped.
                orleans.UseLocalhostClustering(silo.SiloPort, silo.GatewayPort, serviceId: silo.ServiceId, clusterId: silo.ClusterId);
                orleans.Services.AddGrainStorage(VehicleGrainOptions.StorageName, (sp, _) =>
                    new FileGrainStorage(Path.Combine(Path.GetFullPath(silo.StateDirectory), "grains"), sp.GetRequiredService<Orleans.Serialization.Serializer>()));
                orleans.UseInMemoryReminderService();
            }
            if (silo.Dashboard)
            {
                // Profiles every grain call; mapped at /orleans/ for admins (Observability.MapTelemetryMetrics).
                orleans.AddDashboard();
            }
            orleans.Configure<GrainCollectionOptions>(o => o.CollectionAge = silo.CollectionAge);
            orleans.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromTicks(
                Math.Min(o.MinimumReminderPeriod.Ticks, vehicles.ReminderPeriod.Ticks)));
        });

        var services = builder.Services;
        services.AddOptions<VehicleGrainOptions>().BindConfiguration(VehicleGrainOptions.Section)
            .PostConfigure(o => o.UseReminders = silo.Clustering == ClusteringMode.Redis);
        services.AddOptions<SiloOptions>().BindConfiguration(SiloOptions.Section)
            .PostConfigure(o => o.StateDirectory = Path.GetFullPath(o.StateDirectory));
        services.AddSingleton<VehicleIndex>();
        services.AddSingleton<IngestDelay>();
        services.AddSingleton<RecoveredSeconds>();
        services.AddHostedService<JournalRecovery>();
        services.AddSingleton<VehicleSweep>();
        services.AddHostedService(sp => sp.GetRequiredService<VehicleSweep>());
        services.AddHostedService<VehicleArrivalsSharing>();
        services.AddOptions<DetectionOptions>().BindConfiguration(DetectionOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DetectionOptions>>(new SentenceValidator<DetectionOptions>(o => o.Validate()));
        services.AddOptions<ReferenceDataOptions>().BindConfiguration(ReferenceDataOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ReferenceDataOptions>>(new SentenceValidator<ReferenceDataOptions>(o => o.Validate()));
        services.AddSingleton<ReferenceVehicleRegistry>();
        services.AddSingleton<IVehicleRegistry>(sp => sp.GetRequiredService<ReferenceVehicleRegistry>());
        services.AddHostedService(sp => sp.GetRequiredService<ReferenceVehicleRegistry>());
        services.AddSingleton<IZoneIndex>(sp => ZoneFile.Load(sp.GetRequiredService<IOptions<ReferenceDataOptions>>().Value));
        services.AddSingleton<GrainMetrics>();
        services.AddSingleton<AlertFeed>();
        services.AddSingleton<IAlertFeed>(sp => sp.GetRequiredService<AlertFeed>());
        if (silo.Clustering == ClusteringMode.Redis)
        {
            // Every silo's live stream carries every silo's alert changes.
            services.AddHostedService<RedisAlertRelay>();
        }
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(TelemetryClock.System);
        return builder;
    }

    /// <summary>Binds and validates a section now, for settings needed while the host is being built.</summary>
    internal static T Bind<T>(IHostApplicationBuilder builder, string section, Func<T, IEnumerable<string>> validate)
        where T : class, new()
    {
        var options = builder.Configuration.GetSection(section).Get<T>() ?? new T();
        var errors = validate(options).ToList();
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(section, typeof(T), errors);
        }
        return options;
    }
}
