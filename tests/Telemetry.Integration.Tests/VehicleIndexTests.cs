using Telemetry.Grains;

namespace Telemetry.Integration.Tests;

/// <summary>What the vehicle index hands out for sharing with the cluster.</summary>
public sealed class VehicleIndexTests
{
    private static readonly DateTime T0 = new(2026, 5, 1, 8, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void TakeUnshared_OffersANewVehicleOnce_AndAgainOnlyAfterItsArrivalMovedOnByTheStep()
    {
        var index = new VehicleIndex();
        index.Update("LIDX0000000000001", T0, needsClock: true);
        index.Update("LIDX0000000000002", T0, needsClock: false);
        var step = TimeSpan.FromMinutes(1);

        Assert.Equal(["LIDX0000000000001", "LIDX0000000000002"], index.TakeUnshared(step).Select(t => t.Vin).Order(StringComparer.Ordinal));
        Assert.Empty(index.TakeUnshared(step));

        index.Update("LIDX0000000000001", T0.AddSeconds(50), needsClock: true);
        Assert.Empty(index.TakeUnshared(step));
        index.Update("LIDX0000000000001", T0.AddSeconds(60), needsClock: true);
        Assert.Equal([("LIDX0000000000001", T0.AddSeconds(60))], index.TakeUnshared(step));
    }

    [Fact]
    public void Unshare_OffersTheVehiclesOfAFailedShareAgain()
    {
        var index = new VehicleIndex();
        index.Update("LIDX0000000000003", T0, needsClock: false);
        var taken = index.TakeUnshared(TimeSpan.FromMinutes(1));
        index.Unshare(taken);
        Assert.Equal(taken, index.TakeUnshared(TimeSpan.FromMinutes(1)));
    }
}
