using System.Collections.Concurrent;
using System.Collections.Immutable;
using MQTTnet;
using MQTTnet.Protocol;
using Microsoft.Extensions.Logging.Abstractions;
using Telemetry.Abstractions;
using Telemetry.Protocol;
using Telemetry.Storage;
using Telemetry.Storage.Journal;
using Telemetry.Simulation;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>One terminal frame of a fault test, with the sample seconds it carries.</summary>
public sealed record class TraceFrame(string Vin, string Topic, byte[] Payload, int Samples);

/// <summary>
/// A known set of HJ 1239 frames (10 one-second records each) from simulated trucks driving on
/// the highway, ending shortly before now, in the order a fleet sends them (by time, trucks
/// interleaved), re-issued (command 0x03) as a terminal sends its backlog. The first truck, when asked, has a failed SCR (NOx far above 500 ppm, R1).
/// </summary>
public sealed class FaultTrace
{
    private FaultTrace(IReadOnlyList<TraceFrame> frames, IReadOnlyList<string> vins, string? exceedingVin, long? firstSecond)
    {
        FirstSecond = firstSecond ?? 0;
        Frames = frames;
        Vins = vins;
        ExceedingVin = exceedingVin;
    }

    public IReadOnlyList<TraceFrame> Frames { get; }

    public IReadOnlyList<string> Vins { get; }

    public string? ExceedingVin { get; }

    /// <summary>The Unix second of every truck's first sample.</summary>
    public long FirstSecond { get; }

    public int SamplesPerVin => Frames.Count / Vins.Count * 10;

    public int TotalSamples => Frames.Sum(f => f.Samples);

    public static FaultTrace Create(int trucks, int framesPerTruck, int seed, bool withExceedance)
    {
        var end = DateTime.UtcNow.AddSeconds(-30);
        var start = new DateTime(end.AddSeconds(-framesPerTruck * 10).Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, DateTimeKind.Utc);
        var models = new List<TruckModel>();
        for (var t = 0; t < trucks; t++)
        {
            var vin = Telemetry.Simulation.Vins.Make(seed + t, "LFLT");
            var model = new TruckModel(vin, seed + t, DriveCycle.Highway, start);
            if (withExceedance && t == 0)
            {
                model.Inject(Fault.HighNox, start, start.AddDays(1));
            }
            models.Add(model);
        }
        var frames = new List<TraceFrame>(trucks * framesPerTruck);
        long? firstSecond = null;
        for (var f = 0; f < framesPerTruck; f++)
        {
            foreach (var model in models)
            {
                var samples = Enumerable.Range(0, 10).Select(_ => model.Step()).ToImmutableArray();
                firstSecond ??= new DateTimeOffset(samples[0].TimeUtc).ToUnixTimeSeconds();
                var batch = new TelemetryBatch(model.Vin, FrameKind.Reissue, samples[0].TimeUtc, (ushort)f, samples, [], default);
                frames.Add(new TraceFrame(model.Vin, $"hdv/{model.Vin}/hj1239", FrameEncoder.Encode(batch, TerminalProfile.Hj1239), samples.Length));
            }
        }
        return new FaultTrace(frames, [.. models.Select(m => m.Vin)], withExceedance ? models[0].Vin : null, firstSecond);
    }

    /// <summary>
    /// Asserts that victoria-metrics (started without deduplication) holds every sample of the trace
    /// exactly once: one series per VIN of a field every sample carries, each second once.
    /// </summary>
    public async Task AssertStoredExactlyOnceAsync(VictoriaMetricsServer tsdb, TimeSpan timeout, CancellationToken cancellationToken)
    {
        IReadOnlyList<ExportedSeries> series;
        try
        {
            series = await tsdb.WaitForSampleCountAsync("{__name__=\"hdv_odometerKm\"}", TotalSamples, timeout, cancellationToken);
        }
        catch (EventuallyTimeoutException)
        {
            // Say which seconds are missing: the pattern tells where they were lost.
            var stored = await tsdb.ExportAsync("{__name__=\"hdv_odometerKm\"}", cancellationToken);
            var missing = stored.Select(s => $"{s.Label("vin")}: {s.TimestampsMs.Count} of {SamplesPerVin}, first {DateTimeOffset.FromUnixTimeMilliseconds((s.TimestampsMs.Count > 0 ? s.TimestampsMs[0] : 0)):HH:mm:ss} last {DateTimeOffset.FromUnixTimeMilliseconds((s.TimestampsMs.Count > 0 ? s.TimestampsMs[^1] : 0)):HH:mm:ss}, gaps at "
                + string.Join(",", s.TimestampsMs.Zip(s.TimestampsMs.Skip(1)).Where(p => p.Second - p.First > 1000).Select(p => $"{DateTimeOffset.FromUnixTimeMilliseconds(p.First):HH:mm:ss}+{(p.Second - p.First) / 1000}s")));
            throw new Xunit.Sdk.XunitException($"Not every sample was stored:\n{string.Join("\n", missing)}");
        }
        Assert.Equal(Vins.Count, series.Count);
        foreach (var s in series)
        {
            Assert.Equal(s.TimestampsMs.Count, s.TimestampsMs.Distinct().Count());
            Assert.Equal(SamplesPerVin, s.TimestampsMs.Count);
        }
        Assert.Equal(TotalSamples, VictoriaMetricsServer.CountSamples(series));
    }

    /// <summary>
    /// After a SIGKILL of the silo: every sample of the trace is in victoria-metrics (nothing lost); the
    /// silo's journal holds each (VIN, second) exactly once (the pipeline stored nothing twice); and
    /// where victoria-metrics (without deduplication) holds a second copy, it is the same value: a
    /// line of a shipper request that the kill cut off and that was sent again (victoria-metrics
    /// ingests a request's lines while it reads them; InfluxDB overwrites the same point).
    /// </summary>
    public Task AssertStoredAfterCrashAsync(VictoriaMetricsServer tsdb, string journalDirectory, TimeSpan timeout, CancellationToken cancellationToken) =>
        AssertStoredAfterCrashAsync(tsdb, [journalDirectory], timeout, cancellationToken);

    /// <summary>
    /// <see cref="AssertStoredAfterCrashAsync(VictoriaMetricsServer, string, TimeSpan, CancellationToken)"/> for a
    /// cluster: every sample in victoria-metrics, every second copy the same value, each silo's journal holding a
    /// (VIN, second) at most once and the journals together holding every one. A frame the killed silo had journaled
    /// but not yet acknowledged may be journaled again by the silo the broker hands it to; the journals then hold it
    /// twice, with the same value. Returns how many (VIN, second) more than one journal holds.
    /// </summary>
    public async Task<int> AssertStoredAfterCrashAsync(VictoriaMetricsServer tsdb, IReadOnlyList<string> journalDirectories, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var union = new HashSet<(string, long)>();
        var lines = 0;
        foreach (var directory in journalDirectories)
        {
            await using var journal = new FileJournal(new JournalOptions { Directory = directory }, NullLogger.Instance, new StorageMetrics(), TimeProvider.System);
            var seen = new HashSet<(string, long)>();
            await foreach (var record in journal.ReadAsync(1, follow: false, cancellationToken))
            {
                if (record.Type is not (JournalRecordType.Points or JournalRecordType.PointsWithDetail))
                {
                    continue;
                }
                foreach (var line in System.Text.Encoding.UTF8.GetString(DetailBlock.Text(record.Type, record.Payload).Span).Split('\n'))
                {
                    if (!line.StartsWith("hdv,vin=", StringComparison.Ordinal))
                    {
                        continue;
                    }
                    var vin = line[8..line.IndexOfAny([',', ' '], 8)];
                    var second = long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                    lines++;
                    Assert.True(seen.Add((vin, second)), $"the journal {directory} holds {vin} at {second} twice");
                    union.Add((vin, second));
                }
            }
        }
        const string match = "{__name__=\"hdv_odometerKm\"}";
        IReadOnlyList<ExportedSeries> series;
        try
        {
            series = await Eventually.WaitForAsync(
                () => tsdb.ExportAsync(match, cancellationToken),
                all => all.Count == Vins.Count && all.All(s => s.TimestampsMs.Distinct().Count() == SamplesPerVin),
                timeout, $"victoria-metrics holds each of the {TotalSamples} (VIN, second) of the trace",
                all => $"{all.Sum(s => s.TimestampsMs.Distinct().Count())} distinct in {all.Count} series", cancellationToken);
        }
        catch (EventuallyTimeoutException timedOut)
        {
            throw new Xunit.Sdk.XunitException(await DescribeMissingAsync(tsdb, match, union, timedOut.Message, cancellationToken));
        }
        var copies = 0;
        foreach (var s in series)
        {
            foreach (var group in s.TimestampsMs.Zip(s.Values).GroupBy(p => p.First).Where(g => g.Count() > 1))
            {
                copies += group.Count() - 1;
                Assert.Single(group.Select(p => p.Second).Distinct());
            }
        }

        Assert.Equal(TotalSamples, union.Count);
        if (journalDirectories.Count == 1)
            Assert.Equal(TotalSamples, lines);
        Assert.True(copies <= 4 * 20_000 * journalDirectories.Count + (lines - union.Count),
            $"{copies} second copies: more than the shipper's requests in flight and the journals' overlap can hold");
        return lines - union.Count;
    }

    /// <summary>Which (VIN, second) of the trace victoria-metrics lacks, and whether a journal holds them.</summary>
    private async Task<string> DescribeMissingAsync(VictoriaMetricsServer tsdb, string match, HashSet<(string Vin, long Second)> journaled,
        string timedOut, CancellationToken cancellationToken)
    {
        var stored = (await tsdb.ExportAsync(match, cancellationToken))
            .SelectMany(s => s.TimestampsMs.Select(t => (Vin: s.Label("vin") ?? "", Second: t / 1000)))
            .ToHashSet();
        var expected = Vins.SelectMany(v => Enumerable.Range(0, SamplesPerVin).Select(i => (Vin: v, Second: FirstSecond + i)));
        var missing = expected.Where(k => !stored.Contains(k)).ToList();
        var inJournal = missing.Count(journaled.Contains);
        var runs = missing.GroupBy(k => k.Vin).Select(g => $"{g.Key}: {g.Count()} from {g.Min(k => k.Second)} to {g.Max(k => k.Second)}");
        return $"{timedOut}\n{missing.Count} (VIN, second) not stored, {inJournal} of them journaled:\n{string.Join("\n", runs)}";
    }
}

/// <summary>
/// A terminal-like MQTT client that publishes a trace at QoS 1 with many publishes in flight, keeps
/// which were acknowledged, and after a lost connection reconnects and publishes again whatever was
/// not acknowledged, as field terminals do.
/// </summary>
public sealed class RepublishingTerminal : IAsyncDisposable
{
    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly MqttClientOptions _options;
    private readonly ConcurrentDictionary<int, bool> _acknowledged = new();
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private Exception? _callbackError;

    public RepublishingTerminal(string host, int port, string clientId)
    {
        _options = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithTimeout(TimeSpan.FromSeconds(5)).Build();
    }

    /// <summary>Indexes of the frames the broker acknowledged.</summary>
    public int Acknowledged => _acknowledged.Count;

    /// <summary>Publish attempts that failed (no acknowledgement: connection lost, broker gone).</summary>
    public int FailedAttempts { get; private set; }

    /// <summary>
    /// Publishes every frame of <paramref name="frames"/> until each is acknowledged, at most
    /// <paramref name="inFlight"/> at once and at most <paramref name="perSecond"/> a second;
    /// <paramref name="onAcknowledged"/> runs after each acknowledgement with the count so far.
    /// </summary>
    public async Task PublishAllAsync(IReadOnlyList<TraceFrame> frames, int inFlight, int perSecond, TimeSpan deadline,
        Func<int, Task>? onAcknowledged, CancellationToken cancellationToken)
    {
        var until = DateTime.UtcNow + deadline;
        var pending = Enumerable.Range(0, frames.Count).ToList();
        while (pending.Count > 0)
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"{pending.Count} of {frames.Count} frames were never acknowledged.");
            }
            using var gate = new SemaphoreSlim(inFlight, inFlight);
            var tasks = new List<Task>();
            var started = DateTime.UtcNow;
            var sent = 0;
            foreach (var index in pending)
            {
                await gate.WaitAsync(cancellationToken);
                var due = started + TimeSpan.FromSeconds((double)sent++ / perSecond);
                if (due > DateTime.UtcNow)
                {
                    await Task.Delay(due - DateTime.UtcNow, cancellationToken);
                }
                tasks.Add(PublishOneAsync(frames, index, gate, onAcknowledged, cancellationToken));
            }
            await Task.WhenAll(tasks);
            if (_callbackError is not null)
            {
                throw new InvalidOperationException("The test's step during publishing failed.", _callbackError);
            }
            pending = [.. pending.Where(i => !_acknowledged.ContainsKey(i))];
            if (pending.Count > 0)
            {
                await Task.Delay(500, cancellationToken);
            }
        }
    }

    private async Task PublishOneAsync(IReadOnlyList<TraceFrame> frames, int index, SemaphoreSlim gate, Func<int, Task>? onAcknowledged, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureConnectedAsync(cancellationToken);
            var frame = frames[index];
            var message = new MqttApplicationMessageBuilder().WithTopic(frame.Topic).WithPayload(frame.Payload)
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var result = await _client.PublishAsync(message, timeout.Token);
            if (result.IsSuccess || result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers)
            {
                if (_acknowledged.TryAdd(index, true) && onAcknowledged is not null)
                {
                    try
                    {
                        await onAcknowledged(_acknowledged.Count);
                    }
                    catch (Exception ex)
                    {
                        _callbackError ??= ex;
                    }
                }
            }
            else
            {
                FailedAttempts++;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            FailedAttempts++;
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task EnsureConnectedAsync(CancellationToken cancellationToken)
    {
        if (_client.IsConnected)
        {
            return;
        }
        await _connectGate.WaitAsync(cancellationToken);
        try
        {
            if (!_client.IsConnected)
            {
                await _client.ConnectAsync(_options, cancellationToken);
            }
        }
        finally
        {
            _connectGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync();
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                // Already gone.
            }
        }
        _client.Dispose();
        _connectGate.Dispose();
    }
}
