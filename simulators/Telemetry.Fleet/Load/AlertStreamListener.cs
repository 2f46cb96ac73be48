using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Telemetry.Fleet.Load;

/// <summary>One <c>alert</c> event of the silo's live stream, with when it arrived here.</summary>
/// <param name="Kind">opened, updated or closed.</param>
/// <param name="Vin">The vehicle.</param>
/// <param name="RuleId">The rule, such as R1.</param>
/// <param name="StartUtc">Sample time at which the episode's condition started to hold.</param>
/// <param name="LastHeldUtc">Sample time at which the condition last held (at opening: the sample that opened it).</param>
/// <param name="ArrivedTicks">Stopwatch ticks of the run's clock when the event was read.</param>
public sealed record class StreamedAlert(string Kind, string Vin, string RuleId, DateTime StartUtc, DateTime LastHeldUtc, long ArrivedTicks);

/// <summary>Reads <c>GET /api/alerts/stream</c> (server-sent events, one <c>alert</c> event per episode change) for the whole run.</summary>
public sealed class AlertStreamListener : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly Stopwatch _clock;
    private readonly List<StreamedAlert> _alerts = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;

    /// <summary>Listens to the API at <paramref name="apiUrl"/> with <paramref name="apiKey"/>, timing arrivals on <paramref name="clock"/>.</summary>
    public AlertStreamListener(Uri apiUrl, Stopwatch clock, string? apiKey = null)
    {
        _http = new HttpClient { BaseAddress = apiUrl, Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(apiKey))
            _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        _clock = clock;
    }

    /// <summary>Why the stream ended early, if it did.</summary>
    public Exception? Error { get; private set; }

    /// <summary>Malformed events (should stay 0).</summary>
    public int Malformed { get; private set; }

    /// <summary>The events so far.</summary>
    public IReadOnlyList<StreamedAlert> Alerts
    {
        get
        {
            lock (_alerts)
                return [.. _alerts];
        }
    }

    /// <summary>Opens the stream and returns once the server has answered with its opening comment.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var response = await _http.GetAsync(new Uri("api/alerts/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        var reader = new StreamReader(stream);
        var first = await reader.ReadLineAsync(cancellationToken);
        if (first is null || !first.StartsWith(':'))
            throw new InvalidDataException($"The alert stream began with '{first}', not a comment.");
        _reader = Task.Run(() => ReadAsync(response, reader), CancellationToken.None);
    }

    private async Task ReadAsync(HttpResponseMessage response, StreamReader reader)
    {
        try
        {
            string? eventName = null;
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.StartsWith("event:", StringComparison.Ordinal))
                    eventName = line[6..].Trim();
                else if (line.StartsWith("data:", StringComparison.Ordinal) && eventName == "alert")
                    Add(line[5..].Trim(), _clock.ElapsedTicks);
                else if (line.Length == 0)
                    eventName = null;
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            if (!_stop.IsCancellationRequested)
                Error = ex;
        }
        finally
        {
            reader.Dispose();
            response.Dispose();
        }
    }

    private void Add(string data, long arrived)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            var root = document.RootElement;
            var alert = root.GetProperty("alert");
            var item = new StreamedAlert(
                root.GetProperty("kind").GetString() ?? "",
                alert.GetProperty("vin").GetString() ?? "",
                alert.GetProperty("ruleId").GetString() ?? "",
                ParseTime(alert.GetProperty("startUtc")),
                ParseTime(alert.GetProperty("lastHeldUtc")),
                arrived);
            lock (_alerts)
                _alerts.Add(item);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            Malformed++;
        }
    }

    private static DateTime ParseTime(JsonElement value) =>
        DateTime.Parse(value.GetString() ?? "", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _reader;
        }
        catch (OperationCanceledException)
        {
        }
        _http.Dispose();
        _stop.Dispose();
    }
}
