using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Cases;

/// <summary>Registers the alert database.</summary>
public static class CasesHostingExtensions
{
    /// <summary>
    /// Binds <see cref="CaseDatabaseOptions"/> (<c>Telemetry:Alerts</c>), validates them at start and registers the
    /// <see cref="CaseDatabase"/>, <see cref="SqlAlertStore"/>, <see cref="ApiKeyStore"/>, <see cref="DeviceCredentialStore"/>, the vehicle registry (<see cref="SqlVehicleRegistryStore"/>), the vehicles' shared arrivals (<see cref="SqlVehicleArrivals"/>) and the hourly totals (<see cref="IHourTotalsStore"/>). At start the schema is
    /// migrated and, when <c>Telemetry:Alerts:FilePath</c> names an existing JSON Lines file of earlier versions, its
    /// records are imported once.
    /// </summary>
    public static IServiceCollection AddAlertDatabase(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<CaseDatabaseOptions>()
            .BindConfiguration(CaseDatabaseOptions.Section)
            .PostConfigure(o => o.DatabasePath = string.IsNullOrWhiteSpace(o.DatabasePath) ? o.DatabasePath : Path.GetFullPath(o.DatabasePath))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CaseDatabaseOptions>>(
            new SentenceValidator<CaseDatabaseOptions>(o => o.Validate())));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => CaseDatabase.From(sp.GetRequiredService<IOptions<CaseDatabaseOptions>>().Value));
        services.TryAddSingleton<SqlAlertStore>();
        services.TryAddSingleton<ApiKeyStore>();
        services.TryAddSingleton<SqlHourTotalsStore>();
        services.TryAddSingleton<IHourTotalsStore>(sp => sp.GetRequiredService<SqlHourTotalsStore>());
        services.TryAddSingleton<DeviceCredentialStore>();
        services.TryAddSingleton<SqlVehicleRegistryStore>();
        services.TryAddSingleton<SqlVehicleArrivals>();
        services.AddHostedService<AlertDatabaseStartup>();
        return services;
    }

    private sealed class AlertDatabaseStartup(IServiceProvider provider, IOptions<AlertStoreOptions> file, ILogger<SqlAlertStore> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var store = provider.GetRequiredService<SqlAlertStore>();
            await store.Database.MigrateAsync(cancellationToken);
            var kind = store.Database.Kind.ToString();
            var where = store.Database.Description;
            Log.AlertDatabaseReady(logger, kind, where);
            var path = file.Value.FilePath;
            if (!string.IsNullOrEmpty(path) && File.Exists(path))
            {
                var (imported, skipped) = await store.ImportJsonLinesAsync(path, cancellationToken);
                var full = Path.GetFullPath(path);
                if (imported >= 0)
                    Log.AlertFileImported(logger, imported, full, skipped);
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
