using System.Diagnostics;
using HdrHistogram;

namespace Telemetry.Fleet.Load;

/// <summary>
/// Drives a <see cref="LoadFleet"/>'s open-loop schedule over several pipelined MQTT connections.
/// Every frame has a due time; each connection sends, in due order, every frame already due, many
/// per socket write, and never waits for acknowledgements unless its in-flight window is full. A
/// generator or broker that falls behind shows as frames sent late (<see cref="BehindSeconds"/>,
/// lateness histogram), never as a lower offered rate.
/// </summary>
public sealed class LoadGenerator : IAsyncDisposable
{
    private const int BufferSize = 512 * 1024;

    private readonly LoadOptions _options;
    private readonly LoadFleet _fleet;
    private readonly Stopwatch _clock;
    private readonly DateTime _runStartUtc;
    private readonly List<MqttPipelinedConnection> _connections = [];
    private readonly Lane[] _lanes;

    /// <summary>Prepares the lanes; <paramref name="clock"/> is zero at <paramref name="runStartUtc"/>.</summary>
    public LoadGenerator(LoadOptions options, LoadFleet fleet, Stopwatch clock, DateTime runStartUtc)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(fleet);
        _options = options;
        _fleet = fleet;
        _clock = clock;
        _runStartUtc = runStartUtc;
        var count = options.ConnectionCount;
        _lanes = [.. Enumerable.Range(0, count).Select(_ => new Lane())];
        foreach (var v in fleet.Vehicles)
        {
            // A live window shorter than one frame interval leaves some vehicles nothing to send.
            if (!double.IsPositiveInfinity(v.NextDue))
                _lanes[v.Index % count].Due.Enqueue(v, v.NextDue);
        }
    }

    /// <summary>Frames written to the sockets.</summary>
    public long OfferedFrames => _lanes.Sum(l => Interlocked.Read(ref l.Frames));

    /// <summary>Samples in the frames written.</summary>
    public long OfferedSamples => _lanes.Sum(l => Interlocked.Read(ref l.Samples));

    /// <summary>Re-issued frames written.</summary>
    public long HistoryFrames => _lanes.Sum(l => Interlocked.Read(ref l.HistoryFrames));

    /// <summary>Samples in re-issued frames written.</summary>
    public long HistorySamples => _lanes.Sum(l => Interlocked.Read(ref l.HistorySamples));

    /// <summary>Frames the broker acknowledged (QoS 1); at QoS 0 the frames written.</summary>
    public long AckedFrames => _options.Qos == 1 ? _connections.Sum(c => c.AckedFrames) : OfferedFrames;

    /// <summary>Samples in acknowledged frames.</summary>
    public long AckedSamples => _options.Qos == 1 ? _connections.Sum(c => c.AckedSamples) : OfferedSamples;

    /// <summary>Publishes in flight over every connection.</summary>
    public int InFlight => _connections.Sum(c => c.InFlight);

    /// <summary>How far behind its schedule the slowest connection is now, in seconds (0 when on time).</summary>
    public double BehindSeconds => _lanes.Max(l => Volatile.Read(ref l.BehindSeconds));

    /// <summary>Connection failures, if any.</summary>
    public IEnumerable<Exception> Errors => _connections.Select(c => c.Error).Concat(_lanes.Select(l => l.Error)).OfType<Exception>();

    /// <summary>PUBACKs that matched no publish in flight.</summary>
    public long UnexpectedAcks => _connections.Sum(c => c.UnexpectedAcks);

    /// <summary>How late frames were written relative to their due time, microseconds.</summary>
    public LongHistogram Lateness()
    {
        var all = new LongHistogram(TimeSpan.FromHours(2).Ticks / 10, 3);
        foreach (var lane in _lanes)
        {
            lock (lane.Lateness)
                all.Add(lane.Lateness);
        }
        return all;
    }

    /// <summary>
    /// Opens the connections: the shared ones, or with <see cref="LoadOptions.DeviceSecrets"/> one per vehicle under
    /// its VIN and secret (up to 64 handshakes at a time; a refusal names the VIN).
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        if (_options.DeviceSecrets is not { } secrets)
        {
            for (var i = 0; i < _options.Connections; i++)
            {
                var clientId = $"load-{_options.VinPrefix}-{i}-{Guid.NewGuid():N}";
                _connections.Add(await MqttPipelinedConnection.ConnectAsync(_options.Host, _options.Port, clientId, _options.Qos, cancellationToken,
                    _options.Username, _options.Password));
            }
            return;
        }

        var connections = new MqttPipelinedConnection[_fleet.Vehicles.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, connections.Length), new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var vin = _fleet.Vehicles[i].Vin;
                try
                {
                    connections[i] = await MqttPipelinedConnection.ConnectAsync(_options.Host, _options.Port, vin, _options.Qos, ct, vin, secrets[vin]);
                }
                catch (Exception refused) when (refused is InvalidOperationException or IOException or System.Net.Sockets.SocketException)
                {
                    // Refused by the broker, or the connection closed at once (a broker at its connection limit).
                    throw new InvalidOperationException($"Vehicle {vin}: {refused.Message}", refused);
                }
            });
        _connections.AddRange(connections);
    }

    /// <summary>Runs every lane until its schedule is exhausted, then waits (up to <paramref name="ackTimeout"/>) for the last acknowledgements.</summary>
    public async Task RunAsync(TimeSpan ackTimeout, CancellationToken cancellationToken)
    {
        var lanes = _lanes.Select((lane, i) => Task.Run(() => RunLaneAsync(lane, _connections[i], cancellationToken), cancellationToken));
        await Task.WhenAll(lanes);
        if (_options.Qos == 1)
            await Task.WhenAll(_connections.Select(c => c.WaitForAcksAsync(ackTimeout, cancellationToken)));
    }

    private async Task RunLaneAsync(Lane lane, MqttPipelinedConnection connection, CancellationToken cancellationToken)
    {
        // A connection per vehicle: its lane never holds more than that vehicle's next frame, so it sleeps until
        // the frame is due and borrows its buffer only to send (100,000 lanes must not hold 512 KiB each).
        var single = _options.PerDeviceConnections;
        var buffer = single ? [] : new byte[BufferSize];
        var format = _options.Format;
        var window = _options.MaxInFlight;
        var qos1 = _options.Qos == 1;
        try
        {
            while (lane.Due.Count > 0 && !cancellationToken.IsCancellationRequested)
            {
                if (connection.Error is { } error)
                    throw new IOException("The connection failed.", error);
                var now = Seconds();
                var length = 0;
                var written = 0;
                if (single && lane.Due.TryPeek(out _, out var dueNext) && dueNext <= now)
                    buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BufferSize);
                while (lane.Due.TryPeek(out var vehicle, out var due) && due <= now && length < BufferSize - (70 * 1024)
                    && (!qos1 || connection.InFlight < window))
                {
                    lane.Due.Dequeue();
                    var firstSample = vehicle.NextSampleUtc;
                    var received = _runStartUtc.AddSeconds(now);
                    var (payload, samples, history) = vehicle.NextFrame(format, received);
                    length += connection.WritePublish(buffer.AsSpan(length), vehicle.Topic, payload, samples);
                    vehicle.Published(_clock.ElapsedTicks, firstSample, samples);
                    var late = (long)((now - due) * 1_000_000);
                    lock (lane.Lateness)
                        lane.Lateness.RecordValue(Math.Clamp(late, 0, lane.Lateness.HighestTrackableValue));
                    Interlocked.Increment(ref lane.Frames);
                    Interlocked.Add(ref lane.Samples, samples);
                    if (history)
                    {
                        Interlocked.Increment(ref lane.HistoryFrames);
                        Interlocked.Add(ref lane.HistorySamples, samples);
                    }
                    if (!double.IsPositiveInfinity(vehicle.NextDue))
                        lane.Due.Enqueue(vehicle, vehicle.NextDue);
                    if ((++written & 63) == 0)
                        now = Seconds();
                }
                Volatile.Write(ref lane.BehindSeconds, lane.Due.TryPeek(out _, out var next) ? Math.Max(0, Seconds() - next) : 0);
                if (length > 0)
                {
                    await connection.SendAsync(buffer.AsMemory(0, length), cancellationToken);
                    if (single)
                    {
                        System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                        buffer = [];
                    }
                    continue;
                }
                if (single && buffer.Length > 0)
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                    buffer = [];
                }
                if (qos1 && connection.InFlight >= window)
                {
                    await Task.Delay(1, cancellationToken);
                    continue;
                }
                if (lane.Due.Count == 0)
                    break;
                var wait = next - Seconds();
                if (wait > 0.002)
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(wait, single ? 5 : 0.05)), cancellationToken);
                else
                    await Task.Yield();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            lane.Error = ex;
        }
        Volatile.Write(ref lane.BehindSeconds, 0);
    }

    private double Seconds() => _clock.Elapsed.TotalSeconds;

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _connections)
            await connection.DisposeAsync();
    }

    private sealed class Lane
    {
        public readonly PriorityQueue<LoadVehicle, double> Due = new();
        public readonly LongHistogram Lateness = new(TimeSpan.FromHours(2).Ticks / 10, 3);
        public long Frames;
        public long Samples;
        public long HistoryFrames;
        public long HistorySamples;
        public double BehindSeconds;
        public Exception? Error;
    }
}
