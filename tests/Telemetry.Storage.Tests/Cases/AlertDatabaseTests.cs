using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Time.Testing;
using Telemetry.Abstractions;
using Telemetry.Storage.Cases;
using Telemetry.Testing;

namespace Telemetry.Storage.Tests.Cases;

/// <summary>
/// What the alert database must do on every provider: the <see cref="IAlertStore"/> contract, the case workflow
/// with its append-only audit trail, cursor paging with totals, filters and scope, the import of the JSON Lines
/// file, migrations that run twice, and API keys.
/// </summary>
public abstract partial class AlertDatabaseContract : AlertStoreContract
{
    private static readonly DateTime T0 = new(2026, 3, 1, 8, 0, 0, DateTimeKind.Utc);

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A fresh, empty database.</summary>
    protected abstract CaseDatabase CreateDatabase();

    /// <summary>The same database as the last <see cref="CreateDatabase"/>, opened again (another process or silo).</summary>
    protected abstract CaseDatabase ReopenDatabase();

    protected override IAlertStore CreateStore() => new SqlAlertStore(CreateDatabase(), Time);

    [Fact]
    public async Task VehicleArrivals_SharedBySeveralSilos_KeepEachVehiclesLatestArrival()
    {
        var a = new SqlVehicleArrivals(CreateDatabase());
        var b = new SqlVehicleArrivals(ReopenDatabase());
        Assert.Empty(await a.ReadAsync(Ct));

        // More rows than one statement takes, so the batching is exercised.
        var many = Enumerable.Range(0, SqlVehicleArrivals.RowsPerStatement + 17)
            .Select(i => ($"LARR{i:D13}", T0.AddSeconds(i))).ToList();
        await a.ShareAsync(many, Ct);
        // Another silo shares one vehicle later and one earlier than this silo did: the later arrival wins both times.
        await b.ShareAsync([("LARR0000000000001", T0.AddHours(1)), ("LARR0000000000002", T0.AddHours(-1))], Ct);
        await a.ShareAsync([("LARR0000000000001", T0.AddMinutes(5))], Ct);

        var read = await b.ReadAsync(Ct);
        Assert.Equal(many.Count, read.Count);
        Assert.Equal(T0.AddHours(1), read["LARR0000000000001"]);
        Assert.Equal(T0.AddSeconds(2), read["LARR0000000000002"]);
        Assert.Equal(T0.AddSeconds(many.Count - 1), read[$"LARR{many.Count - 1:D13}"]);
        Assert.Equal(DateTimeKind.Utc, read["LARR0000000000000"].Kind);
        Assert.Equal(T0.AddHours(1), await a.FindAsync("LARR0000000000001", Ct));
        Assert.Null(await a.FindAsync("LNEVERHEARD000001", Ct));
    }

    [Fact]
    public async Task Workflow_AcknowledgeAssignCommentCloseReopen_ChangesTheCaseAndRecordsWhoAndWhen()
    {
        var store = new SqlAlertStore(CreateDatabase(), Time);
        var alert = TestData.Alert("VINAAAAAAAAAAAAAA");
        await store.UpsertAsync(alert, Ct);
        Assert.Equal(CaseState.New, (await store.GetRecordAsync(alert.Id, null, Ct))!.Case.State);

        var steps = new (CaseCommand Command, CaseState Expected)[]
        {
            (new CaseCommand(CaseAction.Acknowledge, "officer.li"), CaseState.Acknowledged),
            (new CaseCommand(CaseAction.Assign, "officer.li", Assignee: "inspector.wang"), CaseState.Assigned),
            (new CaseCommand(CaseAction.Comment, "inspector.wang", Comment: "Called the fleet; truck due at the depot."), CaseState.Assigned),
            (new CaseCommand(CaseAction.Close, "inspector.wang", Comment: "SCR catalyst removed.", Reason: CloseReason.ConfirmedViolation), CaseState.Closed),
            (new CaseCommand(CaseAction.Reopen, "officer.li", Comment: "Second look"), CaseState.Assigned),
        };
        foreach (var (command, expected) in steps)
        {
            Time.Advance(TimeSpan.FromMinutes(1));
            var result = await store.ApplyAsync(alert.Id, command, null, Ct);
            Assert.Equal(CaseOutcome.Done, result.Outcome);
            Assert.Equal(expected, result.Record!.Case.State);
        }

        var record = await store.GetRecordAsync(alert.Id, null, Ct);
        Assert.Equal(CaseState.Assigned, record!.Case.State);
        Assert.Equal("inspector.wang", record.Case.Assignee);
        Assert.Null(record.Case.CloseReason);
        Assert.Equal(Time.GetUtcNow().UtcDateTime, record.Case.UpdatedUtc);
        Assert.Equal(2, record.Alert.Evidence.Length);

        var audit = await store.GetAuditAsync(alert.Id, Ct);
        Assert.Equal(steps.Select(s => s.Command.Action), audit.Select(a => a.Action));
        Assert.Equal(steps.Select(s => s.Command.Actor), audit.Select(a => a.Actor));
        Assert.Equal(Enumerable.Range(1, 5).Select(i => Time.GetUtcNow().UtcDateTime.AddMinutes(i - 5)), audit.Select(a => a.AtUtc));
        Assert.Equal("assignee=inspector.wang", audit[1].Detail);
        Assert.Equal("reason=ConfirmedViolation; SCR catalyst removed.", audit[3].Detail);
        Assert.True(audit.Zip(audit.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
    }

    [Fact]
    public async Task Workflow_StepsThatDoNotApply_AreConflictsAndLeaveNoTrace()
    {
        var store = new SqlAlertStore(CreateDatabase(), Time);
        var alert = TestData.Alert("VINAAAAAAAAAAAAAA");
        await store.UpsertAsync(alert, Ct);

        Assert.Equal(CaseOutcome.NotFound, (await store.ApplyAsync("VINAAAAAAAAAAAAAA-R1-20000101T000000Z", new(CaseAction.Acknowledge, "a"), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Conflict, (await store.ApplyAsync(alert.Id, new(CaseAction.Reopen, "a"), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Conflict, (await store.ApplyAsync(alert.Id, new(CaseAction.Close, "a"), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Conflict, (await store.ApplyAsync(alert.Id, new(CaseAction.Close, "a", Reason: CloseReason.Other), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Conflict, (await store.ApplyAsync(alert.Id, new(CaseAction.Assign, "a"), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Conflict, (await store.ApplyAsync(alert.Id, new(CaseAction.Comment, "a", Comment: " "), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Done, (await store.ApplyAsync(alert.Id, new(CaseAction.Close, "a", Reason: CloseReason.FalseAlarm), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Conflict, (await store.ApplyAsync(alert.Id, new(CaseAction.Acknowledge, "a"), null, Ct)).Outcome);
        Assert.Equal(CaseOutcome.Conflict, (await store.ApplyAsync(alert.Id, new(CaseAction.Close, "a", Reason: CloseReason.Duplicate), null, Ct)).Outcome);

        var audit = Assert.Single(await store.GetAuditAsync(alert.Id, Ct));
        Assert.Equal(CaseAction.Close, audit.Action);
        // Outside the caller's scope an episode does not exist.
        var scope = new AlertFilter { ScopeFleets = new HashSet<string> { "other-fleet" } };
        Assert.Equal(CaseOutcome.NotFound, (await store.ApplyAsync(alert.Id, new(CaseAction.Reopen, "a"), scope, Ct)).Outcome);
        Assert.Null(await store.GetRecordAsync(alert.Id, scope, Ct));
    }

    [Fact]
    public async Task AuditTrail_CannotBeChangedOrDeleted_EvenWithSql()
    {
        var database = CreateDatabase();
        var store = new SqlAlertStore(database, Time);
        var alert = TestData.Alert("VINAAAAAAAAAAAAAA");
        await store.UpsertAsync(alert, Ct);
        await store.ApplyAsync(alert.Id, new(CaseAction.Acknowledge, "officer.li"), null, Ct);

        await using var connection = await database.OpenAsync(Ct);
        var update = await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => connection.ExecuteAsync("UPDATE alert_audit SET actor = 'someone.else'"));
        Assert.Contains("append-only", update.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => connection.ExecuteAsync("DELETE FROM alert_audit"));
        Assert.Equal("officer.li", Assert.Single(await store.GetAuditAsync(alert.Id, Ct)).Actor);
    }

    [Fact]
    public async Task DetectorUpdates_KeepTheCase_AndTheCaseKeepsTheDetectorStatus()
    {
        var store = new SqlAlertStore(CreateDatabase(), Time);
        var opened = TestData.Alert("VINAAAAAAAAAAAAAA", revision: 1);
        await store.UpsertAsync(opened, Ct);
        await store.ApplyAsync(opened.Id, new(CaseAction.Assign, "officer.li", Assignee: "inspector.wang"), null, Ct);
        await store.UpsertAsync(opened with { Revision = 2, Status = AlertStatus.Closed, EndUtc = opened.StartUtc.AddMinutes(20) }, Ct);

        var record = await store.GetRecordAsync(opened.Id, null, Ct);
        Assert.Equal(AlertStatus.Closed, record!.Alert.Status);
        Assert.Equal(CaseState.Assigned, record.Case.State);
        Assert.Equal("inspector.wang", record.Case.Assignee);
    }

    [Fact]
    public async Task QueryPage_CursorWalksEveryMatchOnce_NewestFirst_WithTotalAndNoEvidence()
    {
        var store = new SqlAlertStore(CreateDatabase(), Time);
        // Pairs share a start time, so the cursor must order ties by id.
        var alerts = Enumerable.Range(0, 25)
            .Select(i => TestData.Alert($"VIN{(char)('A' + i % 20)}AAAAAAAAAAAAA", i % 2 == 0 ? "R1" : "R9.offline", T0.AddMinutes(i / 2)))
            .ToList();
        await store.UpsertManyAsync(alerts, Ct);

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await store.QueryPageAsync(new AlertFilter(), cursor, 10, cancellationToken: Ct);
            Assert.Equal(25, page.Total);
            Assert.All(page.Items, r => Assert.Empty(r.Alert.Evidence));
            seen.AddRange(page.Items.Select(r => r.Alert.Id));
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        var expected = alerts.OrderByDescending(a => a.StartUtc).ThenBy(a => a.Id, StringComparer.Ordinal).Select(a => a.Id);
        Assert.Equal(expected, seen);
        var family = await store.QueryPageAsync(new AlertFilter { RuleId = "r9" }, null, 100, cancellationToken: Ct);
        Assert.Equal(12, family.Total);
        Assert.Null(family.NextCursor);
        await Assert.ThrowsAsync<FormatException>(() => store.QueryPageAsync(new AlertFilter(), "not-a-cursor", 10, cancellationToken: Ct));
    }

    [Fact]
    public async Task QueryPage_Filters_CaseStateSeverityRegionZoneTimeRangeAndScope()
    {
        var store = new SqlAlertStore(CreateDatabase(), Time);
        var a = TestData.Alert("VINAAAAAAAAAAAAAA", "R1", T0, fleet: "north") with { Region = "370100", Zone = "jinan-lez" };
        var b = TestData.Alert("VINBBBBBBBBBBBBBB", "R3", T0.AddMinutes(5), fleet: "north", severity: AlertSeverity.Critical) with { Region = "370100" };
        var c = TestData.Alert("VINCCCCCCCCCCCCCC", "R1", T0.AddMinutes(10), fleet: "south") with { Region = "370200" };
        await store.UpsertManyAsync([a, b, c], Ct);
        await store.ApplyAsync(b.Id, new(CaseAction.Acknowledge, "officer.li"), null, Ct);

        async Task<string[]> Ids(AlertFilter filter) =>
            [.. (await store.QueryPageAsync(filter, null, 100, cancellationToken: Ct)).Items.Select(r => r.Alert.Id)];

        Assert.Equal([b.Id], await Ids(new AlertFilter { CaseState = CaseState.Acknowledged }));
        Assert.Equal([c.Id, a.Id], await Ids(new AlertFilter { CaseState = CaseState.New }));
        Assert.Equal([b.Id], await Ids(new AlertFilter { Severity = AlertSeverity.Critical }));
        Assert.Equal([b.Id, a.Id], await Ids(new AlertFilter { Region = "370100" }));
        Assert.Equal([a.Id], await Ids(new AlertFilter { Zone = "jinan-lez" }));
        Assert.Equal([c.Id], await Ids(new AlertFilter { Fleet = "south" }));
        Assert.Equal([b.Id], await Ids(new AlertFilter { FromUtc = T0.AddMinutes(1), UntilUtc = T0.AddMinutes(10) }));
        Assert.Equal([b.Id, a.Id], await Ids(new AlertFilter { ScopeFleets = new HashSet<string> { "north" } }));
        Assert.Equal([c.Id], await Ids(new AlertFilter { ScopeRegions = new HashSet<string> { "370200" } }));
        Assert.Empty(await Ids(new AlertFilter { ScopeFleets = new HashSet<string>() }));
        Assert.Empty(await Ids(new AlertFilter { Fleet = "south", ScopeFleets = new HashSet<string> { "north" } }));
    }

    [Fact]
    public async Task ImportJsonLines_ReadsTheOldFileOnce_KeepingTheHighestRevision()
    {
        var store = new SqlAlertStore(CreateDatabase(), Time);
        var file = Path.Combine(Path.GetTempPath(), $"alerts-{Guid.NewGuid():N}.jsonl");
        try
        {
            var rev1 = TestData.Alert("VINAAAAAAAAAAAAAA", revision: 1);
            var rev2 = rev1 with { Revision = 2, Status = AlertStatus.Closed, EndUtc = rev1.StartUtc.AddMinutes(9) };
            var other = TestData.Alert("VINBBBBBBBBBBBBBB");
            await File.WriteAllLinesAsync(file,
            [
                JsonSerializer.Serialize(rev1, TelemetryJson.Options),
                JsonSerializer.Serialize(rev2, TelemetryJson.Options),
                JsonSerializer.Serialize(other, TelemetryJson.Options),
                "{\"id\": \"cut short",
            ], Ct);

            Assert.Equal((3, 1), await store.ImportJsonLinesAsync(file, Ct));
            Assert.Equal((-1, 0), await store.ImportJsonLinesAsync(file, Ct));

            var stored = await store.GetAsync(rev1.Id, Ct);
            Assert.Equal(2, stored!.Revision);
            Assert.Equal(AlertStatus.Closed, stored.Status);
            Assert.Equal(rev1.Evidence.Length, stored.Evidence.Length);
            Assert.Equal(rev1.Evidence[0].NoxDownstreamPpm, stored.Evidence[0].NoxDownstreamPpm);
            Assert.Equal(2, (await store.QueryPageAsync(new AlertFilter(), null, 10, cancellationToken: Ct)).Total);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Migrations_RunAgainOnAnExistingDatabase_KeepTheData()
    {
        var store = new SqlAlertStore(CreateDatabase(), Time);
        var alert = TestData.Alert("VINAAAAAAAAAAAAAA");
        await store.UpsertAsync(alert, Ct);

        var again = ReopenDatabase();
        await again.MigrateAsync(Ct);
        Assert.NotNull(await new SqlAlertStore(again, Time).GetAsync(alert.Id, Ct));
        await using var connection = await again.OpenAsync(Ct);
        Assert.Equal(again.Migrations.Count, await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task ApiKeys_AreStoredHashed_VerifiedAndRevoked()
    {
        var database = CreateDatabase();
        var keys = new ApiKeyStore(database, Time);
        Assert.False(await keys.AnyActiveAsync(Ct));

        var (info, secret) = await keys.CreateAsync("north depot", ApiRoles.Fleet, ["north"], Ct);
        var (admin, _) = await keys.CreateAsync("admin", ApiRoles.Admin, [], Ct);
        Assert.True(await keys.AnyActiveAsync(Ct));

        var verified = await keys.VerifyAsync(secret, Ct);
        Assert.Equal(info.Id, verified!.Id);
        Assert.Equal(["north"], verified.Scope);
        Assert.Equal(ApiRoles.Fleet, verified.Role);
        Assert.Null(await keys.VerifyAsync(secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A'), Ct));
        Assert.Null(await keys.VerifyAsync("tlm_" + info.Id, Ct));
        Assert.Null(await keys.VerifyAsync("Bearer nonsense", Ct));

        await using (var connection = await database.OpenAsync(Ct))
        {
            var stored = await connection.QueryAsync<string>("SELECT secret_hash FROM api_keys");
            var secretPart = secret[(secret.LastIndexOf('_') + 1)..];
            Assert.All(stored, hash => Assert.DoesNotContain(secretPart, hash, StringComparison.Ordinal));
        }

        Assert.True(await keys.RevokeAsync(info.Id, Ct));
        Assert.False(await keys.RevokeAsync(info.Id, Ct));
        Assert.Null(await keys.VerifyAsync(secret, Ct));
        var listed = await keys.ListAsync(Ct);
        Assert.Equal(2, listed.Count);
        Assert.NotNull(listed.Single(k => k.Id == info.Id).RevokedUtc);
        Assert.Null(listed.Single(k => k.Id == admin.Id).RevokedUtc);
        await Assert.ThrowsAsync<ArgumentException>(() => keys.CreateAsync("nobody", ApiRoles.Fleet, [], Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => keys.CreateAsync("nobody", "root", [], Ct));
    }
}

/// <summary>The alert database on SQLite: one file per test.</summary>
public sealed class SqliteAlertDatabaseTests : AlertDatabaseContract, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("telemetry-cases-").FullName;
    private string _path = "";

    protected override CaseDatabase CreateDatabase()
    {
        _path = Path.Combine(_directory, $"{Guid.NewGuid():N}.db");
        return CaseDatabase.Sqlite(_path);
    }

    protected override CaseDatabase ReopenDatabase() => CaseDatabase.Sqlite(_path);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Telemetry.Testing.TempDirectory.Delete(_directory);
    }
}

/// <summary>The alert database on a real PostgreSQL: one database per test on one shared server.</summary>
[Trait("Category", "Integration")]
public sealed class PostgresAlertDatabaseTests(PostgresFixture postgres) : AlertDatabaseContract
{
    private string _connectionString = "";

    protected override CaseDatabase CreateDatabase()
    {
        _connectionString = postgres.Server.CreateDatabaseAsync(TestContext.Current.CancellationToken).GetAwaiter().GetResult();
        return CaseDatabase.Postgres(_connectionString);
    }

    protected override CaseDatabase ReopenDatabase() => CaseDatabase.Postgres(_connectionString);
}
