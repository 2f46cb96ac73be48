extern alias cli;

using Microsoft.Extensions.DependencyInjection;
using Telemetry.Fleet.Load;
using Telemetry.Simulation;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// <c>load --device-secrets</c> against a silo's embedded broker, where devices must authenticate: each truck
/// connects on its own with the secret <c>telemetry-cli devices add-many</c> issued for its VIN, as terminals do.
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)]
public sealed class LoadDeviceCredentialsTests : IDisposable
{
    private const int Vehicles = 60;
    private const string Prefix = "LDEVC";
    private readonly string _dir = Directory.CreateTempSubdirectory("telemetry-load-devices-").FullName;

    public void Dispose() => TempDirectory.Delete(_dir);

    [Fact]
    public async Task LoadRun_OneConnectionPerTruckWithItsOwnSecret_StoresEverySampleOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var tsdb = await VictoriaMetricsServer.StartAsync(deduplicate: false, ct);
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(tsdb.Url);
        var secretsFile = IssueSecrets(silo);

        // The file the CLI wrote: one VIN,secret line per truck, readable by its owner only.
        var secrets = LoadOptions.ReadDeviceSecrets(secretsFile);
        Assert.Equal(Vehicles, secrets.Count);
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secretsFile));
        var options = Options(silo, tsdb, secrets);
        Assert.Empty(options.Validate());

        var report = await LoadRun.RunAsync(options, progress: null, ct);

        Assert.True(report.Passed, string.Join(Environment.NewLine, report.Reasons));
        Assert.Equal(Vehicles, Convert.ToInt32(report.Settings["connections"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(Vehicles, silo.Ingest.BrokerTotal("connected:device"));
        Assert.Equal(0, silo.Ingest.BrokerTotal("connected:anonymous"));
        Assert.Equal(report.Offered.Frames, report.Acknowledged.Frames);
        var verified = Assert.IsType<TsdbVerification>(report.Verified);
        Assert.Equal(Vehicles, verified.Vehicles);
        Assert.Equal(report.Offered.Samples, verified.DistinctSamples);
        Assert.Equal(0, verified.Duplicated);
        Assert.Equal(0, silo.Ingest.Totals.Rejected);
    }

    [Fact]
    public async Task LoadRun_MoreTrucksThanTheBrokerTakes_StopsBeforeItStarts_NamingAVin()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Mqtt:MaxConnections"] = "40",
        });
        var secrets = LoadOptions.ReadDeviceSecrets(IssueSecrets(silo));

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => LoadRun.RunAsync(Options(silo, tsdb: null, secrets), progress: null, ct));

        Assert.Matches($"Vehicle {Prefix}[0-9A-HJ-NPR-Z]+: ", failure.Message);
        Assert.True(silo.Ingest.BrokerTotal("connection:tooManyConnections") >= 1);
    }

    [Fact]
    public async Task LoadRun_ATruckWithAWrongSecret_IsRefused_AndTheRunNamesIt()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var silo = await SiloUnderTest.StartEmbeddedAsync(influxUrl: null);
        var secrets = LoadOptions.ReadDeviceSecrets(IssueSecrets(silo));
        var wrong = Vins.Make(7, Prefix);
        secrets[wrong] = "not-its-secret";

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => LoadRun.RunAsync(Options(silo, tsdb: null, secrets), progress: null, ct));

        Assert.Contains(wrong, failure.Message, StringComparison.Ordinal);
        Assert.Contains("bad user name or password", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_SecretsMissingForSomeVehicles_SayWhichAndHowToIssueThem()
    {
        var secrets = Enumerable.Range(0, 10).ToDictionary(i => Vins.Make(i, Prefix), _ => "s", StringComparer.Ordinal);

        var errors = new LoadOptions { Vehicles = 12, VinPrefix = Prefix, DeviceSecrets = secrets, Username = "@operator" }.Validate().ToList();

        Assert.Contains(errors, e => e.Contains("leave out --username", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains($"no secret for 2 of the 12 vehicles' VINs (the first: {Vins.Make(10, Prefix)})", StringComparison.Ordinal)
            && e.Contains("devices add-many", StringComparison.Ordinal));
    }

    /// <summary>Issues the secrets of the run's VINs with <c>telemetry-cli devices add-many</c> on the silo's database; returns the file.</summary>
    private string IssueSecrets(SiloUnderTest silo)
    {
        var vins = Path.Combine(_dir, "vins.txt");
        File.WriteAllLines(vins, Enumerable.Range(0, Vehicles).Select(i => Vins.Make(i, Prefix)));
        var secrets = Path.Combine(_dir, $"secrets-{Guid.NewGuid():N}.csv");
        using var stdout = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        var exit = cli::Telemetry.Cli.CliApp.Run(
            ["devices", "add-many", "--database", Path.Combine(silo.DataDirectory, "telemetry.db"), "--vins", vins, "--out", secrets],
            Stream.Null, stdout, stderr);
        Assert.True(exit == 0, stderr.ToString());
        Assert.Contains($"Added {Vehicles} devices", stderr.ToString(), StringComparison.Ordinal);
        Assert.Equal("", stdout.ToString()); // secrets go to the file only
        return secrets;
    }

    private static LoadOptions Options(SiloUnderTest silo, VictoriaMetricsServer? tsdb, Dictionary<string, string> secrets) => new()
    {
        Vehicles = Vehicles,
        Duration = TimeSpan.FromSeconds(20),
        Host = "127.0.0.1",
        Port = silo.MqttPort,
        DeviceSecrets = secrets,
        FaultShare = 0,
        HistorySeconds = 5,
        TsdbUrl = tsdb?.Url,
        ApiUrl = silo.ApiUrl,
        ApiKey = File.ReadAllText(silo.AdminKeyFile),
        VinPrefix = Prefix,
        MaxLagSeconds = 60,
        DrainTimeout = TimeSpan.FromSeconds(90),
        SampleInterval = TimeSpan.FromMilliseconds(500),
    };
}
