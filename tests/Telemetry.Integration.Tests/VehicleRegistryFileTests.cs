using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Silo;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The registry in force: a file, loaded at start and replaced at run time (a broken file keeps the previous registry),
/// or the database's, reloaded when another process changes it.
/// </summary>
public sealed class VehicleRegistryFileTests
{
    private const string Vin = "LSJMREGISTRY00001";

    [Fact]
    public async Task RegistryFile_ChangedAtRunTime_IsReloaded_AndABrokenFileKeepsThePreviousOne()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("telemetry-registry-");
        var path = Path.Combine(directory.FullName, "registry.json");
        try
        {
            await File.WriteAllTextAsync(path, $$"""[{"vin":"{{Vin}}","fleet":"Fleet A","referenceTorqueNm":2200}]""", ct);
            var options = Options.Create(new ReferenceDataOptions { RegistryPath = path, ReloadInterval = TimeSpan.FromSeconds(1) });
            using var registry = new ReferenceVehicleRegistry(options, Database(directory), NullLogger<ReferenceVehicleRegistry>.Instance);
            Assert.Equal(RegistrySource.File, registry.Source);
            await registry.StartAsync(ct);
            Assert.Equal("Fleet A", registry.Find(Vin)?.Fleet);
            Assert.Equal(2200, registry.Find(Vin)?.ReferenceTorqueNm);

            await File.WriteAllTextAsync(path, $$"""[{"vin":"{{Vin}}","fleet":"Fleet B"}]""", ct);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
            await Eventually.WaitAsync(() => registry.Find(Vin)?.Fleet == "Fleet B", TimeSpan.FromSeconds(10), "the changed file should be reloaded", ct);

            await File.WriteAllTextAsync(path, "[{ this is not json", ct);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(2));
            await Task.Delay(TimeSpan.FromSeconds(2.5), ct);
            Assert.Equal("Fleet B", registry.Find(Vin)?.Fleet);
            await registry.StopAsync(ct);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task RegistryInTheDatabase_ChangedByAnotherProcess_IsReloaded_WithoutAFile()
    {
        var ct = TestContext.Current.CancellationToken;
        var directory = Directory.CreateTempSubdirectory("telemetry-registry-");
        try
        {
            var options = Options.Create(new ReferenceDataOptions { ReloadInterval = TimeSpan.FromSeconds(1) });
            using var registry = new ReferenceVehicleRegistry(options, Database(directory), NullLogger<ReferenceVehicleRegistry>.Instance);
            await registry.StartAsync(ct);
            Assert.Equal(RegistrySource.Database, registry.Source);
            Assert.Null(registry.Find(Vin));

            // Another store on the same file stands for the CLI or another silo.
            var other = Database(directory);
            await other.ImportAsync([new VehicleInfo { Vin = Vin, Fleet = "Fleet A", ReferenceTorqueNm = 2200 }], replace: false, ct);
            await Eventually.WaitAsync(() => registry.Find(Vin)?.Fleet == "Fleet A", TimeSpan.FromSeconds(10), "the imported vehicle should be loaded", ct);
            Assert.Equal(2200, registry.Find(Vin)?.ReferenceTorqueNm);

            Assert.True(await other.RemoveAsync(Vin, ct));
            await Eventually.WaitAsync(() => registry.Find(Vin) is null, TimeSpan.FromSeconds(10), "the removed vehicle should be gone", ct);
            await registry.StopAsync(ct);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static SqlVehicleRegistryStore Database(DirectoryInfo directory) =>
        new(CaseDatabase.Sqlite(Path.Combine(directory.FullName, "telemetry.db")), TimeProvider.System);
}
