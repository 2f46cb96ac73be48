using Telemetry.Grains;

namespace Telemetry.Integration.Tests;

/// <summary>The estimate of how far behind ingest is (<see cref="IngestDelay"/>), on hand-made arrivals.</summary>
public sealed class IngestDelayTests
{
    private static readonly DateTime T0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void FramesOnTime_GiveNoAllowance()
    {
        var delay = new IngestDelay();
        for (var i = 0; i < 200; i++)
        {
            var arrival = T0.AddSeconds(i * 0.05);
            delay.Observe(arrival, arrival.AddSeconds(-2));
        }
        Assert.Equal(0, delay.Allowance(T0.AddSeconds(10)));
    }

    [Fact]
    public void ABacklogShared_ByMostFrames_IsTheAllowance_WhateverAQuarterOfThemSays()
    {
        var delay = new IngestDelay();
        for (var i = 0; i < 400; i++)
        {
            var arrival = T0.AddSeconds(i * 0.02);
            // Every fifth frame is from a terminal whose clock runs ahead (or a stale one from far back):
            // the lower quartile is still the backlog.
            var stamped = (i % 5) switch
            {
                0 => arrival.AddSeconds(30),
                1 => arrival.AddHours(-3),
                _ => arrival.AddSeconds(-95.5),
            };
            delay.Observe(arrival, stamped);
        }
        Assert.Equal(95, delay.Allowance(T0.AddSeconds(8)));
        Assert.Equal(T0.AddSeconds(8 - 95), delay.HorizonUtc(T0.AddSeconds(8)));
    }

    [Fact]
    public void TooFewFrames_GiveNoAllowance_HoweverLate()
    {
        var delay = new IngestDelay();
        for (var i = 0; i < IngestDelay.MinFrames - 1; i++)
        {
            delay.Observe(T0.AddSeconds(i * 0.1), T0.AddMinutes(-10));
        }
        Assert.Equal(0, delay.Allowance(T0.AddSeconds(5)));
        delay.Observe(T0.AddSeconds(5), T0.AddMinutes(-10));
        // One more frame makes enough; a new window is computed afresh.
        Assert.Equal(600, delay.Allowance(T0.AddSeconds(9)));
    }

    [Fact]
    public void OldWindows_AreForgotten_SoACaughtUpSiloGetsNoAllowance()
    {
        var delay = new IngestDelay();
        for (var i = 0; i < 100; i++)
        {
            delay.Observe(T0.AddSeconds(i * 0.05), T0.AddSeconds(-200));
        }
        Assert.Equal(200, delay.Allowance(T0.AddSeconds(4)), 0);
        // Nothing late since: once its window is no longer read the backlog is no longer counted.
        Assert.Equal(0, delay.Allowance(T0.AddSeconds(IngestDelay.WindowSeconds * IngestDelay.WindowsRead + 1)));
        // On-time frames after a late period: the lower quartile follows them.
        var later = T0.AddMinutes(1);
        for (var i = 0; i < 100; i++)
        {
            delay.Observe(later.AddSeconds(i * 0.04), later.AddSeconds(i * 0.04 - 1));
        }
        Assert.Equal(0, delay.Allowance(later.AddSeconds(4.5)));
    }

    [Fact]
    public void LongBacklogs_AreCountedInTenSecondSteps_AndNeverOverstated()
    {
        var delay = new IngestDelay();
        for (var i = 0; i < 100; i++)
        {
            delay.Observe(T0.AddSeconds(i * 0.01), T0.AddSeconds(-1234));
        }
        Assert.Equal(1230, delay.Allowance(T0.AddSeconds(2)));
    }

    [Fact]
    public void IngestStalled_HoldsTheHorizonWhereItWas_UntilTheBacklogArrives()
    {
        var delay = new IngestDelay();
        // A busy silo 20 s behind.
        for (var i = 0; i < 300; i++)
        {
            var arrival = T0.AddSeconds(i * 0.05);
            delay.Observe(arrival, arrival.AddSeconds(-20));
        }
        var stallStart = T0.AddSeconds(15);
        Assert.Equal(20, delay.Allowance(stallStart));
        var held = delay.HorizonUtc(stallStart);

        // The journal fills: no frame is taken for two minutes, and the pipeline says so every few seconds.
        for (var s = 0; s <= 120; s += 5)
        {
            delay.Stalled(stallStart.AddSeconds(s));
            Assert.Equal(held, delay.HorizonUtc(stallStart.AddSeconds(s)));
        }
        // Within the grace after the last signal the horizon is still held, though no frame arrived.
        Assert.Equal(held, delay.HorizonUtc(stallStart.AddSeconds(120) + IngestDelay.StallGrace - TimeSpan.FromSeconds(1)));

        // The backlog arrives, 150 s late: measured again, not held.
        var resumed = stallStart.AddSeconds(125);
        for (var i = 0; i < 1200; i++)
        {
            var arrival = resumed.AddSeconds(i * 0.05);
            delay.Observe(arrival, arrival.AddSeconds(-150));
        }
        var after = resumed.AddSeconds(59);
        Assert.True(after > stallStart.AddSeconds(120) + IngestDelay.StallGrace);
        Assert.Equal(150, delay.Allowance(after));
    }

    [Fact]
    public void NoStallSignal_NoFrames_GiveNoAllowance()
    {
        // Without the signal a silo that takes no frames looks like one that is on time: this is why
        // the pipeline must say when it stalls.
        var delay = new IngestDelay();
        for (var i = 0; i < 300; i++)
        {
            var arrival = T0.AddSeconds(i * 0.05);
            delay.Observe(arrival, arrival.AddSeconds(-20));
        }
        Assert.Equal(0, delay.Allowance(T0.AddSeconds(60)));
    }
}
