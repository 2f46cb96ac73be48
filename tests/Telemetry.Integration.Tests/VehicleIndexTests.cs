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

    [Fact]
    public void SaveTags_NameThePassOfTheFirstUnsavedRecord_UntilTheStateIsSaved()
    {
        var index = new VehicleIndex();
        var a = index.SaveTagOf("LIDX0000000000004");
        var b = index.SaveTagOf("LIDX0000000000005");
        Assert.Same(a, index.SaveTagOf("LIDX0000000000004"));
        var (none, noneStale) = index.UnsavedState(long.MaxValue);
        Assert.Equal(0, none);
        Assert.Empty(noneStale);

        a.Unsaved(index);                     // pass 1
        Assert.Equal(2, index.BeginPass());
        a.Unsaved(index);                     // already tagged: stays at pass 1
        b.Unsaved(index);                     // pass 2
        Assert.Equal(1, a.Since);
        Assert.Equal(2, b.Since);
        var (oldest, stale) = index.UnsavedState(staleThrough: 1);
        Assert.Equal(1, oldest);
        Assert.Equal(["LIDX0000000000004"], stale);

        a.Saved();
        Assert.Equal(2, index.UnsavedState(0).OldestPass);

        // Released: its records up to the current pass no longer hold the cursor; a saved vehicle stays saved.
        index.BeginPass();
        Assert.False(index.Release("LIDX0000000000004"));   // saved: nothing to let go
        Assert.True(index.Release("LIDX0000000000005"));
        Assert.False(index.Release("LIDX0000000000005"));   // already let go up to this pass
        Assert.Equal(3, b.Since);
        Assert.Equal(0, a.Since);
        b.Saved();
        Assert.Equal(0, index.UnsavedState(long.MaxValue).OldestPass);
    }

    [Fact]
    public void SaveTag_ASaveInsideOneMessagesCall_DoesNotCoverAMessageArchivedBesideIt()
    {
        var index = new VehicleIndex();
        var tag = index.SaveTagOf("LIDX0000000000006");
        tag.Arriving(index);            // message 1: tagged, then archived beside its grain call (pass 1)
        tag.Unsaved(index);             // its grain call begins
        index.BeginPass();
        tag.Arriving(index);            // message 2 archived while the grain evaluates message 1
        tag.Saved(covering: 1);         // saved inside message 1's call: message 2's raw record is not covered
        Assert.Equal(1, tag.Since);
        tag.Arrived();                  // message 1 done
        tag.Saved(covering: 1);         // saved inside message 2's call: everything is covered
        Assert.Equal(0, tag.Since);
        tag.Arrived();
        Assert.Equal(0, tag.Pending);

        // A save outside a message's call (the sweep's) covers no pending message.
        tag.Arriving(index);
        tag.Saved();
        Assert.Equal(2, tag.Since);
        tag.Arrived();
        tag.Saved();
        Assert.Equal(0, tag.Since);
    }
}
