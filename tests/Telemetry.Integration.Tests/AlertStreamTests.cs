using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Telemetry.Abstractions;
using Telemetry.Api;
using Telemetry.Grains;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Integration.Tests;

/// <summary>The live alert stream through the real program: event ids, scope, keep-alive, resume, and slow clients.</summary>
[Trait("Category", "Integration")]
public sealed class AlertStreamTests
{
    [Fact]
    public async Task Stream_DeliversChangesInScopeWithIds_KeepsAlive_AndResumesAfterLastEventId()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null, new Dictionary<string, string>
        {
            ["Telemetry:Api:StreamKeepAlive"] = "00:00:00.5",
        });
        var feed = silo.Services.GetRequiredService<IAlertFeed>();
        var (_, key) = await silo.Services.GetRequiredService<ApiKeyStore>().CreateAsync("north", ApiRoles.Fleet, ["north"], ct);
        var t0 = new DateTime(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);
        var north = Enumerable.Range(0, 3).Select(i => ApiAccessTests.NorthAlert(t0.AddMinutes(i))).ToList();
        var south = ApiAccessTests.NorthAlert(t0.AddMinutes(30)) with { Id = "LSOUTH00000000001-R1-20261130T083000Z", Vin = "LSOUTH00000000001", Fleet = "south" };

        string firstId;
        using (var fleet = silo.WithKey(key))
        await using (var stream = await SseReader.OpenAsync(fleet, null, ct))
        {
            Assert.Equal(": alert stream", await stream.NextCommentAsync(ct));
            feed.Publish(new AlertChange(AlertChangeKind.Opened, south));
            feed.Publish(new AlertChange(AlertChangeKind.Opened, north[0]));
            var first = await stream.NextEventAsync(ct);
            Assert.Equal("alert", first.Event);
            Assert.Equal(north[0].Id, first.Data.GetProperty("alert").GetProperty("id").GetString());
            Assert.Equal("opened", first.Data.GetProperty("kind").GetString());
            firstId = first.Id!;
            Assert.Equal(": keep-alive", await stream.NextCommentAsync(ct));
        }

        // Changes while the client was away arrive on reconnect, in order, the other fleet's left out.
        feed.Publish(new AlertChange(AlertChangeKind.Opened, north[1]));
        feed.Publish(new AlertChange(AlertChangeKind.Opened, south));
        feed.Publish(new AlertChange(AlertChangeKind.Opened, north[2]));
        using (var fleet = silo.WithKey(key))
        await using (var resumed = await SseReader.OpenAsync(fleet, firstId, ct))
        {
            Assert.Equal(": alert stream", await resumed.NextCommentAsync(ct));
            var a = await resumed.NextEventAsync(ct);
            var b = await resumed.NextEventAsync(ct);
            Assert.Equal([north[1].Id, north[2].Id], new[] { a, b }.Select(e => e.Data.GetProperty("alert").GetProperty("id").GetString()));
            Assert.True(!string.Equals(firstId, a.Id, StringComparison.Ordinal) && a.Id != b.Id);
        }

        using (var fleet = silo.WithKey(key))
        await using (var unknown = await SseReader.OpenAsync(fleet, "00000000-5", ct))
        {
            Assert.Equal(": alert stream", await unknown.NextCommentAsync(ct));
            Assert.StartsWith(": cannot resume", await unknown.NextCommentAsync(ct), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Hub_SerialisesEachChangeOnce_AndEndsAClientThatDoesNotRead()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var broker = await MosquittoServer.StartAsync(ct);
        await using var silo = await SiloUnderTest.StartAsync(broker, influxUrl: null);
        var hub = silo.Services.GetRequiredService<AlertStreamHub>();
        var feed = silo.Services.GetRequiredService<IAlertFeed>();
        var admin = new Caller("admin", ApiRoles.Admin, null, null);
        var (reader, _) = hub.Connect(admin, null);
        var (idle, _) = hub.Connect(admin, null);
        using (reader)
        using (idle)
        {
            var t0 = new DateTime(2026, 11, 30, 8, 0, 0, DateTimeKind.Utc);
            var frames = new List<StreamFrame>();
            var received = 0;
            var reading = Task.Run(async () =>
            {
                while (frames.Count < AlertStreamHub.ClientCapacity + 10 && await reader.Frames.WaitToReadAsync(ct))
                {
                    while (reader.Frames.TryRead(out var frame))
                    {
                        frames.Add(frame);
                        Interlocked.Increment(ref received);
                    }
                }
            }, ct);
            for (var i = 0; i < AlertStreamHub.ClientCapacity + 10; i++)
            {
                feed.Publish(new AlertChange(AlertChangeKind.Updated, ApiAccessTests.NorthAlert(t0.AddSeconds(i))));
                if (i % 64 == 63)
                    await Eventually.WaitAsync(() => Volatile.Read(ref received) > i - 32, TimeSpan.FromSeconds(10), "the reading client keeps up", ct);
            }
            await reading.WaitAsync(TimeSpan.FromSeconds(20), ct);

            Assert.Equal(AlertStreamHub.ClientCapacity + 10, frames.Count);
            Assert.True(idle.Overflowed);
            Assert.Equal(1, hub.DroppedClients);
            // The idle client gets what it had queued, then its stream ends; the reader and it were given the same bytes.
            var queued = new List<StreamFrame>();
            await foreach (var frame in idle.Frames.ReadAllAsync(ct))
                queued.Add(frame);
            Assert.Equal(AlertStreamHub.ClientCapacity, queued.Count);
            Assert.Same(frames[0].Bytes, queued[0].Bytes);
        }
    }

    internal sealed record class SseEvent(string? Id, string? Event, JsonElement Data);

    internal sealed class SseReader : IAsyncDisposable
    {
        private readonly HttpResponseMessage _response;
        private readonly StreamReader _reader;

        private SseReader(HttpResponseMessage response, StreamReader reader)
        {
            _response = response;
            _reader = reader;
        }

        public static async Task<SseReader> OpenAsync(HttpClient client, string? lastEventId, CancellationToken ct)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/alerts/stream");
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            if (lastEventId is not null)
                request.Headers.Add("Last-Event-ID", lastEventId);
            var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            response.EnsureSuccessStatusCode();
            return new SseReader(response, new StreamReader(await response.Content.ReadAsStreamAsync(ct)));
        }

        public async Task<string> NextCommentAsync(CancellationToken ct)
        {
            var block = await NextBlockAsync(ct);
            Assert.True(block.Count == 1 && block[0].StartsWith(':'), $"expected a comment, got: {string.Join(" | ", block)}");
            return block[0];
        }

        public async Task<SseEvent> NextEventAsync(CancellationToken ct)
        {
            while (true)
            {
                var block = await NextBlockAsync(ct);
                if (block.All(l => l.StartsWith(':')))
                    continue; // keep-alive
                string? Field(string name) => block.FirstOrDefault(l => l.StartsWith(name + ": ", StringComparison.Ordinal))?[(name.Length + 2)..];
                return new SseEvent(Field("id"), Field("event"), JsonDocument.Parse(Field("data")!).RootElement.Clone());
            }
        }

        private async Task<List<string>> NextBlockAsync(CancellationToken ct)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var lines = new List<string>();
            while (await _reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (lines.Count > 0)
                        return lines;
                    continue;
                }
                lines.Add(line);
            }
            throw new EndOfStreamException("The stream ended.");
        }

        public ValueTask DisposeAsync()
        {
            _reader.Dispose();
            _response.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
