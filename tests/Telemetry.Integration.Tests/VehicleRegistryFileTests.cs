using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Telemetry.Silo;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>The registry file is loaded at start and replaced at run time; a broken file keeps the previous registry.</summary>
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
            using var registry = new FileVehicleRegistry(options, NullLogger<FileVehicleRegistry>.Instance);
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
}
