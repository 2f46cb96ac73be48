using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

public sealed class EpisodeTests
{
    private static Sample HighNox(int s) => s > 300 ? Drive.Warm(s) with { NoxDownstreamPpm = 800 } : Drive.Warm(s);

    private static DetectionOptions OneSecondAverage()
    {
        var o = new DetectionOptions();
        o.R1.AverageSeconds = 1;
        return o;
    }

    [Fact]
    public void R1_SustainedHighNoxWarmEngine_OpensOneEpisode()
    {
        var d = new Drive().Run(1500, HighNox);
        Assert.Equal(1, d.Opened("R1"));
        var a = d.First("R1");
        Assert.Equal(AlertSeverity.Warning, a.Severity);
        Assert.Equal(Alert.MakeId(Drive.Vin, "R1", a.StartUtc), a.Id);
        // 300 s of gated time after start, 30 s to fill the average, 300 s above the threshold.
        Assert.InRange((a.StartUtc - Drive.At(300)).TotalSeconds, 320, 340);
    }

    [Fact]
    public void R1_OpenedAlert_CarriesTheEpisodeStatisticsOfItsFirstSample()
    {
        var d = new Drive().Run(1500, HighNox);
        var opened = d.Changes.First(c => c.Kind == AlertChangeKind.Opened && c.Alert.RuleId == "R1").Alert;
        Assert.Equal(800, opened.Measured["maxMeanNoxPpm"], 3);
        Assert.Equal(800, opened.Measured["episodeMeanNoxPpm"], 3);
    }

    [Fact]
    public void R1_CleanWarmEngine_NoEpisode()
    {
        var d = new Drive().Run(3600);
        Assert.Empty(d.Changes);
    }

    [Fact]
    public void R1_AverageExactlyAtThreshold_NoEpisode_JustAboveOpens()
    {
        var at = new Drive(OneSecondAverage()).Run(1500, s => Drive.Warm(s) with { NoxDownstreamPpm = 500 });
        Assert.Equal(0, at.Opened("R1"));
        var above = new Drive(OneSecondAverage()).Run(1500, s => Drive.Warm(s) with { NoxDownstreamPpm = 500.05 });
        Assert.Equal(1, above.Opened("R1"));
    }

    [Fact]
    public void R1_ExceedingFor299Seconds_NoEpisode_300SecondsOpens()
    {
        static Func<int, Sample> Trace(int exceed) => s => s > 300 && s <= 300 + exceed ? Drive.Warm(s) with { NoxDownstreamPpm = 900 } : Drive.Warm(s);
        Assert.Equal(0, new Drive(OneSecondAverage()).Run(1200, Trace(299)).Opened("R1"));
        Assert.Equal(1, new Drive(OneSecondAverage()).Run(1200, Trace(300)).Opened("R1"));
    }

    [Fact]
    public void R1_ExceedanceSpreadWithinWindow_Counts()
    {
        // 40 s of every 60 s above: 300 s accumulate within 30 min although never contiguous.
        var d = new Drive(OneSecondAverage()).Run(1500, s => s > 300 && s % 60 < 40 ? Drive.Warm(s) with { NoxDownstreamPpm = 900 } : Drive.Warm(s));
        Assert.Equal(1, d.Opened("R1"));
    }

    [Fact]
    public void R1_ColdEngine_GatedOut()
    {
        var d = new Drive().Run(2000, s => HighNox(s) with { CoolantTempC = 60 });
        Assert.Equal(0, d.Opened("R1"));
    }

    [Fact]
    public void R1_ColdScr_GatedOut()
    {
        var d = new Drive().Run(2000, s => HighNox(s) with { ScrInletTempC = 240 });
        Assert.Equal(0, d.Opened("R1"));
    }

    [Fact]
    public void R1_WithinFirstFiveMinutesAfterEngineStart_GatedOut()
    {
        var o = OneSecondAverage();
        o.R1.MinExceedSeconds = 250;
        // Exceeds for the first 290 s after start only: all of it before the gate opens.
        var d = new Drive(o).Run(1200, s => s <= 290 ? Drive.Warm(s) with { NoxDownstreamPpm = 900 } : Drive.Warm(s));
        Assert.Equal(0, d.Opened("R1"));
    }

    [Fact]
    public void R1_MissingDownstreamNox_StaysSilentAndStatusNamesTheField()
    {
        var d = new Drive().Run(2000, s => Drive.Warm(s) with { NoxDownstreamPpm = double.NaN });
        Assert.Equal(0, d.Opened("R1"));
        var status = d.Detector.RuleStatuses.Single(r => r.RuleId == "R1");
        Assert.False(status.Active);
        Assert.Contains("noxDownstreamPpm", status.MissingFields);
        Assert.True(d.Detector.RuleStatuses.Single(r => r.RuleId == "R6").Active);
    }

    [Fact]
    public void R1_SensorNotReadyMinus200_IsNotAReading()
    {
        var d = new Drive(OneSecondAverage()).Run(1500, s => Drive.Warm(s) with { NoxDownstreamPpm = -200, NoxUpstreamPpm = -200 });
        Assert.Empty(d.Changes);
    }

    [Fact]
    public void Episode_ClosesAfterHysteresis_OfSampleTime()
    {
        var d = new Drive().Run(1200, HighNox).Run(1200);
        Assert.Equal(1, d.Opened("R1"));
        Assert.Equal(1, d.Closed("R1"));
        var closed = d.Last("R1");
        Assert.Equal(AlertStatus.Closed, closed.Status);
        Assert.Equal(closed.LastHeldUtc.AddMinutes(5), closed.EndUtc);
        // The NOx fell at second 1200; the last 30 s average above the threshold ends a few seconds later.
        Assert.InRange((closed.LastHeldUtc - Drive.At(1200)).TotalSeconds, 0, 30);
    }

    [Fact]
    public void Episode_ConditionReturnsWithinHysteresis_SameEpisode()
    {
        var d = new Drive().Run(1200, HighNox).Run(200).Run(600, s => Drive.Warm(s) with { NoxDownstreamPpm = 800 });
        Assert.Equal(1, d.Opened("R1"));
        Assert.Equal(0, d.Closed("R1"));
    }

    [Fact]
    public void Episode_Updates_AtMostOncePerMinuteOfSampleTime()
    {
        var d = new Drive().Run(3000, HighNox);
        var open = d.First("R1");
        var heldSeconds = (Drive.At(3000) - open.StartUtc).TotalSeconds;
        var updates = d.Updated("R1");
        Assert.InRange(updates, (heldSeconds / 60) - 2, (heldSeconds / 60) + 1);
        var revisions = d.Changes.Where(c => c.Alert.RuleId == "R1").Select(c => c.Alert.Revision).ToList();
        Assert.Equal(revisions.OrderBy(r => r), revisions);
    }

    [Fact]
    public void Episode_CloseWithoutData_OnClockAfterHysteresis()
    {
        var d = new Drive().Run(1200, HighNox);
        d.Send([], FrameKind.Logout);
        d.Silence(600);
        Assert.Equal(1, d.Closed("R1"));
        Assert.Equal(0, d.Opened("R9.offline"));
    }

    [Fact]
    public void Alert_CarriesEvidenceThresholdsMeasuredFleetRegionPositionAndSummary()
    {
        var d = new Drive().Run(1200, HighNox);
        var a = d.First("R1");
        Assert.Equal("FLEET-A", a.Fleet);
        Assert.Equal("Jinan", a.Region);
        Assert.Equal(500, a.Thresholds["noxPpm"]);
        Assert.Equal(800, a.Measured["meanNoxPpm"], 1);
        Assert.NotNull(a.Position);
        Assert.Equal(117.0, a.Position!.Value.Longitude, 6);
        Assert.Equal(d.Options.Episodes.EvidenceSamples, a.Evidence.Length);
        Assert.Equal(a.StartUtc, a.Evidence[^1].TimeUtc);
        Assert.All(a.Evidence, s => Assert.Equal(800, s.NoxDownstreamPpm));
        Assert.Contains("500 ppm", a.Summary, StringComparison.Ordinal);
        Assert.Equal("NOx concentration", a.RuleName);
    }

    [Fact]
    public void Dedup_EveryBatchTwice_SameEpisodesAndDuplicatesCounted()
    {
        var once = new Drive().Run(1500, HighNox);
        var twice = new Drive();
        var dup = 0;
        for (var f = 0; f < 150; f++)
        {
            var frame = Enumerable.Range((f * 10) + 1, 10).Select(HighNox).ToList();
            twice.Send(frame);
            dup += twice.Send(frame).Duplicates;
        }
        Assert.Equal(1500, dup);
        Assert.Equal(1500, twice.Accepted.Count);
        Assert.Equal(once.Opened("R1"), twice.Opened("R1"));
        Assert.Equal(once.First("R1").StartUtc, twice.First("R1").StartUtc);
    }

    [Fact]
    public void Dedup_DuplicateWithinOneBatch_DroppedOnce()
    {
        var d = new Drive();
        var r = d.Send([Drive.Warm(1), Drive.Warm(1), Drive.Warm(2)]);
        Assert.Equal(2, r.Accepted);
        Assert.Equal(1, r.Duplicates);
    }

    [Fact]
    public void OutOfOrder_SwappedFrames_NoSecondEpisode()
    {
        var d = new Drive();
        for (var f = 0; f < 150; f += 2)
        {
            var a = Enumerable.Range((f * 10) + 1, 10).Select(HighNox).ToList();
            var b = Enumerable.Range((f * 10) + 11, 10).Select(HighNox).ToList();
            d.Send(b);
            var late = d.Send(a);
            Assert.Equal(10, late.Late);
        }
        Assert.Equal(1, d.Opened("R1"));
        d.Detector.OnClock(Drive.At(1500).AddHours(1), d.Changes);
        Assert.Equal(1, d.Changes.Count(c => c.Kind == AlertChangeKind.Opened && c.Alert.RuleId == "R1"));
    }

    [Fact]
    public void Reissue_HoursOldDataOfCoveredPeriod_IsDuplicateAndOpensNothing()
    {
        var d = new Drive().Run(1500, HighNox);
        var before = d.Changes.Count;
        var old = Enumerable.Range(301, 1000).Select(HighNox).ToList();
        var r = d.Send(old, FrameKind.Reissue, received: Drive.At(1500).AddHours(3));
        Assert.Equal(1000, r.Duplicates);
        Assert.Equal(before, d.Changes.Count);
    }

    [Fact]
    public void Reissue_OfflineGapWithExceedance_ReportsOneCompletedEpisode()
    {
        // Clean until 1200, silent (stored) 1201-2700 with high NOx, clean live data after.
        var d = new Drive().Run(1200);
        var stored = Enumerable.Range(1201, 1500).Select(s => Drive.Warm(s) with { NoxDownstreamPpm = 800 }).ToList();
        var later = Enumerable.Range(2701, 600).Select(Drive.Warm).ToList();
        for (var i = 0; i < later.Count; i += 10)
            d.Send(later.GetRange(i, 10));
        for (var i = 0; i < stored.Count; i += 10)
        {
            var r = d.Send(stored.GetRange(i, 10), FrameKind.Reissue, received: Drive.At(3300));
            Assert.Equal(10, r.Reissued);
            Assert.Equal(10, r.Late);
        }
        // Re-issuing the same data again changes nothing.
        for (var i = 0; i < stored.Count; i += 10)
            Assert.Equal(10, d.Send(stored.GetRange(i, 10), FrameKind.Reissue, received: Drive.At(3310)).Duplicates);
        d.Detector.OnClock(Drive.At(3300).AddMinutes(10), d.Changes);
        Assert.Equal(1, d.Opened("R1"));
        var closed = d.Last("R1");
        Assert.Equal(AlertStatus.Closed, closed.Status);
        Assert.InRange(closed.StartUtc, Drive.At(1201), Drive.At(2700));
    }

    [Fact]
    public void CaptureRestore_KeepsOpenEpisodeDedupAndOfflineDetection()
    {
        var d = new Drive().Run(1200, HighNox);
        Assert.Equal(1, d.Opened("R1"));
        var state = d.Detector.Capture();

        var restored = new VehicleDetector(Drive.Vin, new DetectionOptions(), Drive.Vehicle());
        restored.Restore(state);
        var changes = new List<AlertChange>();
        var accepted = new List<Sample>();
        // Same data again: all duplicates.
        var again = new TelemetryBatch(Drive.Vin, FrameKind.RealTime, Drive.At(1191), 1, [.. Enumerable.Range(1191, 10).Select(HighNox)], [], Drive.At(1201));
        Assert.Equal(10, restored.OnBatch(again, changes, accepted).Duplicates);
        // The episode continues: updates, no new Opened.
        for (var f = 0; f < 60; f++)
        {
            var t = 1201 + (f * 10);
            restored.OnBatch(new TelemetryBatch(Drive.Vin, FrameKind.RealTime, Drive.At(t), 1, [.. Enumerable.Range(t, 10).Select(HighNox)], [], Drive.At(t + 10)), changes, accepted);
        }
        Assert.DoesNotContain(changes, c => c.Kind == AlertChangeKind.Opened && c.Alert.RuleId == "R1");
        Assert.Contains(changes, c => c.Kind == AlertChangeKind.Updated && c.Alert.Id == d.First("R1").Id);
        // Terminal silent while driving, seen after another restart.
        var state2 = restored.Capture();
        var third = new VehicleDetector(Drive.Vin, new DetectionOptions(), Drive.Vehicle());
        third.Restore(state2);
        third.OnClock(Drive.At(1800).AddSeconds(120), changes);
        Assert.Contains(changes, c => c.Kind == AlertChangeKind.Opened && c.Alert.RuleId == "R9.offline");
    }
}
