using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using InfluxDB.Client.Core.Exceptions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Abstractions;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests;

/// <summary>Group commit of <see cref="InfluxTimeSeriesSink"/> against a writer that tests control.</summary>
public sealed class InfluxTimeSeriesSinkTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private static readonly DateTime T0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class FakeWriter : ILineBatchWriter
    {
        private readonly ConcurrentQueue<TaskCompletionSource> _gates = new();

        public ConcurrentQueue<string[]> Accepted { get; } = new();

        public int Attempts => _attempts;

        private int _attempts;

        /// <summary>Decides each attempt (numbered from 1): null to accept, an exception to fail.</summary>
        public Func<int, Exception?> Outcome { get; set; } = _ => null;

        /// <summary>When set, every attempt waits until the test opens its gate.</summary>
        public bool Gated { get; set; }

        public async Task WriteAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken)
        {
            var attempt = Interlocked.Increment(ref _attempts);
            if (Gated)
            {
                var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _gates.Enqueue(gate);
                await gate.Task;
            }

            if (Outcome(attempt) is { } error)
                throw error;
            Accepted.Enqueue([.. lines]);
        }

        public int WaitingAtGate => _gates.Count;

        public void OpenOneGate()
        {
            Assert.True(_gates.TryDequeue(out var gate), "no write is waiting at the gate");
            gate.SetResult();
        }

        public void Dispose()
        {
        }
    }

    private static InfluxTimeSeriesSink CreateSink(FakeWriter writer, TimeSeriesOptions? options = null, TimeProvider? time = null, StorageMetrics? metrics = null) =>
        new(options ?? new TimeSeriesOptions { FlushInterval = TimeSpan.Zero, MaxConcurrentWrites = 1, RetryDelay = TimeSpan.Zero },
            writer, NullLogger.Instance, metrics ?? new StorageMetrics(), time ?? TimeProvider.System);

    private static Sample[] Samples(int count, int offset = 0) =>
        [.. Enumerable.Range(offset, count).Select(i => TestData.FullSample(T0.AddSeconds(i)))];

    [Fact]
    public void Compress_LargeBodyThenSmallOnTheSameThread_EachDecompressesToItsOwnBody()
    {
        // The compression stream is reused between requests: a smaller body after a larger one must not carry its tail.
        var large = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', Enumerable.Range(0, 5000).Select(i => SamplePoints.ToLine("LGDCHA1G8MA127733", TestData.FullSample(T0.AddSeconds(i))))));
        var small = "hdv,vin=LGDCHA1G8MA127733 speedKmh=1 1772353815"u8.ToArray();

        foreach (var body in new[] { large, small, large })
        {
            var compressed = InfluxLineBatchWriter.Compress(body, System.IO.Compression.CompressionLevel.Fastest);
            using var gzip = new System.IO.Compression.GZipStream(new MemoryStream(compressed), System.IO.Compression.CompressionMode.Decompress);
            using var back = new MemoryStream();
            gzip.CopyTo(back);
            Assert.Equal(body, back.ToArray());
        }
    }

    [Fact]
    public async Task WriteSamplesAsync_TaskCompletesOnlyAfterTheServerAcceptedTheBatch()
    {
        var writer = new FakeWriter { Gated = true };
        await using var sink = CreateSink(writer);

        var write = sink.WriteSamplesAsync("LGDCHA1G8MA127733", Samples(3), Ct).AsTask();
        await Eventually.WaitAsync(() => writer.WaitingAtGate == 1, Patience, "the batch reached the writer", Ct);

        Assert.False(write.IsCompleted);
        writer.OpenOneGate();
        await write.WaitAsync(Patience, Ct);
        Assert.Equal(SamplePoints.ToLines("LGDCHA1G8MA127733", Samples(3)), Assert.Single(writer.Accepted));
    }

    [Fact]
    public async Task WriteSamplesAsync_CallsQueuedWhileAWriteIsInFlight_GoTogetherInTheNextBatch()
    {
        var writer = new FakeWriter { Gated = true };
        await using var sink = CreateSink(writer);
        var first = sink.WriteSamplesAsync(TestData.NewVin(), Samples(2), Ct).AsTask();
        await Eventually.WaitAsync(() => writer.WaitingAtGate == 1, Patience, "the first batch reached the writer", Ct);

        var queued = Enumerable.Range(0, 5).Select(i => sink.WriteSamplesAsync(TestData.NewVin(), Samples(3), Ct).AsTask()).ToArray();
        writer.OpenOneGate();
        await first.WaitAsync(Patience, Ct);
        await Eventually.WaitAsync(() => writer.WaitingAtGate == 1, Patience, "the second batch reached the writer", Ct);

        Assert.All(queued, q => Assert.False(q.IsCompleted));
        writer.OpenOneGate();
        await Task.WhenAll(queued).WaitAsync(Patience, Ct);
        Assert.Equal([2, 15], writer.Accepted.Select(b => b.Length));
    }

    [Fact]
    public async Task WriteSamplesAsync_MoreThanBatchSize_SplitsBetweenCallsNeverInsideOne()
    {
        var writer = new FakeWriter { Gated = true };
        var options = new TimeSeriesOptions { BatchSize = 10, FlushInterval = TimeSpan.Zero, MaxConcurrentWrites = 1, RetryDelay = TimeSpan.Zero };
        await using var sink = CreateSink(writer, options);
        var first = sink.WriteSamplesAsync(TestData.NewVin(), Samples(1), Ct).AsTask();
        await Eventually.WaitAsync(() => writer.WaitingAtGate == 1, Patience, "the first batch reached the writer", Ct);
        var vins = Enumerable.Range(0, 5).Select(_ => TestData.NewVin()).ToArray();
        var queued = vins.Select(vin => sink.WriteSamplesAsync(vin, Samples(4), Ct).AsTask()).ToArray();
        var big = sink.WriteSamplesAsync(TestData.NewVin(), Samples(25), Ct).AsTask();

        writer.Gated = false;
        writer.OpenOneGate();
        await Task.WhenAll([first, big, .. queued]).WaitAsync(Patience, Ct);

        Assert.Equal([1, 8, 8, 4, 25], writer.Accepted.Select(b => b.Length));
        foreach (var vin in vins)
            Assert.Single(writer.Accepted, b => b.Any(l => l.Contains(vin, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task WriteSamplesAsync_CallsWithinTheFlushInterval_AreSentAsOneBatch()
    {
        var time = new FakeTimeProvider(T0);
        var writer = new FakeWriter();
        var options = new TimeSeriesOptions { FlushInterval = TimeSpan.FromSeconds(1), MaxConcurrentWrites = 1 };
        await using var sink = CreateSink(writer, options, time);

        var a = sink.WriteSamplesAsync(TestData.NewVin(), Samples(2), Ct).AsTask();
        var b = sink.WriteSamplesAsync(TestData.NewVin(), Samples(3), Ct).AsTask();
        await Eventually.WaitAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(1));
            return !writer.Accepted.IsEmpty;
        }, Patience, "the flush interval passed", Ct);

        await Task.WhenAll(a, b).WaitAsync(Patience, Ct);
        Assert.Equal(5, Assert.Single(writer.Accepted).Length);
    }

    [Fact]
    public async Task WriteSamplesAsync_TransientFailures_AreRetriedUntilAccepted()
    {
        var writer = new FakeWriter { Outcome = attempt => attempt <= 2 ? new HttpRequestException("connection refused") : null };
        await using var sink = CreateSink(writer, new TimeSeriesOptions { FlushInterval = TimeSpan.Zero, MaxRetries = 3, RetryDelay = TimeSpan.Zero });

        await sink.WriteSamplesAsync(TestData.NewVin(), Samples(2), Ct).AsTask().WaitAsync(Patience, Ct);

        Assert.Equal(3, writer.Attempts);
        Assert.Single(writer.Accepted);
    }

    [Fact]
    public async Task WriteSamplesAsync_ServerKeepsFailing_FaultsEveryCallOfTheBatchAfterMaxRetries()
    {
        var writer = new FakeWriter { Gated = true };
        await using var sink = CreateSink(writer, new TimeSeriesOptions { FlushInterval = TimeSpan.Zero, MaxConcurrentWrites = 1, MaxRetries = 2, RetryDelay = TimeSpan.Zero });
        var first = sink.WriteSamplesAsync(TestData.NewVin(), Samples(1), Ct).AsTask();
        await Eventually.WaitAsync(() => writer.WaitingAtGate == 1, Patience, "the first batch reached the writer", Ct);
        var b = sink.WriteSamplesAsync(TestData.NewVin(), Samples(2), Ct).AsTask();
        var c = sink.WriteAlertAsync(TestData.Alert(TestData.NewVin()), Ct).AsTask();

        writer.Outcome = attempt => attempt >= 2 ? new HttpRequestException("server down") : null;
        writer.Gated = false;
        writer.OpenOneGate();

        await first.WaitAsync(Patience, Ct);
        var errorB = await Assert.ThrowsAsync<HttpRequestException>(() => b.WaitAsync(Patience, Ct));
        var errorC = await Assert.ThrowsAsync<HttpRequestException>(() => c.WaitAsync(Patience, Ct));
        Assert.Equal("server down", errorB.Message);
        Assert.Same(errorB, errorC);
        Assert.Equal(1 + 3, writer.Attempts);
    }

    [Fact]
    public async Task WriteSamplesAsync_ClientError_IsNotRetried()
    {
        var writer = new FakeWriter { Outcome = _ => new HttpException("unable to parse", 400, null) };
        await using var sink = CreateSink(writer, new TimeSeriesOptions { FlushInterval = TimeSpan.Zero, MaxRetries = 5, RetryDelay = TimeSpan.Zero });

        await Assert.ThrowsAsync<HttpException>(() => sink.WriteSamplesAsync(TestData.NewVin(), Samples(1), Ct).AsTask().WaitAsync(Patience, Ct));

        Assert.Equal(1, writer.Attempts);
    }

    [Theory]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(404, false)]
    [InlineData(408, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(503, true)]
    public void IsTransient_HttpStatus_RetriesServerErrorsAndThrottlingOnly(int status, bool transient) =>
        Assert.Equal(transient, InfluxTimeSeriesSink.IsTransient(new HttpException("x", status, null)));

    [Fact]
    public async Task DisposeAsync_WritesQueuedCallsBeforeItCompletes_ThenRefusesNewOnes()
    {
        var writer = new FakeWriter { Gated = true };
        var sink = CreateSink(writer);
        var first = sink.WriteSamplesAsync(TestData.NewVin(), Samples(1), Ct).AsTask();
        await Eventually.WaitAsync(() => writer.WaitingAtGate == 1, Patience, "the first batch reached the writer", Ct);
        var queued = sink.WriteSamplesAsync(TestData.NewVin(), Samples(2), Ct).AsTask();

        var dispose = sink.DisposeAsync().AsTask();
        writer.Gated = false;
        writer.OpenOneGate();
        await dispose.WaitAsync(Patience, Ct);

        Assert.Equal(3, writer.Accepted.Sum(b => b.Length));
        await Task.WhenAll(first, queued).WaitAsync(Patience, Ct);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await sink.WriteSamplesAsync(TestData.NewVin(), Samples(1), Ct));
    }

    [Fact]
    public async Task WriteSamplesAsync_CountsPointsBatchesFailuresAndRetriesOnItsMeter()
    {
        using var metrics = new StorageMetrics();
        var totals = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, metrics.Meter))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => totals.AddOrUpdate(instrument.Name, value, (_, v) => v + value));
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) => totals.AddOrUpdate(instrument.Name, 1, (_, v) => v + 1));
        listener.Start();
        var writer = new FakeWriter { Outcome = attempt => attempt is 1 or 3 or 4 ? new HttpRequestException("flaky") : null };
        await using var sink = CreateSink(writer, new TimeSeriesOptions { FlushInterval = TimeSpan.Zero, MaxRetries = 1, RetryDelay = TimeSpan.Zero }, metrics: metrics);

        await sink.WriteSamplesAsync(TestData.NewVin(), Samples(4), Ct).AsTask().WaitAsync(Patience, Ct);
        await Assert.ThrowsAsync<HttpRequestException>(() => sink.WriteSamplesAsync(TestData.NewVin(), Samples(2), Ct).AsTask().WaitAsync(Patience, Ct));

        Assert.Equal(4, totals["telemetry.storage.points.written"]);
        Assert.Equal(1, totals["telemetry.storage.write.batches"]);
        Assert.Equal(1, totals["telemetry.storage.write.failures"]);
        Assert.Equal(2, totals["telemetry.storage.write.retries"]);
        Assert.Equal(1, totals["telemetry.storage.write.duration"]);
    }
}
