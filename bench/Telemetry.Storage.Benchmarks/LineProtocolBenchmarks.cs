using System.Buffers;
using BenchmarkDotNet.Attributes;
using Telemetry.Abstractions;
using Telemetry.Storage;

namespace Telemetry.Storage.Benchmarks;

/// <summary>
/// Rendering one HJ 1239 frame's samples (10 seconds, every field present) as the line protocol
/// that the journal keeps and the shipper sends: the cost the vehicle grain pays per frame.
/// </summary>
[MemoryDiagnoser]
public class LineProtocolBenchmarks
{
    private readonly ArrayBufferWriter<byte> _output = new(64 * 1024);
    private readonly SeriesKey _series = new("LGDCHA1G8MA127733", "fleet-7", "370100");
    private Sample[] _frame = [];

    [GlobalSetup]
    public void Setup()
    {
        var start = new DateTime(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);
        _frame = [.. Enumerable.Range(0, 10).Select(i => new Sample
        {
            TimeUtc = start.AddSeconds(i),
            SpeedKmh = 62.5 + i * 0.25,
            BarometricPressureKpa = 100.5,
            EngineTorquePercent = 47 + i,
            FrictionTorquePercent = 8,
            EngineSpeedRpm = 1412.375 + i,
            FuelFlowLph = 21.35 + i * 0.05,
            NoxUpstreamPpm = 812.4 - i,
            NoxDownstreamPpm = 38.15 + i * 0.5,
            ReagentLevelPercent = 61.2,
            IntakeAirFlowKgph = 1003.65 + i,
            ScrInletTempC = 318.03125 + i,
            ScrOutletTempC = 301.5 + i,
            DpfPressureDropKpa = 2.1,
            CoolantTempC = 86,
            FuelLevelPercent = 55.6,
            PositionStatus = 0,
            Longitude = 117.120_345 + i * 1e-5,
            Latitude = 36.651_234 + i * 1e-5,
            OdometerKm = 183_456.7 + i * 0.02,
        })];
    }

    /// <summary>The 10 lines of one frame as one journal payload.</summary>
    [Benchmark]
    public int FrameToUtf8()
    {
        _output.ResetWrittenCount();
        return SamplePoints.WriteLines(_output, _series, _frame);
    }
}
