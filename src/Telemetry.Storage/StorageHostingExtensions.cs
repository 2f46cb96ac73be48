using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;
using Telemetry.Storage.Journal;

namespace Telemetry.Storage;

/// <summary>Registers the storage adapters in a host.</summary>
public static class StorageHostingExtensions
{
    /// <summary>
    /// Binds <see cref="TimeSeriesOptions"/> to <c>Telemetry:TimeSeries</c> and <see cref="JournalOptions"/> to
    /// <c>Telemetry:Journal</c>, validates them at start (a bad value stops the host with a sentence naming
    /// the setting) and registers <see cref="IJournal"/> (<see cref="FileJournal"/>; a relative
    /// <c>Directory</c> is taken from the working directory), <see cref="ITimeSeriesSink"/>
    /// (<see cref="JournalTimeSeriesSink"/>: a write completes when it is durable in the journal) and
    /// <see cref="JournalShipper"/>, which drains the journal to InfluxDB when <c>InfluxUrl</c> is set,
    /// otherwise to line-protocol files in <c>FileDirectory</c>, and, under the <c>adaptive</c> policy,
    /// <see cref="AdaptiveStorageService"/>. The journal is opened at start, so its log line says where it
    /// is; at stop it writes what is queued, then closes.
    /// </summary>
    public static IHostApplicationBuilder AddTimeSeriesSink(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<TimeSeriesOptions>()
            .BindConfiguration(TimeSeriesOptions.Section)
            .PostConfigure(options => options.FileDirectory = FromWorkingDirectory(options.FileDirectory))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TimeSeriesOptions>>(
            new SentenceValidator<TimeSeriesOptions>(o => o.Validate())));
        services.AddOptions<JournalOptions>()
            .BindConfiguration(JournalOptions.Section)
            .PostConfigure(options => options.Directory = FromWorkingDirectory(options.Directory))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JournalOptions>>(
            new SentenceValidator<JournalOptions>(o => o.Validate())));
        AddMetrics(services);
        services.TryAddSingleton(provider => new FileJournal(
            provider.GetRequiredService<IOptions<JournalOptions>>(),
            provider.GetRequiredService<ILogger<FileJournal>>(),
            provider.GetRequiredService<StorageMetrics>()));
        services.TryAddSingleton<IJournal>(provider => provider.GetRequiredService<FileJournal>());
        services.TryAddSingleton<ITimeSeriesSink>(provider => new JournalTimeSeriesSink(
            provider.GetRequiredService<IJournal>(), provider.GetRequiredService<IOptions<TimeSeriesOptions>>().Value, TimeProvider.System));
        services.TryAddSingleton<AdaptiveShipping>();
        services.AddHostedService<CreateAtStart<ITimeSeriesSink>>();
        services.AddHostedService<JournalShipper>();
        services.AddHostedService<AdaptiveStorageService>();
        return builder;
    }

    /// <summary>
    /// Binds <see cref="AlertStoreOptions"/> and <see cref="CaseDatabaseOptions"/> to <c>Telemetry:Alerts</c>, validates
    /// them at start and registers <see cref="IAlertStore"/>: the alert database (<see cref="SqlAlertStore"/>, SQLite on
    /// <c>DatabasePath</c> by default or PostgreSQL). The JSON Lines file of earlier versions (<c>FilePath</c>) is
    /// imported into it once at start.
    /// </summary>
    public static IHostApplicationBuilder AddAlertStore(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddOptions<AlertStoreOptions>()
            .BindConfiguration(AlertStoreOptions.Section)
            .PostConfigure(options => options.FilePath = FromWorkingDirectory(options.FilePath))
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AlertStoreOptions>>(
            new SentenceValidator<AlertStoreOptions>(o => o.Validate())));
        services.AddAlertDatabase();
        services.TryAddSingleton<IAlertStore>(provider => provider.GetRequiredService<SqlAlertStore>());
        return builder;
    }

    private static void AddMetrics(IServiceCollection services) =>
        services.TryAddSingleton(provider => new StorageMetrics(provider.GetService<IMeterFactory>()));

    // Relative data paths are relative to the working directory, like every other path the
    // host is given (the content root is the build output, which a clean would wipe).
    private static string FromWorkingDirectory(string path) =>
        string.IsNullOrWhiteSpace(path) || path.IndexOfAny(Path.GetInvalidPathChars()) >= 0 || path.EndsWith('/')
            ? path
            : Path.GetFullPath(path);

    /// <summary>Creates a singleton when the host starts, so that it opens its files and logs where it writes.</summary>
    private sealed class CreateAtStart<TService>(IServiceProvider provider) : IHostedService
        where TService : notnull
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = provider.GetRequiredService<TService>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
