using System.Globalization;
using System.Text.Json;

namespace Telemetry.Fleet.Load;

/// <summary>What the TSDB holds of a run's samples, compared with what was sent.</summary>
/// <param name="Series">The series read (<see cref="TsdbVerifier.Metric"/>, one per VIN).</param>
/// <param name="Vehicles">Vehicles with at least one stored sample.</param>
/// <param name="ExpectedSamples">Samples sent: one per (VIN, second).</param>
/// <param name="StoredSamples">Samples read back, copies included.</param>
/// <param name="DistinctSamples">Distinct (VIN, second) read back within what was sent.</param>
/// <param name="Missing">(VIN, second) sent but not stored.</param>
/// <param name="Duplicated">Extra copies of a (VIN, second).</param>
/// <param name="Unexpected">(VIN, second) stored that this run never sent.</param>
/// <param name="Examples">A few vehicles with a difference, to start looking.</param>
public sealed record class TsdbVerification(int Series, int Vehicles, long ExpectedSamples, long StoredSamples, long DistinctSamples,
    long Missing, long Duplicated, long Unexpected, IReadOnlyList<string> Examples)
{
    /// <summary>Every (VIN, second) stored exactly once and nothing else.</summary>
    public bool Exact => Missing == 0 && Duplicated == 0 && Unexpected == 0;
}

/// <summary>
/// Reads a run's samples back from VictoriaMetrics (<c>GET /api/v1/export</c>, JSON lines) and checks
/// that every (VIN, second) sent is stored exactly once. Every sample the truck model makes carries
/// the odometer, so the series <c>hdv_odometerKm{vin}</c> holds one point per stored sample.
/// </summary>
public sealed class TsdbVerifier(Uri tsdbUrl) : IDisposable
{
    /// <summary>The series counted: present in every simulated sample.</summary>
    public const string Metric = "hdv_odometerKm";

    private readonly HttpClient _http = new() { BaseAddress = tsdbUrl, Timeout = TimeSpan.FromMinutes(5) };

    /// <summary>
    /// Compares the TSDB with <paramref name="expected"/>: per VIN, the sample seconds sent (a range, less
    /// an ignition-off gap). Only VINs starting with <paramref name="vinPrefix"/> are read.
    /// </summary>
    public async Task<TsdbVerification> VerifyAsync(string vinPrefix, IReadOnlyDictionary<string, SentSeconds> expected, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        using (var flush = await _http.GetAsync(new Uri("internal/force_flush", UriKind.Relative), cancellationToken))
        {
            // Older servers lack it; the export still sees the data after a few seconds.
        }
        var from = expected.Count == 0 ? 0 : expected.Values.Min(r => r.From) - 1;
        var end = DateTimeOffset.UtcNow.AddDays(1).ToUnixTimeSeconds();
        var match = $"{{__name__=\"{Metric}\",vin=~\"{vinPrefix}.*\"}}";
        var query = string.Create(CultureInfo.InvariantCulture, $"api/v1/export?match[]={Uri.EscapeDataString(match)}&start={from}&end={end}");
        using var response = await _http.GetAsync(new Uri(query, UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"The TSDB's export of {match} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));

        // One series per VIN, its timestamps in order: each line is checked as it is read, so a large
        // fleet is verified without holding its samples. A second series of a VIN counts as copies.
        var counts = new Dictionary<string, (long InRange, long Copies, long Outside)>(StringComparer.Ordinal);
        var series = 0;
        var seconds = new List<long>();
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line.Length == 0)
                continue;
            series++;
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var vin = root.GetProperty("metric").TryGetProperty("vin", out var v) ? v.GetString() ?? "" : "";
            seconds.Clear();
            foreach (var t in root.GetProperty("timestamps").EnumerateArray())
                seconds.Add(t.GetInt64() / 1000);
            seconds.Sort();
            var seen = counts.TryGetValue(vin, out var c);
            var range = expected.TryGetValue(vin, out var r) ? r : default;
            for (var i = 0; i < seconds.Count; i++)
            {
                if (seen || (i > 0 && seconds[i] == seconds[i - 1]))
                    c.Copies++;
                else if (range.Contains(seconds[i]))
                    c.InRange++;
                else
                    c.Outside++;
            }
            counts[vin] = c;
        }

        long total = 0, distinct = 0, missing = 0, duplicated = 0, unexpected = 0, expectedTotal = 0;
        var examples = new List<string>();
        foreach (var (vin, range) in expected)
        {
            var want = range.Count;
            expectedTotal += want;
            var (inRange, copies, outside) = counts.GetValueOrDefault(vin);
            total += inRange + copies + outside;
            distinct += inRange;
            missing += want - inRange;
            duplicated += copies;
            unexpected += outside;
            if ((want != inRange || copies > 0 || outside > 0) && examples.Count < 10)
                examples.Add(string.Create(CultureInfo.InvariantCulture, $"{vin}: sent {want}, stored {inRange} of them, {copies} copies, {outside} never sent"));
        }
        foreach (var (vin, c) in counts)
        {
            if (!expected.ContainsKey(vin))
            {
                var n = c.InRange + c.Copies + c.Outside;
                total += n;
                unexpected += n;
                if (examples.Count < 10)
                    examples.Add(string.Create(CultureInfo.InvariantCulture, $"{vin}: {n} samples stored for a VIN this run never used"));
            }
        }
        var vehicles = counts.Count(kv => kv.Value.InRange + kv.Value.Copies + kv.Value.Outside > 0);
        return new TsdbVerification(series, vehicles, expectedTotal, total, distinct, missing, duplicated, unexpected, examples);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>
/// The sample seconds one vehicle sent: [<paramref name="From"/>, <paramref name="To"/>) less the
/// ignition-off gap [<paramref name="GapFrom"/>, <paramref name="GapTo"/>) (empty when equal), Unix seconds.
/// </summary>
public readonly record struct SentSeconds(long From, long To, long GapFrom = 0, long GapTo = 0)
{
    /// <summary>True when <paramref name="second"/> was sent.</summary>
    public bool Contains(long second) => second >= From && second < To && !(second >= GapFrom && second < GapTo);

    /// <summary>How many seconds were sent.</summary>
    public long Count => Math.Max(0, To - From) - Math.Max(0, Math.Min(To, GapTo) - Math.Max(From, GapFrom));
}
