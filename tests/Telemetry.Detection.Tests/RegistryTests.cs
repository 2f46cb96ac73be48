using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Telemetry.Abstractions;
using Telemetry.Detection.Rules;

namespace Telemetry.Detection.Tests;

public sealed class RegistryTests
{
    [Fact]
    public void DefaultRegistry_EveryRuleOnce_DependenciesComeFirst()
    {
        var all = RuleRegistry.Create(new DetectionOptions()).All;
        var ids = all.Select(r => r.Id).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.Equal(["R10", "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9.offline", "R9.position", "R9.jump", "R9.clock", "R9.fields", "R9.checkcode", "R9.removal", "Z", "R9.signature"], ids);
        foreach (var r in all)
        {
            foreach (var d in r.DependsOn)
                Assert.True(ids.IndexOf(d) < ids.IndexOf(r.Id), $"{r.Id} reads {d}");
        }
    }

    [Fact]
    public void Thresholds_SameSettings_OneSharedDictionary_OtherSettings_Their_Own()
    {
        // Each vehicle builds its own rules; identical thresholds must not be held once per vehicle.
        var a = RuleRegistry.Create(new DetectionOptions()).All;
        var b = RuleRegistry.Create(new DetectionOptions()).All;
        for (var i = 0; i < a.Length; i++)
            Assert.Same(a[i].Thresholds, b[i].Thresholds);

        var stricter = new DetectionOptions();
        stricter.R1.ThresholdPpm = 400;
        var c = RuleRegistry.Create(stricter).All;
        Assert.Equal(400, c[1].Thresholds["noxPpm"]);
        Assert.Equal(500, a[1].Thresholds["noxPpm"]);
        Assert.Same(a[2].Thresholds, c[2].Thresholds);
    }

    [Fact]
    public void Registry_RuleBeforeTheRuleItReads_IsRefused()
    {
        var o = new DetectionOptions();
        var e = Assert.Throws<InvalidOperationException>(() => new RuleRegistry([new R4UreaTampering(o.R4, o.Episodes), new R3ScrEfficiency(o.R3)]));
        Assert.Contains("R4 reads the result of R3", e.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => new RuleRegistry([new R6DpfRemoved(o.R6), new R6DpfRemoved(o.R6)]));
    }

    [Fact]
    public void Registry_OutOfTheUsualOrder_RunsEveryRuleThroughTheGeneralPath()
    {
        var o = new DetectionOptions();
        var registry = new RuleRegistry([new R6DpfRemoved(o.R6), new R9PositionJump(o.R9), new R10ScrTemperature(o.R10)]);
        var detector = new VehicleDetector(Drive.Vin, o, Drive.Vehicle());
        var episodes = new Episodes(new Evaluator(detector, backfill: false), detector, registry.All);
        var changes = new List<AlertChange>();
        episodes.Attach(changes);
        for (var s = 1; s <= 900; s++)
        {
            var sample = Drive.Warm(s) with { DpfPressureDropKpa = 0.1, Longitude = s == 700 ? 118.0 : 117.0 };
            var c = new SampleContext
            {
                Second = Drive.At(s).Ticks / TimeSpan.TicksPerSecond, Minute = Drive.At(s).Ticks / TimeSpan.TicksPerMinute, Dt = 1,
                Present = FieldMasks.Present(sample), Running = true, ExhaustKgph = 825, ReferenceTorqueNm = 2200, ScrEfficiencyLowSecond = long.MinValue,
            };
            registry.Evaluate(sample, ref c, episodes);
        }
        Assert.Contains(changes, x => x.Kind == AlertChangeKind.Opened && x.Alert.RuleId == "R6");
        Assert.Contains(changes, x => x.Kind == AlertChangeKind.Opened && x.Alert.RuleId == "R9.jump");
    }

    [Fact]
    public void EveryRuleState_RoundTripsThroughTheSerializer_AsItsOwnType()
    {
        var serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
        foreach (var r in RuleRegistry.Create(new DetectionOptions()).All)
        {
            if (r.CaptureState() is not { } st)
                continue;
            var back = serializer.Deserialize<RuleState>(serializer.SerializeToArray(st));
            Assert.IsType(st.GetType(), back);
            Assert.Equal(1, back!.Version);
            // A state of another rule's type is not taken: the rule starts fresh instead of misreading it.
            r.RestoreState(new R8ObdTampering.RuleData { CalibrationId = "X" });
            Assert.IsType(st.GetType(), r.CaptureState());
        }
    }
}
