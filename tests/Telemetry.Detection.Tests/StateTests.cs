using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

/// <summary>Detector state survives a restart: every rule's state, mid-episode, through the serializer the grain stores it with.</summary>
public sealed class StateTests
{
    private static readonly Serializer Serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();

    // After warm-up: NOx far above limits and above upstream (R1, R2, R3, R5), no DPF pressure (R6), MIL on with a
    // fault (R7), no GNSS fix after 20 min (R9.position); the reagent level stays put while fuel burns (R4 with R3).
    private static Sample Tampered(int s) => s <= 300 ? Drive.Warm(s) : Drive.Warm(s) with
    {
        NoxDownstreamPpm = 800 + (s % 7),
        DpfPressureDropKpa = 0.2,
        PositionStatus = s > 1200 ? (byte)1 : (byte)0,
        FuelFlowLph = 90,
    };

    private static ObdSnapshot? Obd(int s) => s % 30 == 0 ? Drive.Obd(s, mil: s > 300, dtcs: s > 300 ? [0x00B3E101u] : []) : null;

    private static List<string> Describe(IEnumerable<AlertChange> changes) =>
    [
        .. changes.Select(c => string.Join('|', c.Kind, c.Alert.Id, c.Alert.Severity, c.Alert.StartUtc.ToString("O"), c.Alert.EndUtc?.ToString("O"),
            c.Alert.Revision, string.Join(',', c.Alert.Measured.Select(m => $"{m.Key}={m.Value}")))),
    ];

    [Theory]
    [InlineData(500)]
    [InlineData(1800)]
    [InlineData(3000)]
    public void CaptureMidEpisode_RestoreIntoFreshDetector_SameEpisodesAsUninterruptedRun(int split)
    {
        const int total = 5400;
        var whole = new Drive().Run(total, Tampered, Obd);

        var first = new Drive().Run(split, Tampered, Obd);
        var bytes = Serializer.SerializeToArray(first.Detector.Capture());
        var saved = Serializer.Deserialize<DetectorState>(bytes)!;
        Assert.Equal(DetectorState.CurrentVersion, saved.Version);
        var second = new Drive().ContinueAt(split);
        second.Detector.Restore(saved);
        second.Run(total - split, Tampered, Obd);

        var expected = Describe(whole.Changes.Skip(first.Changes.Count));
        Assert.Equal(Describe(first.Changes), Describe(whole.Changes.Take(first.Changes.Count)));
        Assert.Equal(expected, Describe(second.Changes));
        // The trace holds every one of these rules open at some split point.
        foreach (var rule in new[] { "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R9.position" })
            Assert.Contains(whole.Changes, c => c.Alert.RuleId == rule);
    }

    [Fact]
    public void RestoreJustBeforeAnEpisodeOpens_ItsEvidenceHoldsTheSamplesFromBeforeTheRestart()
    {
        const int total = 5400;
        var whole = new Drive().Run(total, Tampered, Obd);
        var opened = whole.Changes.First(c => c.Kind == AlertChangeKind.Opened && c.Alert.Evidence.Length >= 20);
        // Split 10 s before the newest evidence sample: most of the evidence came before the restart.
        var split = (int)(opened.Alert.Evidence[^1].TimeUtc - Drive.T0).TotalSeconds - 10;

        var first = new Drive().Run(split, Tampered, Obd);
        var saved = Serializer.Deserialize<DetectorState>(Serializer.SerializeToArray(first.Detector.Capture()))!;
        Assert.NotEmpty(saved.Live!.EvidencePacked);
        var second = new Drive().ContinueAt(split);
        second.Detector.Restore(saved);
        second.Run(total - split, Tampered, Obd);

        var again = second.Changes.Single(c => c.Kind == AlertChangeKind.Opened && c.Alert.Id == opened.Alert.Id);
        Assert.Equal(opened.Alert.Evidence.Length, again.Alert.Evidence.Length);
        Assert.Equal(opened.Alert.Evidence, again.Alert.Evidence);
        Assert.Contains(again.Alert.Evidence, e => e.TimeUtc < Drive.At(split));
    }

    [Fact]
    public void StateSavedBeforeEvidenceWasKept_LoadsAndGivesTheSameEpisodes()
    {
        const int total = 5400, split = 1800;
        var whole = new Drive().Run(total, Tampered, Obd);
        var first = new Drive().Run(split, Tampered, Obd);
        var state = Serializer.Deserialize<DetectorState>(Serializer.SerializeToArray(first.Detector.Capture()))!;
        state.Live!.EvidencePacked = [];
        state.Live.EvidenceWhole = [];
        var second = new Drive().ContinueAt(split);

        second.Detector.Restore(state);
        second.Run(total - split, Tampered, Obd);

        Assert.Equal(Describe(whole.Changes.Skip(first.Changes.Count)), Describe(second.Changes));
    }

    [Fact]
    public void Capture_SavesATypedStateForEveryRuleWithState()
    {
        var d = new Drive().Run(1800, Tampered, Obd);
        var state = Serializer.Deserialize<DetectorState>(Serializer.SerializeToArray(d.Detector.Capture()))!;
        var ids = state.Live!.RuleStates.Select(e => e.RuleId).ToHashSet();
        foreach (var rule in new[] { "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9.position", "R9.jump", "R9.fields", "R10", "Z" })
            Assert.Contains(rule, ids);
        Assert.Empty(state.Live.RuleNumbers);
    }

    [Fact]
    public void StateWrittenBySchemaVersion1_StillLoads_AndTheEpisodeContinues()
    {
        // Written by the previous release (rule state as a positional list) after 1500 s of 800 ppm with
        // OBD records naming CAL1/CVN1 every 30 s: R1, R2 and R3 episodes open.
        var path = Path.Combine(AppContext.BaseDirectory, "Resources", "detector-state-v1.b64");
        var state = Serializer.Deserialize<DetectorState>(Convert.FromBase64String(File.ReadAllText(path)))!;
        Assert.Equal(1, state.Version);
        var open = state.Live!.Episodes.ToDictionary(e => e.RuleId, e => e.Alert.Id);
        Assert.Contains("R1", open.Keys);

        var d = new Drive().ContinueAt(1500);
        d.Detector.Restore(state);
        // The same trace continues, then the truck is repaired; the ECU is reflashed at 2400 s.
        d.Run(1500, s => s < 2100 ? Drive.Warm(s) with { NoxDownstreamPpm = 800 } : Drive.Warm(s),
            s => s % 30 == 0 ? Drive.Obd(s, cal: s < 2400 ? "CAL1" : "CAL2", cvn: "CVN1") : null);

        // No second R1 episode: the saved one continues, updates and closes.
        Assert.Equal(0, d.Opened("R1"));
        Assert.Contains(d.Changes, c => c.Kind == AlertChangeKind.Updated && c.Alert.Id == open["R1"]);
        Assert.Contains(d.Changes, c => c.Kind == AlertChangeKind.Closed && c.Alert.Id == open["R1"]);
        // The R1 window came across: the update reports the saved exceed seconds plus the new ones.
        Assert.True(d.Changes.First(c => c.Alert.Id == open["R1"]).Alert.Measured["exceedSecondsInWindow"] > 1000);
        // The calibration baseline came across as text: a reflash is still a change.
        Assert.Equal(1, d.Opened("R8"));
        Assert.Contains("CAL1", d.First("R8").Summary, StringComparison.Ordinal);
    }
}
