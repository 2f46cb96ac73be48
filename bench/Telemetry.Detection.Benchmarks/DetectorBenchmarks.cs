using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Simulation;

namespace Telemetry.Detection.Benchmarks;

/// <summary>
/// Samples per second through every rule for one vehicle in steady state: a warm highway trace
/// from the truck model, delivered as 10-sample real-time frames. The trace is replayed pass after
/// pass with its sample times shifted forward in place (no allocation), so every sample is new to
/// the detector. One operation = one sample.
/// </summary>
[MemoryDiagnoser]
public class DetectorBenchmarks
{
    private const int Frames = 720;
    private const int PerFrame = 10;
    private const int Samples = Frames * PerFrame;

    private readonly List<AlertChange> _changes = [];
    private readonly List<Sample> _accepted = new(PerFrame);
    private Sample[][] _arrays = [];
    private TelemetryBatch[] _batches = [];
    private VehicleDetector _detector = null!;
    // Arrival time is left unset (the detector then uses sample time), since the replayed samples move forward in time.
    private long _shiftTicks;

    [Params(false, true)]
    public bool HighNox { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var start = new DateTime(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
        var vin = Vins.Make(1, "LBEN");
        var model = new TruckModel(vin, 11, DriveCycle.Highway, start);
        if (HighNox)
            model.Inject(Fault.HighNox, start, start.AddDays(1));
        // Skip the cold start: the benchmark measures a warm truck with every rule active.
        for (var i = 0; i < 1800; i++)
            model.Step();
        _arrays = new Sample[Frames][];
        _batches = new TelemetryBatch[Frames];
        var level = model.Step().ReagentLevelPercent;
        for (var f = 0; f < Frames; f++)
        {
            var a = new Sample[PerFrame];
            for (var k = 0; k < PerFrame; k++)
            {
                // A fixed position and urea level keep the replayed trace free of jumps at the wrap
                // (a level that rises at the wrap while driving would be urea tampering).
                a[k] = model.Step() with { Longitude = 117.0, Latitude = 36.65, ReagentLevelPercent = level };
            }
            _arrays[f] = a;
            _batches[f] = new TelemetryBatch(vin, FrameKind.RealTime, a[0].TimeUtc, (ushort)f, ImmutableCollectionsMarshal.AsImmutableArray(a), [], default);
        }
        _detector = new VehicleDetector(vin, new DetectionOptions(), model.Info("BENCH", "Jinan"));
        _shiftTicks = 0;
        // Warm up windows and episodes.
        for (var i = 0; i < 3; i++)
            Pass();
    }

    [Benchmark(OperationsPerInvoke = Samples)]
    public int AllRules_TenSampleFrames() => Pass();

    private int Pass()
    {
        var shift = _shiftTicks;
        var accepted = 0;
        for (var f = 0; f < _batches.Length; f++)
        {
            var a = _arrays[f];
            for (var k = 0; k < a.Length; k++)
                a[k] = a[k] with { TimeUtc = new DateTime(a[k].TimeUtc.Ticks + shift, DateTimeKind.Utc) };
            accepted += _detector.OnBatch(_batches[f], _changes, _accepted).Accepted;
            _accepted.Clear();
        }
        _changes.Clear();
        _shiftTicks = TimeSpan.TicksPerSecond * Samples;
        return accepted;
    }
}
