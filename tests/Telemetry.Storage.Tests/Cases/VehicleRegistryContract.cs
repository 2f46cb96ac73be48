using Telemetry.Abstractions;
using Telemetry.Storage.Cases;

namespace Telemetry.Storage.Tests.Cases;

/// <summary>The vehicle registry, on every provider of the alert database (SQLite and PostgreSQL run this part of the contract too).</summary>
public abstract partial class AlertDatabaseContract
{
    private static readonly VehicleInfo RegNorth = new()
    {
        Vin = "LREGSTORE00000001", Fleet = "north", Region = "370100", EngineModel = "WP13, 480 hp", ReferenceTorqueNm = 2300.5,
        EmissionStage = "China VI", TerminalProfile = "signedRecords", TerminalPublicKey = "04" + new string('C', 128),
    };

    private static readonly VehicleInfo RegBare = new() { Vin = "LREGSTORE00000002" };

    [Fact]
    public async Task Registry_ImportKeepsEveryField_CountsWhatChanged_AndRaisesTheVersionOnlyOnAChange()
    {
        var registry = new SqlVehicleRegistryStore(CreateDatabase(), Time);
        var start = await registry.VersionAsync(Ct);

        Assert.Equal(new RegistryImportResult(2, 0, 0, 0), await registry.ImportAsync([RegNorth, RegBare], replace: false, Ct));
        var afterAdd = await registry.VersionAsync(Ct);
        Assert.True(afterAdd > start);
        Assert.Equal([RegNorth, RegBare], await registry.ListAsync(Ct));

        // The same records again change nothing, not even the version (silos do not reload for nothing).
        Assert.Equal(new RegistryImportResult(0, 0, 2, 0), await registry.ImportAsync([RegBare, RegNorth], replace: false, Ct));
        Assert.Equal(afterAdd, await registry.VersionAsync(Ct));

        // A VIN named twice: the last entry wins.
        var moved = RegBare with { Fleet = "south" };
        Assert.Equal(new RegistryImportResult(0, 1, 0, 0), await registry.ImportAsync([RegBare with { Fleet = "east" }, moved], replace: false, Ct));
        var (version, vehicles) = await registry.SnapshotAsync(Ct);
        Assert.True(version > afterAdd);
        Assert.Equal([RegNorth, moved], vehicles);
    }

    [Fact]
    public async Task Registry_ReplaceRemovesWhatTheImportDoesNotName_AndRemoveTakesOneVehicle()
    {
        var registry = new SqlVehicleRegistryStore(CreateDatabase(), Time);
        await registry.ImportAsync([RegNorth, RegBare], replace: false, Ct);

        Assert.Equal(new RegistryImportResult(0, 0, 1, 1), await registry.ImportAsync([RegNorth], replace: true, Ct));
        Assert.Equal([RegNorth], await registry.ListAsync(Ct));

        var before = await registry.VersionAsync(Ct);
        Assert.True(await registry.RemoveAsync(RegNorth.Vin, Ct));
        Assert.False(await registry.RemoveAsync(RegNorth.Vin, Ct));
        Assert.True(await registry.VersionAsync(Ct) > before);
        Assert.Empty(await registry.ListAsync(Ct));
    }
}
