using System.Diagnostics;
using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Threading.Channels;
using InfluxDB.Client;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Api.Service;
using InfluxDB.Client.Core.Exceptions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using Telemetry.Abstractions;

namespace Telemetry.Storage;

/// <summary>
/// Writes samples and alert changes to InfluxDB 2.x or VictoriaMetrics through InfluxDB.Client's
/// v2 write API (precision seconds), with group commit.
/// </summary>
/// <remarks>
/// Concurrent calls are gathered into one write request of up to <see cref="TimeSeriesOptions.BatchSize"/>
/// points: a batch forms when a request slot is free, takes every queued call that fits, and waits
/// up to <see cref="TimeSeriesOptions.FlushInterval"/> for more. The task of each call completes only
/// when the request that holds its points has been accepted by the server, so a caller can
/// acknowledge upstream after it. A failed request is retried up to <see cref="TimeSeriesOptions.MaxRetries"/>
/// times with exponential backoff; if it still fails, the task of every call in it faults with the
/// error (nothing is dropped silently). Client errors (4xx but 408 and 429) are not retried.
/// Disposing writes what is queued, then stops.
/// </remarks>
public sealed class InfluxTimeSeriesSink : ITimeSeriesSink, IAsyncDisposable, IDisposable
{
    internal const string SinkName = "influx";

    private static readonly ResiliencePropertyKey<int> PointsKey = new("telemetry.storage.points");

    private readonly TimeSeriesOptions _options;
    private readonly ILineBatchWriter _writer;
    private readonly ILogger _logger;
    private readonly StorageMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _slots;
    private readonly ResiliencePipeline _pipeline;
    private readonly Task _gatherer;
    private int _disposed;

    /// <summary>Creates the sink for the server named by <see cref="TimeSeriesOptions.InfluxUrl"/>.</summary>
    public InfluxTimeSeriesSink(IOptions<TimeSeriesOptions> options, ILogger<InfluxTimeSeriesSink> logger, StorageMetrics metrics)
        : this(Checked(options).Value, new InfluxLineBatchWriter(options.Value), logger, metrics, TimeProvider.System)
    {
        Log.InfluxSinkStarted(logger, _options.InfluxUrl, _options.Org, _options.Bucket, _options.BatchSize);
    }

    internal InfluxTimeSeriesSink(TimeSeriesOptions options, ILineBatchWriter writer, ILogger logger, StorageMetrics metrics, TimeProvider time)
    {
        _options = options;
        _writer = writer;
        _logger = logger;
        _metrics = metrics;
        _time = time;
        _slots = new SemaphoreSlim(options.MaxConcurrentWrites, options.MaxConcurrentWrites);
        _pipeline = BuildPipeline(options, logger, metrics, time);
        _gatherer = Task.Run(GatherAsync);
    }

    /// <inheritdoc />
    public ValueTask WriteSamplesAsync(SeriesKey series, IReadOnlyList<Sample> samples, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(series.Vin);
        ArgumentNullException.ThrowIfNull(samples);
        cancellationToken.ThrowIfCancellationRequested();
        return samples.Count == 0 ? default : Enqueue(SamplePoints.ToLines(series, samples), cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask WriteAlertAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        cancellationToken.ThrowIfCancellationRequested();
        return Enqueue([SamplePoints.ToLine(alert)], cancellationToken);
    }

    /// <summary>Writes every queued call, then releases the client.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _queue.Writer.TryComplete();
        await _gatherer;
        _writer.Dispose();
        _slots.Dispose();
        Log.SinkStopped(_logger);
    }

    /// <summary>Synchronous form of <see cref="DisposeAsync"/> for containers that dispose synchronously.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private ValueTask Enqueue(string[] lines, CancellationToken cancellationToken)
    {
        var pending = new PendingWrite(lines);
        ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), this);
        // A cancelled caller stops waiting; its points may still be written with the batch.
        return new ValueTask(cancellationToken.CanBeCanceled ? pending.Completion.Task.WaitAsync(cancellationToken) : pending.Completion.Task);
    }

    private async Task GatherAsync()
    {
        var reader = _queue.Reader;
        while (true)
        {
            // Form a batch only when a request slot is free: while requests are in flight, calls queue
            // up and go together in the next one.
            await _slots.WaitAsync();
            if (!await reader.WaitToReadAsync())
            {
                _slots.Release();
                break;
            }

            var batch = new List<PendingWrite>();
            var lines = new List<string>();
            Take(reader, batch, lines);
            if (lines.Count < _options.BatchSize && _options.FlushInterval > TimeSpan.Zero)
                await LingerAsync(reader, batch, lines);
            _ = WriteAndReleaseAsync(batch, lines);
        }

        // Wait for the requests still in flight.
        for (var i = 0; i < _options.MaxConcurrentWrites; i++)
            await _slots.WaitAsync();
    }

    private void Take(ChannelReader<PendingWrite> reader, List<PendingWrite> batch, List<string> lines)
    {
        while (reader.TryPeek(out var next) && (batch.Count == 0 || lines.Count + next.Lines.Length <= _options.BatchSize))
        {
            if (!reader.TryRead(out next))
                break;
            batch.Add(next);
            lines.AddRange(next.Lines);
            if (lines.Count >= _options.BatchSize)
                break;
        }
    }

    private async Task LingerAsync(ChannelReader<PendingWrite> reader, List<PendingWrite> batch, List<string> lines)
    {
        using var linger = new CancellationTokenSource(_options.FlushInterval, _time);
        try
        {
            while (lines.Count < _options.BatchSize && await reader.WaitToReadAsync(linger.Token))
            {
                var before = lines.Count;
                Take(reader, batch, lines);
                if (lines.Count == before)
                    break; // the next call does not fit: send this batch now
            }
        }
        catch (OperationCanceledException) when (linger.IsCancellationRequested)
        {
            // The flush interval is over.
        }
    }

    private async Task WriteAndReleaseAsync(List<PendingWrite> batch, List<string> lines)
    {
        try
        {
            await WriteBatchAsync(batch, lines);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task WriteBatchAsync(List<PendingWrite> batch, List<string> lines)
    {
        var started = Stopwatch.GetTimestamp();
        var context = ResilienceContextPool.Shared.Get();
        context.Properties.Set(PointsKey, lines.Count);
        try
        {
            await _pipeline.ExecuteAsync(
                static async (ctx, state) => await state.Writer.WriteAsync(state.Lines, ctx.CancellationToken),
                context,
                (Writer: _writer, Lines: lines));
            _metrics.Written(SinkName, lines.Count, Stopwatch.GetElapsedTime(started));
            foreach (var pending in batch)
                pending.Completion.TrySetResult();
        }
        catch (Exception ex)
        {
            _metrics.Failed(SinkName);
            Log.WriteFailed(_logger, ex, lines.Count, batch.Count, _options.MaxRetries + 1);
            foreach (var pending in batch)
                pending.Completion.TrySetException(ex);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static ResiliencePipeline BuildPipeline(TimeSeriesOptions options, ILogger logger, StorageMetrics metrics, TimeProvider time)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                Delay = options.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                OnRetry = args =>
                {
                    metrics.Retried(SinkName);
                    args.Context.Properties.TryGetValue(PointsKey, out var points);
                    Log.WriteRetrying(logger, args.Outcome.Exception, points, args.AttemptNumber + 1, args.RetryDelay);
                    return default;
                },
            });
        }

        return builder.Build();
    }

    /// <summary>Client errors will fail again (bad data, bad token, no such bucket); everything else may pass on a retry.</summary>
    internal static bool IsTransient(Exception exception) => exception switch
    {
        HttpException { Status: 408 or 429 } => true,
        HttpException { Status: >= 400 and < 500 } => false,
        ArgumentException => false,
        _ => true,
    };

    private static IOptions<TimeSeriesOptions> Checked(IOptions<TimeSeriesOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options;
    }

    private sealed class PendingWrite(string[] lines)
    {
        public string[] Lines { get; } = lines;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>Sends one batch of line-protocol points and completes when the server accepted it.</summary>
internal interface ILineBatchWriter : IDisposable
{
    Task WriteAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="count"/> lines given as UTF-8 text joined by <c>\n</c>.</summary>
    Task WriteAsync(ReadOnlyMemory<byte> lines, int count, CancellationToken cancellationToken) =>
        WriteAsync(Encoding.UTF8.GetString(lines.Span).Split('\n'), cancellationToken);
}

/// <summary>The InfluxDB.Client v2 write API, precision seconds, with gzip-compressed request bodies when asked.</summary>
internal sealed class InfluxLineBatchWriter : ILineBatchWriter
{
    // WriteApiAsync turns its input into a string, a StringBuilder copy and then UTF-8 bytes before it calls
    // its WriteService (public API of InfluxDB.Client, configured by the client with the token, timeout and
    // gzip). The shipper already holds UTF-8 line protocol, so it calls that same service with the bytes:
    // one copy instead of four large ones per request. Should a later client version not have the field,
    // the writer falls back to WriteRecordAsync (same result, more garbage).
    private static readonly FieldInfo? ServiceField = typeof(WriteApiAsync).GetField("_service", BindingFlags.NonPublic | BindingFlags.Instance);
    private readonly InfluxDBClient _client;
    private readonly WriteApiAsync _api;
    private readonly WriteService? _service;
    private readonly string _bucket;
    private readonly string _org;
    private readonly CompressionLevel? _level;

    public InfluxLineBatchWriter(TimeSeriesOptions options, bool gzip = false)
    {
        var clientOptions = new InfluxDBClientOptions(options.InfluxUrl)
        {
            Org = options.Org,
            Bucket = options.Bucket,
            Timeout = options.RequestTimeout,
        };
        if (!string.IsNullOrEmpty(options.Token))
            clientOptions.Token = options.Token;
        _client = new InfluxDBClient(clientOptions);
        _api = _client.GetWriteApiAsync();
        _service = ServiceField?.GetValue(_api) as WriteService;
        // With the write service at hand the writer compresses the body itself, at the level of
        // Telemetry:TimeSeries:Compression: the client's own gzip has only zlib's default level, which cost
        // about a seventh of the silo's CPU at 20,000 trucks (bench/results/storage.md).
        _level = gzip ? options.GzipLevel : null;
        if (_level is not null && _service is null)
            _client.EnableGzip();
        _bucket = options.Bucket;
        _org = options.Org;
    }

    public Task WriteAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken) =>
        _api.WriteRecordsAsync(lines, WritePrecision.S, _bucket, _org, cancellationToken);

    /// <summary>The whole request as its UTF-8 bytes: no string and no client object per line.</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> lines, int count, CancellationToken cancellationToken) =>
        _service is null
            ? _api.WriteRecordAsync(Encoding.UTF8.GetString(lines.Span), WritePrecision.S, _bucket, _org, cancellationToken)
            : _service.PostWriteAsync(_org, _bucket, _level is { } level ? Compress(lines.Span, level) : lines.ToArray(), null,
                _level is null ? "identity" : "gzip", "text/plain; charset=utf-8", null, "application/json", null, WritePrecision.S, cancellationToken);

    /// <summary>The body as one gzip member at <paramref name="level"/>.</summary>
    internal static byte[] Compress(ReadOnlySpan<byte> body, CompressionLevel level)
    {
        // The request needs an array of its own size; the stream it is compressed into is kept per thread and
        // reused, so that each request leaves one array of garbage instead of two.
        var output = t_compressed ?? new MemoryStream(Math.Max(256, body.Length / 4));
        t_compressed = null;
        output.SetLength(0);
        using (var gzip = new GZipStream(output, level, leaveOpen: true))
        {
            gzip.Write(body);
        }
        var compressed = output.ToArray();
        if (output.Capacity <= KeepCompressedBytes)
            t_compressed = output;
        return compressed;
    }

    private const int KeepCompressedBytes = 4 * 1024 * 1024;

    [ThreadStatic]
    private static MemoryStream? t_compressed;

    /// <summary>True when requests go to the client's write service directly (see the field comment).</summary>
    internal bool WritesBytes => _service is not null;

    public void Dispose() => _client.Dispose();
}
