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
        _frame = [.. Enumerable.Range(0, 10).Select(i => BenchmarkFrames.Diesel(start.AddSeconds(i), i))];
    }

    /// <summary>The 10 lines of one frame as one journal payload.</summary>
    [Benchmark]
    public int FrameToUtf8()
    {
        _output.ResetWrittenCount();
        return SamplePoints.WriteLines(_output, _series, _frame);
    }
}
