using Telemetry.Silo;

namespace Telemetry.Integration.Tests;

/// <summary>
/// The sweep's bookkeeping of vehicles whose clock could not be advanced: they are called again, hold the
/// grain-state cursor until a call succeeds, and are given up on after <see cref="SweepFailures.MaxPasses"/> passes.
/// </summary>
public sealed class SweepFailuresTests
{
    [Fact]
    public void FailedVehicle_IsRetried_AndHoldsTheCursorUntilACallSucceeds()
    {
        var failures = new SweepFailures();
        Assert.False(failures.HoldCursor);

        failures.Record(["A", "B", "C"], ["B"]);
        Assert.True(failures.HoldCursor);
        Assert.Equal(["B"], failures.Retry);

        failures.Record(["A", "B"], ["B"]); // still failing
        Assert.True(failures.HoldCursor);

        failures.Record(["B", "D"], []); // the retry went through: its state is saved
        Assert.False(failures.HoldCursor);
        Assert.Empty(failures.Retry);
    }

    [Fact]
    public void VehicleFailingEveryPass_IsGivenUpOnAfterMaxPasses_SoTheCursorMovesAgain()
    {
        var failures = new SweepFailures();
        Assert.Equal(SweepFailures.DefaultMaxPasses, failures.MaxPasses);
        for (var pass = 1; pass < failures.MaxPasses; pass++)
        {
            Assert.Empty(failures.Record(["X", "Y"], ["X"]));
            Assert.True(failures.HoldCursor);
        }

        var givenUp = failures.Record(["X"], ["X"]);

        Assert.Equal(["X"], givenUp);
        Assert.False(failures.HoldCursor);
        // Failing again later starts a new count.
        Assert.Empty(failures.Record(["X"], ["X"]));
        Assert.True(failures.HoldCursor);
    }

    [Fact]
    public void FailureWhileTheJournalIsFull_IsRetried_ButNeverHoldsTheCursor()
    {
        // Holding the cursor while the journal is full would keep it full: the grain's write waits for space
        // that only a moving cursor frees (a 100,000-truck run stopped ingest so).
        var failures = new SweepFailures();
        failures.Record(["A", "B"], ["A"]);
        Assert.True(failures.HoldCursor);

        failures.Record(["A", "B"], [], retryOnly: ["A", "B"]);

        Assert.False(failures.HoldCursor);
        Assert.Equal(0, failures.Holding);
        Assert.Equal(["A", "B"], failures.Retry.Order());

        failures.Record(["A", "B"], []); // both went through
        Assert.Empty(failures.Retry);
    }
}
