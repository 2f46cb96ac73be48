using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text;
using Telemetry.Abstractions;
using Telemetry.Protocol;
using Telemetry.Simulation;

namespace Telemetry.Fleet.Load;

/// <summary>An injected fault and the rule that must detect it: the ground truth of a load run.</summary>
/// <param name="Vin">The faulty vehicle.</param>
/// <param name="Fault">What was injected.</param>
/// <param name="ExpectedRule">The rule that must open an episode for it.</param>
/// <param name="FromUtc">Sample time from which the fault is active.</param>
public sealed record class InjectedFault(string Vin, string Fault, string ExpectedRule, DateTime FromUtc);

/// <summary>
/// One vehicle of a load run: its truck model and its open-loop schedule. History frames (re-issued,
/// command 0x03) are due first, spread over the re-issue window; then a live frame of
/// <c>RecordsPerFrame</c> 1-Hz records falls due every <c>RecordsPerFrame</c> seconds, offset by the
/// vehicle's phase so the fleet's frames spread evenly over time.
/// </summary>
public sealed class LoadVehicle
{
    private const int HistoryRecordsPerFrame = 10;
    private const int ObdEveryFrames = 6;

    /// <summary>Live seconds before an ignition-off at which the driver starts to pull over.</summary>
    public const int StopLeadSeconds = 60;

    private readonly TruckModel _model;
    private readonly int _recordsPerFrame;
    private readonly int _historyFrames;
    private readonly double _historyWindow;
    private readonly double _phase;
    private readonly double _liveEnd;
    private readonly List<(long FirstSecond, int Count, long PublishedTicks)>? _publishLog;
    private int _historyFramesSent;
    private int _historySecondsLeft;
    private long _liveFramesSent;
    private ushort _serial;
    private int _framesSinceObd = ObdEveryFrames;
    private readonly long _parkAtFrame = -1;
    private readonly int _parkSeconds;

    internal LoadVehicle(int index, string vin, string topic, TruckModel model, InjectedFault? fault, int historySeconds,
        int recordsPerFrame, double phase, double historyWindow, double liveSeconds, DateTime liveStartUtc,
        long parkAtFrame = -1, int parkSeconds = 0)
    {
        if (parkAtFrame >= 0 && parkSeconds > 0)
        {
            _parkAtFrame = parkAtFrame;
            _parkSeconds = parkSeconds;
        }
        Index = index;
        Vin = vin;
        Topic = Encoding.ASCII.GetBytes(topic);
        _model = model;
        Fault = fault;
        _recordsPerFrame = recordsPerFrame;
        _historySecondsLeft = historySeconds;
        _historyFrames = (historySeconds + HistoryRecordsPerFrame - 1) / HistoryRecordsPerFrame;
        _historyWindow = historyWindow;
        _phase = phase;
        _liveEnd = historyWindow + liveSeconds;
        LiveStartUtc = liveStartUtc;
        HistoryStartUtc = liveStartUtc.AddSeconds(-historySeconds);
        _publishLog = fault is null ? null : [];
        NextDue = _historyFrames > 0 ? HistoryDue(0) : LiveDue(0);
    }

    /// <summary>Position in the fleet.</summary>
    public int Index { get; }

    /// <summary>The VIN.</summary>
    public string Vin { get; }

    /// <summary>The topic, ASCII.</summary>
    public byte[] Topic { get; }

    /// <summary>The injected fault, or null for a clean vehicle.</summary>
    public InjectedFault? Fault { get; }

    /// <summary>Sample time of the first re-issued record (equal to <see cref="LiveStartUtc"/> without history).</summary>
    public DateTime HistoryStartUtc { get; }

    /// <summary>Sample time of the first live record.</summary>
    public DateTime LiveStartUtc { get; }

    /// <summary>Sample time after the last record sent (exclusive end of the vehicle's contiguous samples).</summary>
    public DateTime SentUntilUtc { get; private set; }

    /// <summary>Seconds after the start of the run at which the next frame is due; +infinity when done.</summary>
    public double NextDue { get; private set; }

    /// <summary>
    /// The ignition-off period once it began: sample seconds [From, To) that the truck never sends (its
    /// terminal is off); null for a vehicle that does not park, or before it did.
    /// </summary>
    public (DateTime FromUtc, DateTime ToUtc)? Parked { get; private set; }

    /// <summary>True when the vehicle is scheduled to park during the run.</summary>
    public bool Parks => _parkAtFrame >= 0;

    /// <summary>True when the next frame due is a re-issued one.</summary>
    public bool NextIsHistory => _historyFramesSent < _historyFrames;

    /// <summary>
    /// Builds the frame now due: steps the model over its records, encodes it in <paramref name="format"/>,
    /// and schedules the next one. Returns the payload and the number of samples it carries.
    /// </summary>
    public (byte[] Payload, int Samples, bool History) NextFrame(string format, DateTime receivedUtc)
    {
        var history = NextIsHistory;
        if (!history && _parkAtFrame >= 0)
        {
            // Pull over a minute ahead, so that the last frames before the ignition goes off show the engine stopped.
            if (_liveFramesSent == _parkAtFrame - (StopLeadSeconds / _recordsPerFrame))
                _model.BeginStop();
            if (_liveFramesSent == _parkAtFrame)
            {
                var from = _model.NowUtc.AddSeconds(1);
                _model.Park(TimeSpan.FromSeconds(_parkSeconds));
                Parked = (from, from.AddSeconds(_parkSeconds));
            }
        }
        var count = history ? Math.Min(HistoryRecordsPerFrame, _historySecondsLeft) : _recordsPerFrame;
        var samples = new Sample[count];
        for (var i = 0; i < count; i++)
            samples[i] = _model.Step();
        var first = samples[0].TimeUtc;
        SentUntilUtc = samples[^1].TimeUtc.AddSeconds(1);
        var obd = ImmutableArray<ObdSnapshot>.Empty;
        if (++_framesSinceObd >= ObdEveryFrames)
        {
            _framesSinceObd = 0;
            obd = [_model.CurrentObd() with { TimeUtc = first }];
        }
        var batch = new TelemetryBatch(Vin, history ? FrameKind.Reissue : FrameKind.RealTime, first, _serial++,
            ImmutableCollectionsMarshal.AsImmutableArray(samples), obd, receivedUtc);
        var payload = SimulatedTruck.Encode(batch, format);
        if (history)
        {
            _historySecondsLeft -= count;
            _historyFramesSent++;
            NextDue = _historyFramesSent < _historyFrames ? HistoryDue(_historyFramesSent) : LiveDue(0);
        }
        else
        {
            _liveFramesSent++;
            NextDue = LiveDue(_liveFramesSent);
        }
        return (payload, count, history);
    }

    /// <summary>Notes when the frame just built was handed to the socket (for latency; faulty vehicles only).</summary>
    public void Published(long stopwatchTicks, DateTime firstSampleUtc, int count) =>
        _publishLog?.Add((ToSecond(firstSampleUtc), count, stopwatchTicks));

    /// <summary>When the frame holding the sample at <paramref name="sampleUtc"/> was published (Stopwatch ticks), or null.</summary>
    public long? PublishedTicksOf(DateTime sampleUtc)
    {
        if (_publishLog is null)
            return null;
        var second = ToSecond(sampleUtc);
        foreach (var (firstSecond, count, ticks) in _publishLog)
        {
            if (second >= firstSecond && second < firstSecond + count)
                return ticks;
        }
        return null;
    }

    /// <summary>Sample time of the first record of the frame that will be built next.</summary>
    public DateTime NextSampleUtc => _model.NowUtc.AddSeconds(1);

    private double HistoryDue(int frame) => _historyWindow * (frame + (_phase / _recordsPerFrame)) / _historyFrames;

    private double LiveDue(long frame)
    {
        // Frames after an ignition-off come that much later: sample time keeps to the wall clock.
        var due = _historyWindow + _phase + ((frame + 1) * _recordsPerFrame) + (_parkAtFrame >= 0 && frame >= _parkAtFrame ? _parkSeconds : 0);
        return due - _recordsPerFrame < _liveEnd - 1e-9 ? due : double.PositiveInfinity;
    }

    private static long ToSecond(DateTime utc) => utc.Ticks / TimeSpan.TicksPerSecond;
}
