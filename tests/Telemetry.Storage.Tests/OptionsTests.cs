using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Storage.Journal;

namespace Telemetry.Storage.Tests;

public sealed class OptionsTests : IDisposable
{
    private readonly TempDirectory _root = new();

    [Fact]
    public void TimeSeriesOptions_Defaults_AreValidAndUseTheFileStore()
    {
        var options = new TimeSeriesOptions();

        Assert.Empty(options.Validate());
        Assert.False(options.UsesInflux);
        Assert.Equal("hdv", options.Bucket);
        Assert.Equal("data/timeseries", options.FileDirectory);
        Assert.Equal(20_000, options.BatchSize);
        Assert.Equal(4, options.MaxConcurrentWrites);
    }

    [Theory]
    [InlineData("htp:/x")]
    [InlineData("ftp://host/")]
    [InlineData("relative/path")]
    public void TimeSeriesOptions_BadInfluxUrl_SaysWhichSettingAndValue(string url)
    {
        var errors = new TimeSeriesOptions { InfluxUrl = url }.Validate();

        Assert.Equal([$"Telemetry:TimeSeries:InfluxUrl '{url}' is not an absolute http(s) URL."], errors);
    }

    [Fact]
    public void TimeSeriesOptions_InfluxWithoutOrgOrBucket_NamesBothSettings()
    {
        var errors = new TimeSeriesOptions { InfluxUrl = "http://127.0.0.1:8428", Org = "", Bucket = " " }.Validate();

        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("Telemetry:TimeSeries:Org ", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Telemetry:TimeSeries:Bucket ", StringComparison.Ordinal));
    }

    [Fact]
    public void TimeSeriesOptions_OutOfRangeNumbers_OneSentenceEach()
    {
        var errors = new TimeSeriesOptions
        {
            BatchSize = 0,
            FlushInterval = TimeSpan.FromMinutes(5),
            MaxRetries = -1,
            RetryDelay = TimeSpan.FromSeconds(-1),
            MaxConcurrentWrites = 0,
            RequestTimeout = TimeSpan.Zero,
        }.Validate();

        Assert.Equal(
        [
            "Telemetry:TimeSeries:BatchSize 0 is outside 1..100000.",
            "Telemetry:TimeSeries:FlushInterval 00:05:00 is outside 00:00:00..00:01:00.",
            "Telemetry:TimeSeries:MaxRetries -1 is outside 0..20.",
            "Telemetry:TimeSeries:RetryDelay -00:00:01 is outside 00:00:00..00:01:00.",
            "Telemetry:TimeSeries:MaxConcurrentWrites 0 is outside 1..64.",
            "Telemetry:TimeSeries:RequestTimeout 00:00:00 is outside 00:00:00 (exclusive)..00:10:00.",
        ], errors);
    }

    [Fact]
    public void TimeSeriesOptions_FileStoreWithoutDirectory_NamesTheSetting()
    {
        var errors = new TimeSeriesOptions { FileDirectory = "" }.Validate();

        Assert.StartsWith("Telemetry:TimeSeries:FileDirectory must not be empty", Assert.Single(errors), StringComparison.Ordinal);
    }

    [Fact]
    public void AlertStoreOptions_DefaultsAndEmptyPath_AreValid()
    {
        Assert.Empty(new AlertStoreOptions().Validate());
        Assert.Equal("data/alerts.jsonl", new AlertStoreOptions().FilePath);
        Assert.Empty(new AlertStoreOptions { FilePath = "" }.Validate());
    }

    [Theory]
    [InlineData("  ", "Telemetry:Alerts:FilePath is blank")]
    [InlineData("data/", "Telemetry:Alerts:FilePath 'data/' names a directory, not a file.")]
    public void AlertStoreOptions_BadPath_NamesTheSetting(string path, string sentenceStart) =>
        Assert.StartsWith(sentenceStart, Assert.Single(new AlertStoreOptions { FilePath = path }.Validate()), StringComparison.Ordinal);

    [Fact]
    public async Task AddTimeSeriesSink_BadSetting_StopsTheHostWithTheSentence()
    {
        using var host = BuildHost(new() { ["Telemetry:TimeSeries:InfluxUrl"] = "htp:/x", ["Telemetry:TimeSeries:BatchSize"] = "0" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Telemetry:TimeSeries:InfluxUrl 'htp:/x' is not an absolute http(s) URL.", error.Message, StringComparison.Ordinal);
        Assert.Contains("Telemetry:TimeSeries:BatchSize 0 is outside 1..100000.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddAlertStore_BadSetting_StopsTheHostWithTheSentence()
    {
        using var host = BuildHost(new() { ["Telemetry:Alerts:FilePath"] = "alerts/" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Telemetry:Alerts:FilePath 'alerts/' names a directory, not a file.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddAlertStore_PostgresWithoutConnectionString_StopsTheHostWithTheSentence()
    {
        using var host = BuildHost(new() { ["Telemetry:Alerts:Store"] = "Postgres" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Telemetry:Alerts:ConnectionString is empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddAlertStore_Default_IsTheSqliteDatabase_WhichImportsTheOldAlertFileAtStart()
    {
        var file = Path.Combine(_root.Path, "alerts.jsonl");
        var alert = TestData.Alert("VINAAAAAAAAAAAAAA");
        await File.WriteAllTextAsync(file, System.Text.Json.JsonSerializer.Serialize(alert, TelemetryJson.Options) + "\n", TestContext.Current.CancellationToken);
        using var host = BuildHost(new() { ["Telemetry:Alerts:FilePath"] = file });
        await host.StartAsync(TestContext.Current.CancellationToken);

        var store = Assert.IsType<Telemetry.Storage.Cases.SqlAlertStore>(host.Services.GetRequiredService<IAlertStore>());
        Assert.Equal(Path.Combine(_root.Path, "telemetry.db"), store.Database.Description);
        Assert.True(File.Exists(Path.Combine(_root.Path, "telemetry.db")));
        Assert.Equal(alert.Revision, (await store.GetAsync(alert.Id, TestContext.Current.CancellationToken))!.Revision);
        await host.StopAsync(TestContext.Current.CancellationToken);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task AddTimeSeriesSink_BadJournalSetting_StopsTheHostWithTheSentence()
    {
        using var host = BuildHost(new() { ["Telemetry:Journal:SegmentBytes"] = "12" });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains("Telemetry:Journal:SegmentBytes 12 is outside 4096..4294967296.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddTimeSeriesSink_NoInfluxUrl_JournalsAndShipsToFilesRelativeToTheWorkingDirectory()
    {
        var root = $"ts-{Guid.NewGuid():N}";
        var files = Path.Combine(root, "timeseries");
        var journalDirectory = Path.Combine(root, "journal");
        try
        {
            using var host = BuildHost(new() { ["Telemetry:TimeSeries:FileDirectory"] = files, ["Telemetry:Journal:Directory"] = journalDirectory });
            await host.StartAsync(TestContext.Current.CancellationToken);

            Assert.IsType<JournalTimeSeriesSink>(host.Services.GetRequiredService<ITimeSeriesSink>());
            var journal = Assert.IsType<FileJournal>(host.Services.GetRequiredService<IJournal>());
            Assert.Equal(Path.GetFullPath(journalDirectory), journal.Directory);
            Assert.False(journal.Directory.StartsWith(_root.Path, StringComparison.Ordinal), "the content root is the build output, not where data goes");
            Assert.True(Directory.Exists(Path.GetFullPath(files)));
            await host.StopAsync(TestContext.Current.CancellationToken);
        }
        finally
        {
            Directory.Delete(Path.GetFullPath(root), recursive: true);
        }
    }

    private IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = _root.Path,
            DisableDefaults = true,
        });
        settings.TryAdd("Telemetry:Journal:Directory", Path.Combine(_root.Path, "journal"));
        settings.TryAdd("Telemetry:TimeSeries:FileDirectory", Path.Combine(_root.Path, "timeseries"));
        settings.TryAdd("Telemetry:Alerts:DatabasePath", Path.Combine(_root.Path, "telemetry.db"));
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddTimeSeriesSink().AddAlertStore();
        return builder.Build();
    }

    public void Dispose() => _root.Dispose();
}
