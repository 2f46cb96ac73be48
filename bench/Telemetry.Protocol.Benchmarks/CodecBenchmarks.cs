using System.Collections.Immutable;
using BenchmarkDotNet.Attributes;
using Telemetry.Abstractions;
using Telemetry.Protocol;

namespace Telemetry.Protocol.Benchmarks;

/// <summary>
/// Decode and encode of the two frames ingest sees most: an HJ 1239 real-time frame with ten
/// one-second data-stream records (one every 10 s per truck) and the one-record GB 17691 frame
/// (one every second per truck).
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private const string Vin = "LGDCHA1G8MA127733";
    private static readonly DateTime Received = new(2026, 11, 28, 10, 0, 10, DateTimeKind.Utc);

    private byte[] _hj10 = [];
    private byte[] _gb1 = [];
    private TelemetryBatch _hjBatch = null!;
    private TelemetryBatch _gbBatch = null!;
    private readonly PayloadDecoder _decoder = new(new ProtocolOptions());

    [GlobalSetup]
    public void Setup()
    {
        var t = new DateTime(2026, 11, 28, 10, 0, 0, DateTimeKind.Utc);
        // From Sample.Empty: the supplementary fields stay missing, so the frames are the same bytes as before 0x80 existed.
        var samples = Enumerable.Range(0, 10).Select(k => Sample.Empty(t.AddSeconds(k)) with
        {
            SpeedKmh = 62.5 + k,
            BarometricPressureKpa = 98.5,
            EngineTorquePercent = 40,
            FrictionTorquePercent = 6,
            EngineSpeedRpm = 1450,
            FuelFlowLph = 24.35,
            NoxUpstreamPpm = 812.4,
            NoxDownstreamPpm = 35.2,
            ReagentLevelPercent = 38.8,
            IntakeAirFlowKgph = 640.5,
            ScrInletTempC = 312.5,
            ScrOutletTempC = 298.03125,
            DpfPressureDropKpa = 3.4,
            CoolantTempC = 86,
            FuelLevelPercent = 62.4,
            PositionStatus = 0,
            Longitude = 117.123456,
            Latitude = 36.654321,
            OdometerKm = 123456.7 + (k / 100.0),
        }).ToImmutableArray();
        _hjBatch = new TelemetryBatch(Vin, FrameKind.RealTime, t.AddSeconds(10), 42, samples, [], Received);
        _gbBatch = new TelemetryBatch(Vin, FrameKind.RealTime, t, 42, [samples[0]], [], Received);
        _hj10 = FrameEncoder.Encode(_hjBatch, TerminalProfile.Hj1239);
        _gb1 = FrameEncoder.Encode(_gbBatch, TerminalProfile.Gb17691);
        var supplementary = samples.Select(s => s with
        {
            EngineTorqueMode = 1, AcceleratorPedalPercent = 40, TotalFuelUsedL = 12345.5, UreaTankTempC = 20,
            UreaDosingMlph = 850.25, TotalUreaUsedG = 56789, DpfExhaustTempC = 412.5,
        }).ToImmutableArray();
        _hj10Supplementary = FrameEncoder.Encode(_hjBatch with { Samples = supplementary }, TerminalProfile.Hj1239);
        _gb3 = [.. _gb1, .. FrameEncoder.Encode(_gbBatch with { Serial = 43 }, TerminalProfile.Gb17691), .. FrameEncoder.Encode(_gbBatch with { Serial = 44 }, TerminalProfile.Gb17691)];
    }

    private byte[] _hj10Supplementary = [];
    private byte[] _gb3 = [];

    [Benchmark(Description = "decode hj1239 10 records + 10 x 0x80")]
    public TelemetryBatch? DecodeHj10Supplementary()
    {
        FrameCodec.TryDecodeBatch(_hj10Supplementary, TerminalProfile.Hj1239, Vin, Received, out var batch, out _);
        return batch;
    }

    [Benchmark(Description = "facade: 3 gb17691 frames in one payload")]
    public int SplitGb3() => _decoder.DecodeAll("gb17691", Vin, _gb3, Received).Count;

    [Benchmark(Description = "decode hj1239 10 records")]
    public TelemetryBatch? DecodeHj10()
    {
        FrameCodec.TryDecodeBatch(_hj10, TerminalProfile.Hj1239, Vin, Received, out var batch, out _);
        return batch;
    }

    [Benchmark(Description = "decode gb17691 1 record")]
    public TelemetryBatch? DecodeGb1()
    {
        FrameCodec.TryDecodeBatch(_gb1, TerminalProfile.Gb17691, Vin, Received, out var batch, out _);
        return batch;
    }

    [Benchmark(Description = "facade hj1239 10 records")]
    public TelemetryBatch? FacadeHj10()
    {
        _decoder.TryDecode("hj1239", Vin, _hj10, Received, out var batch, out _);
        return batch;
    }

    [Benchmark(Description = "encode hj1239 10 records")]
    public byte[] EncodeHj10() => FrameEncoder.Encode(_hjBatch, TerminalProfile.Hj1239);

    [Benchmark(Description = "encode gb17691 1 record")]
    public byte[] EncodeGb1() => FrameEncoder.Encode(_gbBatch, TerminalProfile.Gb17691);
}
