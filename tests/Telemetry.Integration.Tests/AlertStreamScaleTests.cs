using System.Net.Http.Headers;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Api;
using Telemetry.Grains;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>
/// Many idle live-stream clients on one silo. In the collection that runs alone, because it reads the process's
/// managed heap (client and server ends of every stream are in this process).
/// </summary>
[Trait("Category", "Integration")]
[Collection(MetricsCollection.Name)]
public sealed class AlertStreamScaleTests
{
    [Fact]
    public async Task ThousandIdleClients_AreAllKeptAlive_OneChangeReachesEveryOne_AndEachCostsLittleMemory()
    {
        const int Clients = 1000;
        var ct = TestContext.Current.CancellationToken;
        // Client and server sockets both live in this process: two descriptors per stream.
        var limit = OpenFileLimit();
        Assert.True(limit >= 2 * Clients + 1000,
            $"This test opens {Clients} streams to an in-process silo and needs {2 * Clients + 1000} file descriptors; the limit is {limit}: raise it (ulimit -n 4096).");
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Api:StreamKeepAlive"] = "00:00:01",
        });
        var hub = silo.Services.GetRequiredService<AlertStreamHub>();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = Clients + 10, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler) { BaseAddress = silo.ApiUrl, Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await File.ReadAllTextAsync(silo.AdminKeyFile, ct));
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        var streams = new List<AlertStreamTests.SseReader>();
        try
        {
            for (var batch = 0; batch < Clients; batch += 100)
            {
                streams.AddRange(await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
                {
                    var stream = await AlertStreamTests.SseReader.OpenAsync(http, null, ct);
                    Assert.Equal(": alert stream", await stream.NextCommentAsync(ct));
                    return stream;
                })));
            }
            Assert.Equal(Clients, hub.ConnectedClients);

            // Idle: every stream gets its keep-alive.
            var kept = await Task.WhenAll(streams.Select(s => s.NextCommentAsync(ct)));
            Assert.All(kept, comment => Assert.Equal(": keep-alive", comment));
            var perClient = (GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / Clients;
            TestContext.Current.TestOutputHelper?.WriteLine($"{Clients} idle streams: {perClient} bytes of managed heap each (client and server ends)");

            // One change reaches all of them.
            var alert = ApiAccessTests.NorthAlert(new DateTime(2026, 11, 30, 9, 0, 0, DateTimeKind.Utc));
            silo.Services.GetRequiredService<IAlertFeed>().Publish(new AlertChange(AlertChangeKind.Opened, alert));
            var events = await Task.WhenAll(streams.Select(s => s.NextEventAsync(ct)));

            Assert.All(events, e => Assert.Equal(alert.Id, e.Data.GetProperty("alert").GetProperty("id").GetString()));
            Assert.Single(events.Select(e => e.Id).Distinct());
            Assert.Equal(0, hub.DroppedClients);
            // Both ends of each stream are in this process's heap: well under 64 KB for the pair.
            Assert.True(perClient < 64 * 1024, $"{perClient} bytes of managed heap per idle stream (client and server side together)");
        }
        finally
        {
            foreach (var stream in streams)
                await stream.DisposeAsync();
        }
        await Eventually.WaitAsync(() => hub.ConnectedClients == 0, TimeSpan.FromSeconds(30), "every closed stream leaves the hub", ct);
    }

    /// <summary>The soft limit of open files of this process (Linux), or int.MaxValue where it cannot be read.</summary>
    private static long OpenFileLimit()
    {
        const string Path = "/proc/self/limits";
        if (!File.Exists(Path))
            return int.MaxValue;
        var line = File.ReadAllLines(Path).FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var soft = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(3);
        return long.TryParse(soft, out var value) ? value : int.MaxValue;
    }
}
