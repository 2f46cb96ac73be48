using System.Buffers;
using System.IO.Compression;
using BenchmarkDotNet.Attributes;
using Telemetry.Abstractions;
using Telemetry.Storage;

namespace Telemetry.Storage.Benchmarks;

/// <summary>
/// Compressing one shipper request (5,000 lines: 500 frames of 500 vehicles, every field present) for the
/// InfluxDB v2 write API, at the level InfluxDB.Client's own gzip uses (Optimal) and at the level the
/// shipper uses (Fastest). The compressed sizes are printed once in the set-up.
/// </summary>
[MemoryDiagnoser]
public class GzipBenchmarks
{
    private byte[] _body = [];

    [Params(CompressionLevel.Optimal, CompressionLevel.Fastest)]
    public CompressionLevel Level { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var output = new ArrayBufferWriter<byte>(4 * 1024 * 1024);
        var start = new DateTime(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);
        var random = new Random(1239);
        for (var v = 0; v < 500; v++)
        {
            var series = new SeriesKey($"LGDCHA1G8MA{v:D6}", $"fleet-{v % 20}", "370100");
            var samples = Enumerable.Range(0, 10).Select(i => new Sample
            {
                TimeUtc = start.AddSeconds(i),
                SpeedKmh = random.Next(0, 25_000) / 256.0,
                BarometricPressureKpa = random.Next(190, 205) / 2.0,
                EngineTorquePercent = random.Next(-10, 90),
                FrictionTorquePercent = random.Next(5, 12),
                EngineSpeedRpm = random.Next(4_800, 16_000) / 8.0,
                FuelFlowLph = random.Next(0, 1_200) / 20.0,
                NoxUpstreamPpm = random.Next(4_000, 30_000) / 20.0 - 200,
                NoxDownstreamPpm = random.Next(4_000, 6_000) / 20.0 - 200,
                ReagentLevelPercent = random.Next(40, 250) * 0.4,
                IntakeAirFlowKgph = random.Next(2_000, 30_000) / 20.0,
                ScrInletTempC = random.Next(13_000, 20_000) / 32.0 - 273,
                ScrOutletTempC = random.Next(13_000, 20_000) / 32.0 - 273,
                DpfPressureDropKpa = random.Next(0, 60) / 10.0,
                CoolantTempC = random.Next(70, 95),
                FuelLevelPercent = random.Next(40, 250) * 0.4,
                Longitude = 117_000_000 / 1e6 + random.Next(0, 500_000) / 1e6,
                Latitude = 36_500_000 / 1e6 + random.Next(0, 300_000) / 1e6,
                OdometerKm = random.Next(1_000_000, 9_000_000) / 10.0,
            }).ToList();
            if (output.WrittenCount > 0)
                output.Write("\n"u8);
            SamplePoints.WriteLines(output, series, samples);
        }
        _body = output.WrittenSpan.ToArray();
        Console.WriteLine($"// request body: {_body.Length:N0} bytes of line protocol; gzip {Level}: {Compress().Length:N0} bytes");
    }

    [Benchmark]
    public byte[] Compress()
    {
        using var compressed = new MemoryStream(_body.Length / 4);
        using (var gzip = new GZipStream(compressed, Level, leaveOpen: true))
            gzip.Write(_body);
        return compressed.ToArray();
    }
}
