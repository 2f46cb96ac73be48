using Telemetry.Fleet.Load;

namespace Telemetry.Integration.Tests;

/// <summary>What the load report names as the part that saturated first (no servers: the verdict alone).</summary>
public sealed class LoadSaturationTests
{
    private static readonly MachineInfo Machine = new(2, "test", 1L << 34, "Unix");
    private static readonly ProcessFigures[] Processes =
    [
        new("silo", 1, "proc", 60, 160, 0, 0, 0),
        new("broker", 2, "proc", 10, 20, 0, 0, 0),
        new("tsdb", 3, "proc", 36, 90, 0, 0, 0),
    ];

    [Fact]
    public void JournalAtItsCap_IsNamed_NotTheSiloCpu()
    {
        var (part, evidence) = LoadRun.Saturation(new LoadOptions(), Machine, Processes, generatorBound: false, acked: true, generatorCpu: 61,
            new LoadSnapshot { InFlight = 20 }, journalFullRejections: 323_157);

        Assert.Equal("journal", part);
        Assert.Contains("refused 323157 appends", evidence, StringComparison.Ordinal);
        Assert.Contains("4033", evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void NoRefusedAppend_LagWithTheBrokerOnTime_IsTheSilo()
    {
        var (part, _) = LoadRun.Saturation(new LoadOptions(), Machine, Processes, generatorBound: false, acked: true, generatorCpu: 61,
            new LoadSnapshot { InFlight = 20 }, journalFullRejections: 0);

        Assert.Equal("silo", part);
    }

    [Fact]
    public void LateFrames_OnAMachineWhoseCoresWereAllBusy_AreTheMachine_NotTheGenerator()
    {
        // 200,000 trucks on 2 cores: generator 22 %, silo 110 %, broker 18 %, TSDB 44 % of one core.
        ProcessFigures[] busy = [new("silo", 1, "proc", 110, 160, 0, 0, 0), new("broker", 2, "proc", 18, 37, 0, 0, 0), new("tsdb", 3, "proc", 44, 70, 0, 0, 0)];

        var (part, evidence) = LoadRun.Saturation(new LoadOptions(), Machine, busy, generatorBound: true, acked: true, generatorCpu: 22,
            new LoadSnapshot { InFlight = 20 }, journalFullRejections: 0);

        Assert.Equal("machine", part);
        Assert.Contains("194% of its 200%", evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void LateFrames_FromAGeneratorUsingItsCore_AreTheGenerator()
    {
        var (part, _) = LoadRun.Saturation(new LoadOptions(), Machine, Processes, generatorBound: true, acked: true, generatorCpu: 97,
            new LoadSnapshot { InFlight = 20 }, journalFullRejections: 0);

        Assert.Equal("generator", part);
    }
}
