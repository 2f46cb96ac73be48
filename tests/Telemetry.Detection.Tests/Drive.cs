using System.Collections.Immutable;
using Telemetry.Abstractions;

namespace Telemetry.Detection.Tests;

/// <summary>Feeds synthetic traces to one detector in 10-sample frames, on sample time.</summary>
internal sealed class Drive
{
    public static readonly DateTime T0 = new(2025, 6, 2, 0, 0, 0, DateTimeKind.Utc);
    public const string Vin = "LTEST000000000001";

    public Drive(DetectionOptions? options = null, VehicleInfo? vehicle = null, IZoneIndex? zones = null)
    {
        Options = options ?? new DetectionOptions();
        Detector = new VehicleDetector(Vin, Options, vehicle ?? Vehicle(), zones);
    }

    public DetectionOptions Options { get; }
    public VehicleDetector Detector { get; }
    public List<AlertChange> Changes { get; } = [];
    public List<Sample> Accepted { get; } = [];
    public int Second { get; private set; }

    /// <summary>Continues a trace at <paramref name="second"/> (a detector restored from state saved at that second).</summary>
    public Drive ContinueAt(int second)
    {
        Second = second;
        return this;
    }

    public static VehicleInfo Vehicle(double? torque = 2200) =>
        new() { Vin = Vin, Fleet = "FLEET-A", Region = "Jinan", EngineModel = "D11", ReferenceTorqueNm = torque, EmissionStage = "China VI" };

    public static DateTime At(int second) => T0.AddSeconds(second);

    /// <summary>A warm, clean, cruising truck.</summary>
    public static Sample Warm(int second) => Sample.Empty(At(second)) with
    {
        SpeedKmh = 60,
        BarometricPressureKpa = 100,
        EngineTorquePercent = 40,
        FrictionTorquePercent = 10,
        EngineSpeedRpm = 1400,
        FuelFlowLph = 30,
        NoxUpstreamPpm = 600,
        NoxDownstreamPpm = 30,
        ReagentLevelPercent = 50,
        IntakeAirFlowKgph = 800,
        ScrInletTempC = 320,
        ScrOutletTempC = 310,
        DpfPressureDropKpa = 6,
        CoolantTempC = 85,
        FuelLevelPercent = 60,
        PositionStatus = 0,
        Longitude = 117.0,
        Latitude = 36.65,
        OdometerKm = 1000 + (second / 60.0),
    };

    /// <summary>Runs <paramref name="seconds"/> more seconds, frames of 10, a clock tick after each frame.</summary>
    public Drive Run(int seconds, Func<int, Sample>? make = null, Func<int, ObdSnapshot?>? obd = null)
    {
        make ??= Warm;
        var frame = new List<Sample>(10);
        var obds = new List<ObdSnapshot>();
        var end = Second + seconds;
        while (Second < end)
        {
            Second++;
            frame.Add(make(Second));
            if (obd?.Invoke(Second) is { } o)
                obds.Add(o);
            if (frame.Count == 10 || Second == end)
            {
                Send(frame, FrameKind.RealTime, [.. obds]);
                frame.Clear();
                obds.Clear();
                Detector.OnClock(At(Second).AddSeconds(1), Changes);
            }
        }
        return this;
    }

    public BatchResult Send(IReadOnlyList<Sample> samples, FrameKind kind = FrameKind.RealTime, ObdSnapshot[]? obd = null, DateTime? received = null)
    {
        var newest = samples.Count > 0 ? samples.Max(s => s.TimeUtc) : At(Second);
        var batch = new TelemetryBatch(Vin, kind, samples.Count > 0 ? samples[0].TimeUtc : newest, 1, [.. samples],
            obd is null ? [] : [.. obd], received ?? newest.AddSeconds(1));
        return Detector.OnBatch(batch, Changes, Accepted);
    }

    /// <summary>Advances the clock only (no data) by <paramref name="seconds"/> after the last sample, ticking every 10 s.</summary>
    public Drive Silence(int seconds)
    {
        for (var s = 10; s <= seconds; s += 10)
            Detector.OnClock(At(Second).AddSeconds(s), Changes);
        return this;
    }

    public int Opened(string rule) => Changes.Count(c => c.Kind == AlertChangeKind.Opened && c.Alert.RuleId == rule);
    public int Updated(string rule) => Changes.Count(c => c.Kind == AlertChangeKind.Updated && c.Alert.RuleId == rule);
    public int Closed(string rule) => Changes.Count(c => c.Kind == AlertChangeKind.Closed && c.Alert.RuleId == rule);
    public Alert First(string rule) => Changes.First(c => c.Kind == AlertChangeKind.Opened && c.Alert.RuleId == rule).Alert;
    public Alert Last(string rule) => Changes.Last(c => c.Alert.RuleId == rule).Alert;
    public IEnumerable<string> OpenedRules => Changes.Where(c => c.Kind == AlertChangeKind.Opened).Select(c => c.Alert.RuleId).Distinct();

    public static ObdSnapshot Obd(int second, bool mil = false, string cal = "CAL1", string cvn = "CVN1", ushort support = 0x8C81,
        ushort readiness = 0, params uint[] dtcs) => new()
    {
        TimeUtc = At(second),
        ObdProtocol = 2,
        MilOn = mil,
        DiagnosticSupport = support,
        DiagnosticReadiness = readiness,
        Vin = Vin,
        CalibrationId = cal,
        Cvn = cvn,
        Dtcs = [.. dtcs],
        Iupr = ImmutableArray<byte>.Empty,
    };
}
