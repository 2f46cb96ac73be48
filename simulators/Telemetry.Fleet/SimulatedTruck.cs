using System.Collections.Immutable;
using Telemetry.Abstractions;
using Telemetry.Protocol;
using Telemetry.Simulation;

namespace Telemetry.Fleet;

/// <summary>One truck of the fleet: its model and the frames it has still to send.</summary>
public sealed class SimulatedTruck(string vin, TruckModel model, bool exceeds)
{
    private readonly List<Sample> _pending = [];
    private ushort _serial;
    private DateTime _lastObdUtc = DateTime.MinValue;

    /// <summary>The truck's VIN.</summary>
    public string Vin { get; } = vin;

    /// <summary>The physics and fault model.</summary>
    public TruckModel Model { get; } = model;

    /// <summary>True when a NOx exceedance was injected.</summary>
    public bool Exceeds { get; } = exceeds;

    /// <summary>Samples stepped but not yet framed.</summary>
    public int PendingSamples => _pending.Count;

    /// <summary>Advances the model one second and keeps the sample, unless the terminal is silent.</summary>
    public void Step()
    {
        var sample = Model.Step();
        if (!Model.IsSilent)
        {
            _pending.Add(sample);
        }
    }

    /// <summary>
    /// Takes the leading run of pending samples one second apart as one batch (with an OBD record
    /// once a minute), or null when there are none. A GB 17691 frame can only carry consecutive
    /// seconds, so a gap (the terminal was silent) starts the next batch.
    /// </summary>
    public TelemetryBatch? TakeBatch(FrameKind kind, DateTime receivedUtc)
    {
        if (_pending.Count == 0)
        {
            return null;
        }
        var run = 1;
        while (run < _pending.Count && _pending[run].TimeUtc - _pending[run - 1].TimeUtc == TimeSpan.FromSeconds(1))
        {
            run++;
        }
        var samples = _pending.GetRange(0, run).ToImmutableArray();
        _pending.RemoveRange(0, run);
        var obd = ImmutableArray<ObdSnapshot>.Empty;
        if (samples[0].TimeUtc - _lastObdUtc >= TimeSpan.FromMinutes(1))
        {
            obd = [Model.CurrentObd() with { TimeUtc = samples[0].TimeUtc }];
            _lastObdUtc = samples[0].TimeUtc;
        }
        return new TelemetryBatch(Vin, kind, samples[0].TimeUtc, _serial++, samples, obd, receivedUtc);
    }

    /// <summary>The payload of <paramref name="batch"/> in <paramref name="format"/>.</summary>
    public static byte[] Encode(TelemetryBatch batch, string format) => format switch
    {
        FleetFormats.Gb17691 => FrameEncoder.Encode(batch, TerminalProfile.Gb17691),
        FleetFormats.Hj1239 => FrameEncoder.Encode(batch, TerminalProfile.Hj1239),
        FleetFormats.SignedRecords => FrameEncoder.Encode(batch, TerminalProfile.SignedRecords),
        FleetFormats.Json => JsonFrameFormat.Encode(batch),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown format."),
    };
}
