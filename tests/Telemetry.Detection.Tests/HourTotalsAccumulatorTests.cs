using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

public sealed class HourTotalsAccumulatorTests
{
    // Drive.Warm: 60 km/h, torque 40 % - friction 10 % at 1400 rpm, 30 L/h fuel, 800 kg/h air, 30 ppm downstream NOx.
    private const double NoxGramsPerSecond = 0.001586 * 30 * (800 + (30 * 0.835)) / 3600;
    private const double WorkPerSecond = (40 - 10) * 1400;

    private static (Drive Drive, HourTotalsAccumulator Hours) Start()
    {
        var d = new Drive();
        var hours = new HourTotalsAccumulator(Drive.Vin, d.Options.Physics);
        d.Detector.Observer = hours;
        return (d, hours);
    }

    private static void Feed(Drive d, IEnumerable<int> seconds, FrameKind kind = FrameKind.RealTime, Func<int, Sample>? make = null)
    {
        make ??= Drive.Warm;
        foreach (var frame in seconds.Chunk(10))
            d.Send([.. frame.Select(make)], kind);
    }

    private static Dictionary<DateTime, HourTotals> ByHour(HourTotalsAccumulator hours) => hours.TakeDirty().ToDictionary(t => t.HourUtc);

    [Fact]
    public void Totals_OfAWarmRunAcrossAnHour_AreEachSecondOnceInItsOwnHour()
    {
        var (d, hours) = Start();
        Feed(d, Enumerable.Range(3000, 1201)); // 00:50:00 to 01:10:00 inclusive

        Assert.True(hours.NeedsFlush);
        var t = ByHour(hours);
        Assert.Equal(2, t.Count);
        var first = t[Drive.T0];
        var second = t[Drive.T0.AddHours(1)];
        Assert.Equal(600, first.Samples);
        Assert.Equal(601, second.Samples);
        Assert.Equal(0x3FFUL << 50, first.MinuteMask);  // minutes 50-59
        Assert.Equal(0x7FFUL, second.MinuteMask);       // minutes 0-10
        Assert.Equal(600, first.RunningSeconds);
        // The gate opens 300 s after the engine started (second 3000): 3300 onwards.
        Assert.Equal(300, first.GatedSeconds);
        Assert.Equal(601, second.GatedSeconds);
        Assert.Equal(600 * 60 / 3600.0, first.DistanceKm, 9);
        Assert.Equal(1000 + (3000 / 60.0), first.OdometerMinKm, 9);
        Assert.Equal(1000 + (3599 / 60.0), first.OdometerMaxKm, 9);
        Assert.Equal(600 * NoxGramsPerSecond, first.NoxG, 9);
        Assert.Equal(600 * NoxGramsPerSecond, first.PairedNoxG, 9);
        Assert.Equal(600 * WorkPerSecond, first.WorkPercentRpmSeconds, 6);
        Assert.Equal(600 * 30 / 3600.0, first.FuelL, 9);
        Assert.Equal(0, first.UreaL);
        Assert.Equal(0, first.MilOnDistanceKm);
        Assert.Equal(0, hours.DirtyCount);
    }

    [Fact]
    public void Totals_WithDuplicatesAndAGapReissuedNewestFirst_EqualTheSameDataSentOnceInOrder()
    {
        var (ordered, orderedHours) = Start();
        Feed(ordered, Enumerable.Range(3000, 1201));

        var (d, hours) = Start();
        Feed(d, Enumerable.Range(3000, 1201).Where(s => s is < 3550 or >= 3650)); // a gap over the hour boundary
        Feed(d, Enumerable.Range(3000, 200));                                     // sent twice
        Feed(d, Enumerable.Range(3550, 100).Reverse(), FrameKind.Reissue);        // the gap, re-issued newest first
        Feed(d, Enumerable.Range(3550, 100), FrameKind.Reissue);                  // and once more
        d.Detector.OnClock(Drive.At(4200).AddSeconds(d.Options.Dedup.BackfillIdleSeconds + 10), d.Changes);

        var expected = ByHour(orderedHours);
        var actual = ByHour(hours);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (hour, e) in expected)
        {
            var a = actual[hour];
            Assert.Equal(e.Samples, a.Samples);
            Assert.Equal(e.MinuteMask, a.MinuteMask);
            Assert.Equal(e.RunningSeconds, a.RunningSeconds);
            Assert.Equal(e.DistanceKm, a.DistanceKm, 9);
            Assert.Equal(e.NoxG, a.NoxG, 9);
            Assert.Equal(e.WorkPercentRpmSeconds, a.WorkPercentRpmSeconds, 6);
            Assert.Equal(e.FuelL, a.FuelL, 9);
            Assert.Equal(e.OdometerMinKm, a.OdometerMinKm, 9);
            Assert.Equal(e.OdometerMaxKm, a.OdometerMaxKm, 9);
        }
        // Gated time is what the rules counted: a back-filled stretch is evaluated on its own, and 100 s of it are
        // less than the 300 s after an engine start, so the gap is never gated.
        Assert.Equal(expected.Values.Sum(t => t.GatedSeconds) - 100, actual.Values.Sum(t => t.GatedSeconds));
    }

    [Fact]
    public void MilOnDistance_CountsFromTheOdbRecordThatLitTheLamp_AndUreaRatioUsesSecondsWithDosingAndFuel()
    {
        var (d, hours) = Start();
        static Sample Dosing(int s) => Drive.Warm(s) with { UreaDosingMlph = 1500 };
        d.Run(100, Dosing);
        d.Run(200, Dosing, obd: s => s == 101 ? Drive.Obd(s, mil: true) : null);

        var t = Assert.Single(ByHour(hours)).Value;
        Assert.Equal(300, t.Samples);
        // The record of second 101 is judged after that second's sample: the lamp counts from second 102.
        Assert.Equal(199 * 60 / 3600.0, t.MilOnDistanceKm, 9);
        Assert.Equal(300 * 1.5 / 3600, t.UreaL, 9);
        Assert.Equal(300 * 30 / 3600.0, t.UreaFuelL, 9);
    }

    [Fact]
    public void MissingFields_AddNothingToTheirSums_AndNoxNotReady_IsNotZeroEmission()
    {
        var (d, hours) = Start();
        Feed(d, Enumerable.Range(10, 20), make: s => Drive.Warm(s) with
        {
            NoxDownstreamPpm = s < 20 ? -200 : double.NaN,
            EngineTorquePercent = double.NaN,
            SpeedKmh = double.NaN,
            OdometerKm = double.NaN,
        });

        var t = Assert.Single(ByHour(hours)).Value;
        Assert.Equal(20, t.Samples);
        Assert.Equal(0, t.NoxG);
        Assert.Equal(0, t.WorkPercentRpmSeconds);
        Assert.Equal(0, t.DistanceKm);
        Assert.True(double.IsNaN(t.OdometerMinKm));
        Assert.Equal(20 * 30 / 3600.0, t.FuelL, 9);
    }

    [Fact]
    public void Return_AfterAFailedStore_AddsBackToWhatCameSince()
    {
        var (d, hours) = Start();
        Feed(d, Enumerable.Range(1, 50));
        var taken = hours.TakeDirty();
        Feed(d, Enumerable.Range(51, 50));
        hours.Return(taken);

        var t = Assert.Single(hours.TakeDirty());
        Assert.Equal(100, t.Samples);
        Assert.Equal(100 * NoxGramsPerSecond, t.NoxG, 9);
        Assert.Equal(1000 + (1 / 60.0), t.OdometerMinKm, 9);
        Assert.Equal(1000 + (100 / 60.0), t.OdometerMaxKm, 9);
    }
}
