using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Telemetry.Abstractions;
using Telemetry.Detection;
using Telemetry.Simulation;

namespace Telemetry.Detection.Benchmarks;

/// <summary>
/// The detection share of a vehicle's first frame: a new <see cref="VehicleDetector"/> (every rule,
/// its state and the timeline) and one 10-sample real-time frame through it. A silo pays this once
/// per vehicle activation, so at 100,000 trucks it decides how quickly a fleet comes online and
/// how much memory each vehicle starts with. One operation = one new vehicle.
/// </summary>
[MemoryDiagnoser]
public class NewVehicleBenchmarks
{
    private readonly List<AlertChange> _changes = [];
    private readonly List<Sample> _accepted = new(10);
    private readonly DetectionOptions _options = new();
    private TelemetryBatch _batch = null!;
    private VehicleInfo _info = null!;
    private string _vin = "";

    [GlobalSetup]
    public void Setup()
    {
        var start = new DateTime(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
        _vin = Vins.Make(1, "LBEN");
        var model = new TruckModel(_vin, 11, DriveCycle.Highway, start);
        var a = new Sample[10];
        for (var k = 0; k < a.Length; k++)
            a[k] = model.Step();
        _batch = new TelemetryBatch(_vin, FrameKind.RealTime, a[0].TimeUtc, 1, ImmutableCollectionsMarshal.AsImmutableArray(a), [], default);
        _info = model.Info("BENCH", "Jinan");
    }

    [Benchmark]
    public int NewVehicle_FirstFrame()
    {
        var d = new VehicleDetector(_vin, _options, _info);
        var accepted = d.OnBatch(_batch, _changes, _accepted).Accepted;
        _accepted.Clear();
        _changes.Clear();
        return accepted;
    }
}
