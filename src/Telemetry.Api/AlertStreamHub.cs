using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Grains;

namespace Telemetry.Api;

/// <summary>
/// The live alert stream's one subscriber to the <see cref="IAlertFeed"/>: each change is serialised once into a
/// ready server-sent-events frame with an event id (<c>{boot}-{sequence}</c>), kept in a ring of the last
/// <see cref="ReplayCapacity"/> frames for <c>Last-Event-ID</c> resume, and handed to the clients whose scope it is in.
/// Every client has a bounded queue; a client that does not read and fills it is disconnected (it may resume),
/// so no client slows the others or the grains.
/// </summary>
public sealed class AlertStreamHub(IAlertFeed feed) : BackgroundService
{
    /// <summary>Frames kept for resume.</summary>
    public const int ReplayCapacity = 4096;

    /// <summary>Frames a client may have unread before it is disconnected.</summary>
    public const int ClientCapacity = 256;

    private readonly string _boot = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
    private readonly Lock _gate = new();
    private readonly LinkedList<StreamFrame> _recent = new();
    private readonly List<StreamClient> _clients = [];
    private long _sequence;

    /// <summary>Clients disconnected because they did not read.</summary>
    public long DroppedClients => Interlocked.Read(ref _dropped);

    /// <summary>Clients connected now.</summary>
    public int ConnectedClients
    {
        get
        {
            lock (_gate)
                return _clients.Count;
        }
    }

    private long _dropped;

    /// <summary>
    /// Registers a client of <paramref name="caller"/>'s scope and returns it with the frames after
    /// <paramref name="lastEventId"/> (empty when none was given; null when that id cannot be resumed from: another
    /// run of the silo, or older than what is kept).
    /// </summary>
    public (StreamClient Client, IReadOnlyList<StreamFrame>? Missed) Connect(Caller caller, string? lastEventId)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var client = new StreamClient(caller, this);
        lock (_gate)
        {
            _clients.Add(client);
            if (string.IsNullOrEmpty(lastEventId))
                return (client, []);
            var dash = lastEventId.LastIndexOf('-');
            if (dash <= 0 || lastEventId[..dash] != _boot
                || !long.TryParse(lastEventId.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var last)
                || last > _sequence || (_recent.First is { } oldest && last < oldest.Value.Sequence - 1))
                return (client, null);
            var missed = _recent.Where(f => f.Sequence > last && client.MaySee(f)).ToList();
            client.SkipThrough(_recent.Last?.Value.Sequence ?? last);
            return (client, missed);
        }
    }

    internal void Disconnect(StreamClient client)
    {
        lock (_gate)
            _clients.Remove(client);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var subscription = feed.Subscribe();
        try
        {
            await foreach (var change in subscription.Reader.ReadAllAsync(stoppingToken))
                Publish(change);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>Serialises <paramref name="change"/> once and hands the frame to every client in scope.</summary>
    internal void Publish(AlertChange change)
    {
        var sequence = Interlocked.Increment(ref _sequence);
        var id = string.Create(CultureInfo.InvariantCulture, $"{_boot}-{sequence}");
        var data = JsonSerializer.Serialize(new { kind = change.Kind, alert = change.Alert }, TelemetryJson.Options);
        var frame = new StreamFrame(sequence, change.Alert.Fleet, change.Alert.Region, Encoding.UTF8.GetBytes($"id: {id}\nevent: alert\ndata: {data}\n\n"));
        lock (_gate)
        {
            _recent.AddLast(frame);
            if (_recent.Count > ReplayCapacity)
                _recent.RemoveFirst();
            foreach (var client in _clients)
            {
                if (client.MaySee(frame) && !client.Offer(frame))
                    Interlocked.Increment(ref _dropped);
            }
        }
    }
}

/// <summary>One change, serialised: its sequence, scope keys and the bytes of its SSE frame.</summary>
public sealed record class StreamFrame(long Sequence, string? Fleet, string? Region, byte[] Bytes);

/// <summary>One connected stream client: its scope and its bounded queue of frames.</summary>
public sealed class StreamClient : IDisposable
{
    private readonly Caller _caller;
    private readonly AlertStreamHub _hub;
    private readonly Channel<StreamFrame> _queue = Channel.CreateBounded<StreamFrame>(new BoundedChannelOptions(AlertStreamHub.ClientCapacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
        SingleReader = true,
    });
    private long _skipThrough;

    internal StreamClient(Caller caller, AlertStreamHub hub)
    {
        _caller = caller;
        _hub = hub;
    }

    /// <summary>The frames for this client; completes when the client was too slow.</summary>
    public ChannelReader<StreamFrame> Frames => _queue.Reader;

    /// <summary>True once the client was disconnected for not reading.</summary>
    public bool Overflowed { get; private set; }

    internal bool MaySee(StreamFrame frame) =>
        (_caller.Fleets is not { } fleets || (frame.Fleet is { } f && fleets.Contains(f))) &&
        (_caller.Regions is not { } regions || (frame.Region is { } r && regions.Contains(r)));

    internal void SkipThrough(long sequence) => _skipThrough = sequence;

    /// <summary>Queues a frame; false (and the client is ended) when its queue is full.</summary>
    internal bool Offer(StreamFrame frame)
    {
        if (frame.Sequence <= _skipThrough || Overflowed)
            return true;
        if (_queue.Writer.TryWrite(frame))
            return true;
        Overflowed = true;
        _queue.Writer.TryComplete();
        return false;
    }

    public void Dispose()
    {
        _hub.Disconnect(this);
        _queue.Writer.TryComplete();
    }
}

/// <summary>Writes the stream to one HTTP response.</summary>
internal static class AlertStreamEndpoint
{
    private static readonly byte[] Opening = ": alert stream\n\n"u8.ToArray();
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();
    private static readonly byte[] CannotResume = ": cannot resume from Last-Event-ID; changes may have been missed\n\n"u8.ToArray();

    /// <summary>
    /// <c>text/event-stream</c>: an opening comment, the frames missed since <c>Last-Event-ID</c> (when it can be
    /// resumed), then every change in the caller's scope, with a keep-alive comment after each quiet period.
    /// </summary>
    public static async Task StreamAsync(HttpContext context, AlertStreamHub hub, IOptions<ApiOptions> options)
    {
        var cancellationToken = context.RequestAborted;
        var caller = Caller.From(context.User);
        var lastEventId = context.Request.Headers["Last-Event-ID"].ToString();
        var (client, missed) = hub.Connect(caller, lastEventId.Length is > 0 and <= 64 ? lastEventId : null);
        using var connected = client;
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var body = context.Response.Body;
        try
        {
            await body.WriteAsync(Opening, cancellationToken);
            if (missed is null)
                await body.WriteAsync(CannotResume, cancellationToken);
            else
                foreach (var frame in missed)
                    await body.WriteAsync(frame.Bytes, cancellationToken);
            await body.FlushAsync(cancellationToken);
            var keepAlive = options.Value.StreamKeepAlive;
            while (true)
            {
                using var quiet = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                quiet.CancelAfter(keepAlive);
                bool more;
                try
                {
                    more = await client.Frames.WaitToReadAsync(quiet.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    await body.WriteAsync(KeepAlive, cancellationToken);
                    await body.FlushAsync(cancellationToken);
                    continue;
                }
                if (!more)
                    return; // Too slow: the queue overflowed; the client may reconnect with Last-Event-ID.
                while (client.Frames.TryRead(out var frame))
                    await body.WriteAsync(frame.Bytes, cancellationToken);
                await body.FlushAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
    }
}
