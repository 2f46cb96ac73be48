using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Journal;

/// <summary>
/// Runs the parts of the <c>adaptive</c> storage policy that no write triggers: the detail shipper
/// (<see cref="JournalShipper.CreateDetail"/>) and, every 30 s and at stop, the 1-minute aggregates of
/// vehicles that went quiet. Does nothing under the <c>full</c> policy.
/// </summary>
public sealed partial class AdaptiveStorageService(
    IJournal journal,
    ITimeSeriesSink sink,
    AdaptiveShipping adaptive,
    IOptions<TimeSeriesOptions> options,
    IOptions<JournalOptions> journalOptions,
    ILoggerFactory loggers,
    StorageMetrics metrics) : IHostedService, IDisposable
{
    private static readonly TimeSpan FlushPeriod = TimeSpan.FromSeconds(30);
    private readonly ILogger _logger = loggers.CreateLogger<AdaptiveStorageService>();
    private readonly CancellationTokenSource _stopping = new();
    private JournalShipper? _detail;
    private Task? _flushing;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.IsAdaptive)
            return;
        Log.Adaptive(_logger, options.Value.AdaptiveWindow, options.Value.AdaptiveDetailDelay);
        _detail = JournalShipper.CreateDetail(journal, options, journalOptions, loggers, metrics, adaptive);
        await _detail.StartAsync(cancellationToken);
        if (sink is JournalTimeSeriesSink journalSink)
            _flushing = FlushLoopAsync(journalSink, _stopping.Token);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_flushing is not null)
            await _flushing;
        if (sink is JournalTimeSeriesSink journalSink)
        {
            try
            {
                await journalSink.FlushIdleAggregatesAsync(all: true, cancellationToken);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                Log.FlushFailed(_logger, ex);
            }
        }

        if (_detail is not null)
            await _detail.StopAsync(cancellationToken);
    }

    public void Dispose()
    {
        _detail?.Dispose();
        _stopping.Dispose();
    }

    private async Task FlushLoopAsync(JournalTimeSeriesSink journalSink, CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(FlushPeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await journalSink.FlushIdleAggregatesAsync(all: false, stopping);
                }
                catch (Exception ex) when (ex is IOException)
                {
                    Log.FlushFailed(_logger, ex); // the journal is full or failing: the next round tries again
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "Storage policy adaptive: core fields of every sample, 1-minute aggregates of the rest, full resolution {Window} around alert episodes (detail shipped {Delay} behind)")]
        public static partial void Adaptive(ILogger logger, TimeSpan window, TimeSpan delay);

        [LoggerMessage(EventId = 1311, Level = LogLevel.Warning, Message = "Writing the 1-minute aggregates of idle vehicles to the journal failed")]
        public static partial void FlushFailed(ILogger logger, Exception exception);
    }
}
