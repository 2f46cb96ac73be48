using System.Text.Json;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Tests;

/// <summary>What every <see cref="IAlertStore"/> must do.</summary>
public abstract class AlertStoreContract
{
    private static readonly DateTime T0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    protected abstract IAlertStore CreateStore();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task UpsertAsync_NewEpisode_CanBeReadBackById()
    {
        var store = CreateStore();
        var alert = TestData.Alert("LGDCHA1G8MA127733");

        await store.UpsertAsync(alert, Ct);

        var stored = await store.GetAsync(alert.Id, Ct);
        Assert.NotNull(stored);
        Assert.Equal(alert.Vin, stored.Vin);
        Assert.Equal(alert.Revision, stored.Revision);
        Assert.Null(await store.GetAsync("no-such-id", Ct));
    }

    [Fact]
    public async Task UpsertAsync_HigherRevision_ReplacesAndLowerRevisionDoesNot()
    {
        var store = CreateStore();
        var rev1 = TestData.Alert("LGDCHA1G8MA127733", revision: 1);
        var rev3 = rev1 with { Revision = 3, Status = AlertStatus.Closed, EndUtc = rev1.StartUtc.AddMinutes(10) };
        var rev2 = rev1 with { Revision = 2 };

        await store.UpsertAsync(rev1, Ct);
        await store.UpsertAsync(rev3, Ct);
        await store.UpsertAsync(rev2, Ct);

        var stored = await store.GetAsync(rev1.Id, Ct);
        Assert.Equal(3, stored!.Revision);
        Assert.Equal(AlertStatus.Closed, stored.Status);
        Assert.Single(await store.QueryAsync(new AlertQuery(), Ct));
    }

    [Fact]
    public async Task QueryAsync_Filters_ByVinRuleStatusFleetsAndStart()
    {
        var store = CreateStore();
        var a = TestData.Alert("VINAAAAAAAAAAAAAA", "R1", T0, fleet: "north");
        var b = TestData.Alert("VINAAAAAAAAAAAAAA", "R3", T0.AddMinutes(5), fleet: "north", status: AlertStatus.Closed);
        var c = TestData.Alert("VINBBBBBBBBBBBBBB", "R1", T0.AddMinutes(10), fleet: "south");
        var d = TestData.Alert("VINCCCCCCCCCCCCCC", "R1", T0.AddMinutes(15), fleet: null);
        foreach (var alert in new[] { a, b, c, d })
            await store.UpsertAsync(alert, Ct);

        Assert.Equal([b.Id, a.Id], Ids(await store.QueryAsync(new AlertQuery { Vin = a.Vin }, Ct)));
        Assert.Equal([d.Id, c.Id, a.Id], Ids(await store.QueryAsync(new AlertQuery { RuleId = "R1" }, Ct)));
        Assert.Equal([b.Id], Ids(await store.QueryAsync(new AlertQuery { Status = AlertStatus.Closed }, Ct)));
        Assert.Equal([c.Id, b.Id, a.Id], Ids(await store.QueryAsync(new AlertQuery { Fleets = new HashSet<string> { "north", "south" } }, Ct)));
        Assert.Equal([c.Id], Ids(await store.QueryAsync(new AlertQuery { Fleets = new HashSet<string> { "south" } }, Ct)));
        Assert.Empty(await store.QueryAsync(new AlertQuery { Fleets = new HashSet<string>() }, Ct));
        Assert.Equal([d.Id, c.Id], Ids(await store.QueryAsync(new AlertQuery { SinceUtc = T0.AddMinutes(10) }, Ct)));
        Assert.Equal([c.Id], Ids(await store.QueryAsync(new AlertQuery { RuleId = "R1", Fleets = new HashSet<string> { "south" }, Status = AlertStatus.Open }, Ct)));
    }

    [Fact]
    public async Task QueryAsync_NoFilter_NewestStartFirstUpToTheLimit()
    {
        var store = CreateStore();
        for (var i = 0; i < 10; i++)
            await store.UpsertAsync(TestData.Alert("VINAAAAAAAAAAAAAA", "R1", T0.AddMinutes(i)), Ct);

        var result = await store.QueryAsync(new AlertQuery { Limit = 3 }, Ct);

        Assert.Equal([T0.AddMinutes(9), T0.AddMinutes(8), T0.AddMinutes(7)], result.Select(r => r.StartUtc));
        Assert.Empty(await store.QueryAsync(new AlertQuery { Limit = 0 }, Ct));
    }

    private static string[] Ids(IReadOnlyList<Alert> alerts) => [.. alerts.Select(a => a.Id)];
}

public sealed class InMemoryAlertStoreTests : AlertStoreContract
{
    protected override IAlertStore CreateStore() => new InMemoryAlertStore();
}

public sealed class FileAlertStoreTests : AlertStoreContract, IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly List<FileAlertStore> _stores = [];

    private string FilePath => _dir.File("alerts.jsonl");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected override IAlertStore CreateStore() => Open();

    private FileAlertStore Open(ListLogger<FileAlertStore>? logger = null)
    {
        var store = new FileAlertStore(Options.Create(new AlertStoreOptions { FilePath = FilePath }), logger ?? new ListLogger<FileAlertStore>());
        _stores.Add(store);
        return store;
    }

    [Fact]
    public async Task Reopen_AfterUpserts_RestoresEveryEpisodeAtItsHighestRevision()
    {
        var first = Open();
        var a = TestData.Alert("VINAAAAAAAAAAAAAA", revision: 1);
        var b = TestData.Alert("VINBBBBBBBBBBBBBB", revision: 1);
        await first.UpsertAsync(a, Ct);
        await first.UpsertAsync(b, Ct);
        await first.UpsertAsync(a with { Revision = 5, Status = AlertStatus.Closed }, Ct);
        await first.UpsertAsync(a with { Revision = 4 }, Ct);
        first.Dispose();

        var reopened = Open();

        Assert.Equal(5, (await reopened.GetAsync(a.Id, Ct))!.Revision);
        Assert.Equal(AlertStatus.Closed, (await reopened.GetAsync(a.Id, Ct))!.Status);
        Assert.Equal(1, (await reopened.GetAsync(b.Id, Ct))!.Revision);
        Assert.Equal(2, (await reopened.QueryAsync(new AlertQuery(), Ct)).Count);
    }

    [Fact]
    public async Task Reopen_RecordsOutOfRevisionOrder_HighestRevisionWins()
    {
        var a = TestData.Alert("VINAAAAAAAAAAAAAA");
        await File.WriteAllLinesAsync(FilePath,
        [
            JsonSerializer.Serialize(a with { Revision = 7 }, TelemetryJson.Options),
            JsonSerializer.Serialize(a with { Revision = 2 }, TelemetryJson.Options),
        ], Ct);

        var store = Open();

        Assert.Equal(7, (await store.GetAsync(a.Id, Ct))!.Revision);
    }

    [Fact]
    public async Task Reopen_RecordCutShortByACrash_IsSkippedAndLaterRecordsStayReadable()
    {
        var a = TestData.Alert("VINAAAAAAAAAAAAAA");
        var b = TestData.Alert("VINBBBBBBBBBBBBBB");
        var json = JsonSerializer.Serialize(a, TelemetryJson.Options);
        await File.WriteAllTextAsync(FilePath, json + "\n" + json[..40], Ct);
        var logger = new ListLogger<FileAlertStore>();

        var store = Open(logger);
        await store.UpsertAsync(b, Ct);
        store.Dispose();
        var reopened = Open();

        Assert.Contains(logger.Entries, e => e.Event.Id == 4021 && e.Message.Contains("line 2", StringComparison.Ordinal));
        Assert.NotNull(await reopened.GetAsync(a.Id, Ct));
        Assert.NotNull(await reopened.GetAsync(b.Id, Ct));
    }

    [Fact]
    public async Task UpsertAsync_EvidenceWithMissingValues_StoresNullAndReadsBackNaN()
    {
        var store = Open();
        var alert = TestData.Alert("VINAAAAAAAAAAAAAA");

        await store.UpsertAsync(alert, Ct);

        var line = Assert.Single(TempDirectory.ReadLines(FilePath));
        Assert.DoesNotContain("NaN", line, StringComparison.Ordinal);
        using var document = JsonDocument.Parse(line);
        var empty = document.RootElement.GetProperty("evidence")[1];
        Assert.Equal(JsonValueKind.Null, empty.GetProperty("noxDownstreamPpm").ValueKind);
        Assert.Equal(1, empty.GetProperty("positionStatus").GetInt32());
        Assert.Equal(812.4, document.RootElement.GetProperty("measured").GetProperty("meanNoxPpm").GetDouble());
        Assert.Equal("warning", document.RootElement.GetProperty("severity").GetString());

        store.Dispose();
        var back = (await Open().GetAsync(alert.Id, Ct))!;
        Assert.True(double.IsNaN(back.Evidence[1].NoxDownstreamPpm));
        Assert.False(back.Evidence[1].PositionValid);
        Assert.Equal(alert.Evidence[0], back.Evidence[0]);
        Assert.Equal(alert.StartUtc, back.StartUtc);
        Assert.Equal(DateTimeKind.Utc, back.StartUtc.Kind);
        Assert.Equal(alert.Position, back.Position);
        Assert.Equal(alert.Summary, back.Summary);
    }

    [Fact]
    public async Task UpsertAsync_LowerRevision_AppendsNothing()
    {
        var store = Open();
        var alert = TestData.Alert("VINAAAAAAAAAAAAAA", revision: 3);
        await store.UpsertAsync(alert, Ct);

        await store.UpsertAsync(alert with { Revision = 1 }, Ct);

        Assert.Single(TempDirectory.ReadLines(FilePath));
    }

    public void Dispose()
    {
        foreach (var store in _stores)
            store.Dispose();
        _dir.Dispose();
    }
}
