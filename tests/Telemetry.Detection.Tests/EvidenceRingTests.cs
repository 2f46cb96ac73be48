using System.Collections.Immutable;
using Telemetry.Abstractions;
using Telemetry.Detection.Internal;
using Telemetry.Protocol;
using Telemetry.Simulation;

namespace Telemetry.Detection.Tests;

public sealed class EvidenceRingTests
{
    private static readonly DateTime Start = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    [Theory]
    [InlineData(DriveCycle.Highway, 1)]
    [InlineData(DriveCycle.Urban, 2)]
    public void SamplesDecodedFromFrames_ComeBackBitForBit(DriveCycle cycle, int seed)
    {
        // What a terminal sends: the truck model's samples through the binary codec (with record 0x80).
        var truck = new TruckModel("LEVXDENCE00000001", seed, cycle, Start);
        var decoded = new List<Sample>();
        for (var frame = 0; frame < 60; frame++)
        {
            var samples = Enumerable.Range(0, 10).Select(_ => truck.Step()).ToImmutableArray();
            var batch = new TelemetryBatch(truck.Vin, FrameKind.RealTime, samples[0].TimeUtc, (ushort)frame, samples, [], samples[^1].TimeUtc);
            var bytes = FrameEncoder.Encode(batch, TerminalProfile.Hj1239);
            Assert.True(FrameCodec.TryDecodeBatch(bytes, TerminalProfile.Hj1239, truck.Vin, samples[^1].TimeUtc, out var back, out var rejection), rejection.ToString());
            decoded.AddRange(back.Samples);
        }
        Assert.Contains(decoded, s => s.Supplementary is not null);

        var ring = new EvidenceRing(30);
        foreach (var s in decoded)
            ring.Push(s);

        var kept = ring.ToImmutableArray();
        Assert.Equal(0, ring.WholeSamples);
        Assert.Equal(decoded.TakeLast(30), kept);
        for (var i = 0; i < kept.Length; i++)
            Assert.Equal(BitConverter.DoubleToInt64Bits(decoded[^30..][i].NoxDownstreamPpm), BitConverter.DoubleToInt64Bits(kept[i].NoxDownstreamPpm));
    }

    [Fact]
    public void ValuesOffTheTerminalsGrid_AreKeptWhole_InOrder()
    {
        var ring = new EvidenceRing(4);
        var onGrid = Sample.Empty(Start) with { NoxDownstreamPpm = 523.35, Longitude = -116.871180, Latitude = 36.5966, OdometerKm = 123456.7 };
        var offGrid = Sample.Empty(Start.AddSeconds(1)) with { NoxDownstreamPpm = 523.123456789, SpeedKmh = 0.1 };
        var missing = Sample.Empty(Start.AddSeconds(2));
        var negativeZero = Sample.Empty(Start.AddSeconds(3)) with { Longitude = -0.0, Latitude = 0 };
        ring.Push(onGrid);
        ring.Push(offGrid);
        ring.Push(missing);
        ring.Push(negativeZero);

        var kept = ring.ToImmutableArray();
        Assert.Equal([onGrid, offGrid, missing, negativeZero], kept);
        Assert.Equal(2, ring.WholeSamples);
        Assert.Equal(523.123456789, kept[1].NoxDownstreamPpm);
        Assert.True(double.IsNegative(kept[3].Longitude));
        Assert.True(double.IsNaN(kept[2].SpeedKmh));
        Assert.Equal(DateTimeKind.Utc, kept[0].TimeUtc.Kind);
    }

    [Fact]
    public void Ring_KeepsTheNewestCapacitySamples_OldestFirst()
    {
        var ring = new EvidenceRing(3);
        Assert.Empty(ring.ToImmutableArray());
        for (var i = 0; i < 7; i++)
            ring.Push(Sample.Empty(Start.AddSeconds(i)) with { SpeedKmh = i, NoxDownstreamPpm = i == 5 ? 1.0 / 3 : 100 });
        var kept = ring.ToImmutableArray();
        Assert.Equal([4.0, 5.0, 6.0], kept.Select(s => s.SpeedKmh));
        Assert.Equal(1.0 / 3, kept[1].NoxDownstreamPpm);
        Assert.Equal(100, kept[2].NoxDownstreamPpm);
    }

    [Fact]
    public void ExportThenImport_SameSamples_WholeOnesIncluded_AndASmallerRingKeepsTheNewest()
    {
        var ring = new EvidenceRing(5);
        for (var i = 0; i < 8; i++)
            ring.Push(Sample.Empty(Start.AddSeconds(i)) with { SpeedKmh = i, NoxDownstreamPpm = i % 3 == 0 ? 1.0 / 3 : 523.35 });
        var (packed, whole) = ring.Export();

        var restored = EvidenceRing.Import(5, packed, whole)!;
        var smaller = EvidenceRing.Import(2, packed, whole)!;

        Assert.Equal(ring.ToImmutableArray(), restored.ToImmutableArray());
        Assert.Equal(ring.WholeSamples, restored.WholeSamples);
        Assert.Equal(ring.ToImmutableArray()[^2..], smaller.ToImmutableArray());
        restored.Push(Sample.Empty(Start.AddSeconds(8)) with { SpeedKmh = 8 });
        Assert.Equal([4.0, 5.0, 6.0, 7.0, 8.0], restored.ToImmutableArray().Select(s => s.SpeedKmh));
        Assert.Null(EvidenceRing.Import(5, [], []));
        Assert.Null(EvidenceRing.Import(5, packed, []));
        Assert.Null(EvidenceRing.Import(5, packed[..^1], whole));
    }
}
