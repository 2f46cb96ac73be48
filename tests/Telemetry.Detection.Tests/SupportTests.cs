using Telemetry.Abstractions;
using Telemetry.Simulation;

namespace Telemetry.Detection.Tests;

public sealed class SupportTests
{
    [Fact]
    public void Options_Defaults_AreValid()
    {
        Assert.Empty(new DetectionOptions().Validate());
    }

    [Fact]
    public void Options_BadSettings_SentencesNameThem()
    {
        var o = new DetectionOptions();
        o.Episodes.HysteresisSeconds = 0;
        o.R1.MinExceedSeconds = 5000;
        o.R2.AdvisoryMgPerKWh = 2000;
        var errors = o.Validate().ToList();
        Assert.Contains(errors, e => e.Contains("Episodes:HysteresisSeconds", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("R1", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("R2:AdvisoryMgPerKWh", StringComparison.Ordinal));
    }

    [Fact]
    public void Dedup_RandomDeliveryOrderWithRepeats_AcceptsEachSecondOnce()
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var rng = new Random(seed);
            // Every second once, 30 % of them again, each delivered up to two minutes late.
            var seconds = Enumerable.Range(1, 3000).Concat(Enumerable.Range(1, 3000).Where(_ => rng.NextDouble() < 0.3))
                .OrderBy(s => s + rng.Next(0, 120)).ToList();
            var d = new Drive();
            int accepted = 0, dups = 0;
            foreach (var chunk in seconds.Chunk(10))
            {
                var r = d.Send([.. chunk.Select(Drive.Warm)]);
                accepted += r.Accepted;
                dups += r.Duplicates;
            }
            Assert.Equal(3000, accepted);
            Assert.Equal(seconds.Count - 3000, dups);
            Assert.Equal(1, d.Detector.CoveredRangeCount);
        }
    }

    [Fact]
    public void Dedup_MoreGapsThanMaxRanges_OldestForgottenAndNotEvaluatedAgain()
    {
        var o = new DetectionOptions();
        o.Dedup.MaxRanges = 16;
        var d = new Drive(o);
        for (var gap = 0; gap < 40; gap++)
            d.Send([.. Enumerable.Range(gap * 100, 10).Select(Drive.Warm)]);
        Assert.Equal(16, d.Detector.CoveredRangeCount);
        var again = d.Send([.. Enumerable.Range(0, 10).Select(Drive.Warm)]);
        Assert.Equal(10, again.TooOld);
        Assert.Equal(0, again.Late);
    }

    [Fact]
    public void Dedup_MemoryIsOneRangePerGap()
    {
        var d = new Drive();
        for (var gap = 0; gap < 50; gap++)
            d.Send([.. Enumerable.Range(gap * 100, 60).Select(Drive.Warm)]);
        Assert.Equal(50, d.Detector.CoveredRangeCount);
    }

    [Fact]
    public void Registry_JsonAndCsv_ParseAndReplaceAtomically()
    {
        var reg = new VehicleRegistry();
        reg.Load("""[{"vin":"LTEST000000000001","fleet":"A","region":"Jinan","referenceTorqueNm":2200,"emissionStage":"China VI"}]""");
        Assert.Equal(2200, reg.Find("LTEST000000000001")!.ReferenceTorqueNm);
        reg.Load("vin,fleet,region,engineModel,referenceTorqueNm,emissionStage\nLTEST000000000002,B,Zibo,D11,1900,China VI\n");
        Assert.Null(reg.Find("LTEST000000000001"));
        Assert.Equal("B", reg.Find("LTEST000000000002")!.Fleet);
        Assert.Equal(2, reg.Generation);
        var ex = Assert.Throws<FormatException>(() => reg.Load("vin,referenceTorqueNm\nLTEST000000000003,abc\n"));
        Assert.Contains("line 2", ex.Message, StringComparison.Ordinal);
        Assert.NotNull(reg.Find("LTEST000000000002"));
    }

    [Fact]
    public void Registry_CsvAndJsonWriters_ReadBackToTheSameRecords_QuotesAndCommentsIncluded()
    {
        VehicleInfo[] vehicles =
        [
            new() { Vin = "LTEST000000000001", Fleet = "Fleet \"A\", North", Region = "370100", EngineModel = "WP13, 480 hp", ReferenceTorqueNm = 2300.25,
                EmissionStage = "China VI", TerminalProfile = "signedRecords", TerminalPublicKey = "04" + new string('D', 128) },
            new() { Vin = "LTEST000000000002" },
        ];
        var csv = VehicleRegistry.ToCsv(vehicles);
        Assert.StartsWith(string.Join(',', VehicleRegistry.CsvColumns) + "\n", csv, StringComparison.Ordinal);
        Assert.Equal(vehicles, VehicleRegistry.Parse(csv));
        Assert.Equal(vehicles, VehicleRegistry.Parse(VehicleRegistry.ToJson(vehicles)));
        Assert.Equal(vehicles, VehicleRegistry.Parse("# exported by hand\n\n" + csv.Replace("\n", "\r\n", StringComparison.Ordinal)));
        Assert.Empty(VehicleRegistry.Parse("vin,fleet\n"));
        var noVin = Assert.Throws<FormatException>(() => VehicleRegistry.Parse("fleet,region\nA,B\n"));
        Assert.Contains("no vin column", noVin.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zones_BadGeoJson_Throws_HoursParsed()
    {
        Assert.Throws<FormatException>(() => ZoneIndex.FromGeoJson("{not json"));
        var z = ZoneIndex.FromGeoJson(ScenarioSuite.JinanZoneGeoJson);
        Assert.True(z.Find(117.0, 36.65, new DateTime(2025, 6, 2, 2, 0, 0, DateTimeKind.Utc))!.Value.Restricted);
        Assert.False(z.Find(117.0, 36.65, new DateTime(2025, 6, 2, 15, 0, 0, DateTimeKind.Utc))!.Value.Restricted);
        Assert.Null(z.Find(120.0, 36.65, new DateTime(2025, 6, 2, 2, 0, 0, DateTimeKind.Utc)));
    }

    [Fact]
    public void Vins_AreValidAndUnique()
    {
        var vins = Enumerable.Range(0, 20000).Select(i => Vins.Make(i)).ToList();
        Assert.Equal(vins.Count, vins.Distinct(StringComparer.Ordinal).Count());
        Assert.All(vins, v => Assert.Matches("^[A-HJ-NPR-Z0-9]{17}$", v));
        Assert.Matches("^[A-HJ-NPR-Z0-9]{17}$", Vins.Make(int.MaxValue, "qio-x"));
    }

    [Fact]
    public void TruckModel_SameSeed_SameTrace_PhysicallyPlausible()
    {
        var start = new DateTime(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
        var a = new TruckModel("LSIM0000000000001", 7, DriveCycle.Highway, start);
        var b = new TruckModel("LSIM0000000000001", 7, DriveCycle.Highway, start);
        var samples = Enumerable.Range(0, 3600).Select(_ => a.Step()).ToList();
        Assert.Equal(samples, Enumerable.Range(0, 3600).Select(_ => b.Step()).ToList());
        Assert.Equal(start.AddSeconds(3600), a.NowUtc);
        var warm = samples.Skip(1800).ToList();
        Assert.InRange(warm.Average(s => s.SpeedKmh), 55, 95);
        Assert.InRange(warm.Average(s => s.CoolantTempC), 80, 92);
        Assert.InRange(warm.Average(s => s.ScrInletTempC), 230, 400);
        Assert.True(samples[0].CoolantTempC < 30);
        // Urea use 3-8 % of fuel: level falls between 0.4 % steps over the hour.
        Assert.True(samples[^1].ReagentLevelPercent < samples[0].ReagentLevelPercent);
        Assert.All(warm, s => Assert.True(s.NoxDownstreamPpm < s.NoxUpstreamPpm));
        var km = samples[^1].OdometerKm - samples[0].OdometerKm;
        Assert.InRange(km, 50, 95);
        Assert.All(samples, s => Assert.InRange(Physics.DistanceKm(117.0, 36.65, s.Longitude, s.Latitude), 0, 45));
    }

    [Fact]
    public void TruckModel_Faults_ChangeWhatTheyShould()
    {
        var start = new DateTime(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
        var m = new TruckModel("LSIM0000000000001", 3, DriveCycle.Highway, start);
        m.Inject(Fault.DpfRemoved, start.AddMinutes(10), start.AddMinutes(20));
        m.Inject(Fault.TerminalOffline, start.AddMinutes(30), start.AddMinutes(31));
        m.Inject(Fault.RemovalAlarm, start.AddMinutes(40), start.AddMinutes(41));
        var dp = new List<double>();
        var silent = 0;
        var alarms = 0;
        for (var i = 0; i < 45 * 60; i++)
        {
            var s = m.Step();
            if (m.NowUtc > start.AddMinutes(10) && m.NowUtc < start.AddMinutes(20))
                dp.Add(s.DpfPressureDropKpa);
            silent += m.IsSilent ? 1 : 0;
            alarms += m.PendingRemovalAlarm ? 1 : 0;
        }
        Assert.All(dp, v => Assert.True(v < 0.5));
        Assert.Equal(60, silent);
        Assert.Equal(1, alarms);
    }

    [Fact]
    public void ScenarioSuite_EveryInjectedFaultDetected_NoFalseAlerts()
    {
        var report = ScenarioSuite.Run();
        var failures = report.Scenarios.Where(s => s.Missed > 0 || s.FalseAlerts > 0).Select(s => s.Name).ToList();
        Assert.Empty(failures);
        Assert.True(report.Overall.Passed);
        Assert.Equal(0, report.Overall.FalseAlertsOnCleanCycles);
        Assert.Equal(report.Overall.Injected, report.Overall.Detected);
        Assert.Contains(report.Rules, r => r.RuleId == "R1" && r.Detected >= 1);
        foreach (var rule in new[] { "R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "R9.offline", "R10", "Z" })
            Assert.Contains(report.Rules, r => r.RuleId == rule && r.Injected > 0 && r.Missed == 0);
        var json = report.ToJson();
        Assert.Equal(report.Overall.Detected, ScenarioReport.FromJson(json)!.Overall.Detected);
    }

    [Fact]
    public void TruckModel_ReportsActualAndFrictionTorque_MotorsOnDescents()
    {
        var start = new DateTime(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
        var m = new TruckModel("LSIM0000000000001", 4, DriveCycle.Urban, start);
        var samples = Enumerable.Range(0, 3600).Select(_ => m.Step()).ToList();
        var firing = samples.Where(s => s.FuelFlowLph > 0 && s.EngineSpeedRpm > 500).ToList();
        // Actual (indicated) torque includes friction: it is never below the friction torque while fuel burns.
        Assert.All(firing, s => Assert.True(s.EngineTorquePercent >= s.FrictionTorquePercent - 1));
        Assert.All(firing, s => Assert.InRange(s.FrictionTorquePercent, 8, 16));
        // Decelerations cut fuel: the engine is motored (actual torque 0, engine-out NOx near 0).
        var motored = samples.Where(s => s.EngineSpeedRpm > 500 && s.FuelFlowLph == 0).ToList();
        Assert.NotEmpty(motored);
        Assert.All(motored, s => Assert.Equal(0, s.EngineTorquePercent));
        Assert.All(motored.Where(s => s.NoxUpstreamPpm > 0), s => Assert.True(s.NoxUpstreamPpm < 30));
    }

    [Fact]
    public void TruckModel_SparseObd_BulbCheckAtKeyOn_ColdStartNoxNotReady()
    {
        var start = new DateTime(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
        var m = new TruckModel("LSIM0000000000001", 5, DriveCycle.Urban, start, new TruckModelOptions { AmbientC = -15 });
        var obd = new List<(int Second, bool Mil, double Rpm)>();
        var samples = new List<Sample>();
        for (var i = 1; i <= 7200; i++)
        {
            var s = m.Step();
            samples.Add(s);
            if (m.ObdDue)
                obd.Add((i, m.CurrentObd().MilOn == true, s.EngineSpeedRpm));
        }
        // One record at key-on (engine off, the bulb check lights the MIL), then one each half hour.
        Assert.Equal([3, 1800, 3600, 5400, 7200], obd.Select(o => o.Second));
        Assert.True(obd[0].Mil);
        Assert.Equal(0, obd[0].Rpm);
        Assert.All(obd.Skip(1), o => Assert.False(o.Mil));
        // Winter start: NOx sensors not ready (-200) for the first minutes, coolant from -15 deg C.
        Assert.All(samples.Take(89), s => Assert.Equal(-200, s.NoxDownstreamPpm));
        Assert.True(samples[10].CoolantTempC <= -14);
    }

    [Fact]
    public void TruckModel_RefillsUreaAtAStop_RegeneratesTheDpf_TankSloshes()
    {
        var start = new DateTime(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
        var low = new TruckModel("LSIM0000000000001", 6, DriveCycle.Urban, start, new TruckModelOptions { InitialUreaPercent = 15.2 });
        var levels = Enumerable.Range(0, 5400).Select(_ => low.Step()).ToList();
        Assert.True(levels[^1].ReagentLevelPercent > 80);
        // The level rose only while the truck stood still.
        var rises = levels.Zip(levels.Skip(1)).Where(p => p.Second.ReagentLevelPercent - p.First.ReagentLevelPercent > 3).ToList();
        Assert.All(rises, p => Assert.Equal(0, p.Second.SpeedKmh));

        var regen = new TruckModel("LSIM0000000000002", 6, DriveCycle.Highway, start, new TruckModelOptions { RegenerationSootLoad = 1.0 });
        var trace = Enumerable.Range(0, 5400).Select(_ => regen.Step()).ToList();
        Assert.Contains(trace, s => s.ScrInletTempC > 500);

        var cruise = new TruckModel("LSIM0000000000003", 6, DriveCycle.Highway, start);
        var moving = Enumerable.Range(0, 3600).Select(_ => cruise.Step()).Skip(600).Where(s => s.SpeedKmh > 20).Select(s => s.ReagentLevelPercent).ToList();
        // The level read while driving spreads over more than two 0.4 % steps (slosh and noise).
        Assert.True(moving.Max() - moving.Min() >= 1.2);
    }
}
