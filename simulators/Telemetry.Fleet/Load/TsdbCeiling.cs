using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Telemetry.Fleet.Load;

/// <summary>What the TSDB accepted when written to directly.</summary>
public sealed record class TsdbCeilingReport(string Url, double Seconds, int Concurrency, int LinesPerRequest, int FieldsPerLine,
    long Requests, long FailedRequests, long Lines, double LinesPerSecond, double ValuesPerSecond, double ClientCpuPercent, string? FirstError);

/// <summary>
/// Measures the TSDB's own ingest ceiling: writes line protocol shaped like the silo's <c>hdv</c>
/// points (one line per vehicle and second, 20 fields) straight to <c>/api/v2/write</c> with several
/// requests in flight, for a fixed time, and reports lines and values per second.
/// </summary>
public static class TsdbCeiling
{
    private const string Fields = "speedKmh=72.5,barometricPressureKpa=100.5,engineTorquePercent=41,frictionTorquePercent=13,engineSpeedRpm=1312.5,fuelFlowLph=31.45,noxUpstreamPpm=612.35,noxDownstreamPpm=48.2,reagentLevelPercent=62.4,intakeAirFlowKgph=842.3,scrInletTempC=312.59375,scrOutletTempC=298.4375,dpfPressureDropKpa=7.9,coolantTempC=86,fuelLevelPercent=71.2,longitude=117.012345,latitude=36.654321,odometerKm=123456.7,positionValid=true,positionStatus=0i";

    /// <summary>Writes for <paramref name="duration"/> and reports.</summary>
    public static async Task<TsdbCeilingReport> RunAsync(Uri tsdbUrl, TimeSpan duration, int concurrency, int linesPerRequest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tsdbUrl);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = tsdbUrl, Timeout = TimeSpan.FromSeconds(60) };
        var prefixes = Enumerable.Range(0, linesPerRequest).Select(i => Encoding.ASCII.GetBytes($"hdv,vin={Telemetry.Simulation.Vins.Make(i, "LCEIL")} {Fields} ")).ToArray();
        var fieldsPerLine = Fields.Count(c => c == ',') + 1;
        var start = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 3600;
        long second = 0, requests = 0, failed = 0, lines = 0;
        string? firstError = null;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();

        async Task WriterAsync()
        {
            var buffer = new MemoryStream(linesPerRequest * 480);
            while (clock.Elapsed < duration && !cancellationToken.IsCancellationRequested)
            {
                // Each request is one second of every vehicle: distinct (series, timestamp) pairs.
                var ts = Encoding.ASCII.GetBytes((start + Interlocked.Increment(ref second)).ToString(CultureInfo.InvariantCulture) + "\n");
                buffer.SetLength(0);
                foreach (var prefix in prefixes)
                {
                    buffer.Write(prefix);
                    buffer.Write(ts);
                }
                using var content = new ByteArrayContent(buffer.GetBuffer(), 0, (int)buffer.Length);
                try
                {
                    using var response = await http.PostAsync(new Uri("api/v2/write?org=load&bucket=load&precision=s", UriKind.Relative), content, cancellationToken);
                    Interlocked.Increment(ref requests);
                    if (response.IsSuccessStatusCode)
                    {
                        Interlocked.Add(ref lines, linesPerRequest);
                    }
                    else
                    {
                        Interlocked.Increment(ref failed);
                        firstError ??= $"HTTP {(int)response.StatusCode}";
                    }
                }
                catch (HttpRequestException ex)
                {
                    Interlocked.Increment(ref failed);
                    firstError ??= ex.Message;
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WriterAsync, cancellationToken)));
        var seconds = clock.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds / seconds * 100;
        return new TsdbCeilingReport(tsdbUrl.ToString(), seconds, concurrency, linesPerRequest, fieldsPerLine, requests, failed, lines,
            lines / seconds, lines * (double)fieldsPerLine / seconds, cpu, firstError);
    }
}
