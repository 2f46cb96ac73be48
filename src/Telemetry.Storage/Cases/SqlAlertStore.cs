using System.Collections.Immutable;
using System.Data.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Dapper;
using Telemetry.Abstractions;

namespace Telemetry.Storage.Cases;

/// <summary>
/// Alert episodes and their cases in a <see cref="CaseDatabase"/>. The detector's upserts follow the revision rule of
/// <see cref="IAlertStore"/> and never touch the case; the workflow steps change the case and append to the audit
/// trail in one transaction. Queries page by a cursor on (start time descending, id).
/// </summary>
public sealed class SqlAlertStore(CaseDatabase database, TimeProvider time) : IAlertStore
{
    /// <summary>Largest page.</summary>
    public const int MaxPage = 1000;

    /// <summary>The database.</summary>
    public CaseDatabase Database { get; } = database;

    /// <inheritdoc />
    public async ValueTask UpsertAsync(Alert alert, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alert);
        await using var connection = await Database.OpenAsync(cancellationToken);
        // Grains call this on every episode change: their turn to write is awaited, never slept for (see WriteTurnAsync).
        using var turn = await Database.WriteTurnAsync(cancellationToken);
        await UpsertAsync(connection, null, alert);
    }

    /// <summary>Upserts many episodes in one transaction (import).</summary>
    public async Task<int> UpsertManyAsync(IEnumerable<Alert> alerts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        await using var connection = await Database.OpenAsync(cancellationToken);
        using var turn = await Database.WriteTurnAsync(cancellationToken);
        await using var transaction = Database.BeginWrite(connection);
        var count = 0;
        foreach (var alert in alerts)
        {
            await UpsertAsync(connection, transaction, alert);
            count++;
        }
        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    /// <inheritdoc />
    public async ValueTask<Alert?> GetAsync(string id, CancellationToken cancellationToken = default) =>
        (await GetRecordAsync(id, null, cancellationToken))?.Alert;

    /// <summary>One episode with its evidence and case, or null (also when outside <paramref name="scope"/>).</summary>
    public async Task<AlertRecord?> GetRecordAsync(string id, AlertFilter? scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await Database.OpenAsync(cancellationToken);
        var where = new StringBuilder("id = @id");
        var parameters = new DynamicParameters(new { id });
        AppendScope(where, parameters, scope, Database.Kind);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(
            $"SELECT body, evidence, case_state, assignee, close_reason, case_updated_ticks FROM alerts WHERE {where}", parameters);
        return row?.ToRecord(withEvidence: true);
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<Alert>> QueryAsync(AlertQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit <= 0)
            return [];
        var filter = new AlertFilter
        {
            Vin = query.Vin,
            RuleId = query.RuleId,
            Status = query.Status,
            FromUtc = query.SinceUtc,
            ScopeFleets = query.Fleets,
        };
        var page = await QueryPageAsync(filter, null, Math.Min(query.Limit, MaxPage), withTotal: false, cancellationToken);
        return [.. page.Items.Select(r => r.Alert)];
    }

    /// <summary>
    /// Episodes matching <paramref name="filter"/>, newest start first, without evidence: the page after
    /// <paramref name="cursor"/> (null = the first), at most <paramref name="limit"/>, and the total number of matches.
    /// </summary>
    /// <exception cref="FormatException"><paramref name="cursor"/> is not one this store handed out.</exception>
    public async Task<AlertPage> QueryPageAsync(AlertFilter filter, string? cursor, int limit, bool withTotal = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, MaxPage);
        var where = new StringBuilder("1 = 1");
        var parameters = new DynamicParameters();
        AppendFilter(where, parameters, filter, Database.Kind);
        await using var connection = await Database.OpenAsync(cancellationToken);
        var total = withTotal ? await connection.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM alerts WHERE {where}", parameters) : -1;
        if (cursor is not null)
        {
            var (ticks, id) = DecodeCursor(cursor);
            where.Append(" AND (start_ticks < @cursorTicks OR (start_ticks = @cursorTicks AND id > @cursorId))");
            parameters.Add("cursorTicks", ticks);
            parameters.Add("cursorId", id);
        }
        parameters.Add("take", limit + 1);
        var rows = (await connection.QueryAsync<Row>(
            $"SELECT body, '[]' AS evidence, case_state, assignee, close_reason, case_updated_ticks FROM alerts WHERE {where} ORDER BY start_ticks DESC, id LIMIT @take",
            parameters)).ToList();
        var items = rows.Take(limit).Select(r => r.ToRecord(withEvidence: false)).ToList();
        var next = rows.Count > limit ? EncodeCursor(items[^1].Alert) : null;
        return new AlertPage(items, total, next);
    }

    /// <summary>Applies a workflow step: checks it against the case's state, changes the case and records it in the audit trail.</summary>
    public async Task<CaseResult> ApplyAsync(string id, CaseCommand command, AlertFilter? scope, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(command);
        await using var connection = await Database.OpenAsync(cancellationToken);
        using var turn = await Database.WriteTurnAsync(cancellationToken);
        await using var transaction = Database.BeginWrite(connection);
        var where = new StringBuilder("id = @id");
        var parameters = new DynamicParameters(new { id });
        AppendScope(where, parameters, scope, Database.Kind);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(
            $"SELECT body, evidence, case_state, assignee, close_reason, case_updated_ticks FROM alerts WHERE {where}{Database.ForUpdate}",
            parameters, transaction);
        if (row is null)
            return new CaseResult(CaseOutcome.NotFound, null, $"No alert '{id}'.");
        var current = row.ToRecord(withEvidence: false).Case;
        var (next, problem) = Transition(current, command);
        if (problem is not null)
            return new CaseResult(CaseOutcome.Conflict, null, problem);
        var now = time.GetUtcNow().UtcDateTime;
        next = next! with { UpdatedUtc = now };
        await connection.ExecuteAsync(
            "UPDATE alerts SET case_state = @state, assignee = @assignee, close_reason = @reason, case_updated_ticks = @ticks WHERE id = @id",
            new { state = (int)next.State, assignee = next.Assignee, reason = (int?)next.CloseReason, ticks = now.Ticks, id }, transaction);
        await connection.ExecuteAsync(
            "INSERT INTO alert_audit (alert_id, at_ticks, actor, action, detail) VALUES (@id, @ticks, @actor, @action, @detail)",
            new { id, ticks = now.Ticks, actor = command.Actor, action = (int)command.Action, detail = Detail(command) }, transaction);
        await transaction.CommitAsync(cancellationToken);
        return new CaseResult(CaseOutcome.Done, row.ToRecord(withEvidence: false) with { Case = next }, null);
    }

    /// <summary>The audit trail of an episode, oldest first.</summary>
    public async Task<IReadOnlyList<AuditEntry>> GetAuditAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        await using var connection = await Database.OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<(long Seq, string AlertId, long AtTicks, string Actor, long Action, string? Detail)>(
            "SELECT seq, alert_id, at_ticks, actor, action, detail FROM alert_audit WHERE alert_id = @id ORDER BY seq", new { id });
        return [.. rows.Select(r => new AuditEntry(r.Seq, r.AlertId, new DateTime(r.AtTicks, DateTimeKind.Utc), r.Actor, (CaseAction)r.Action, r.Detail))];
    }

    /// <summary>
    /// Reads a JSON Lines alert file (the store of earlier versions) into the database, unless this file at this length
    /// was imported before. Upserts follow the revision rule, so importing twice changes nothing. Returns the records
    /// read, or -1 when skipped; unreadable lines are counted as skipped.
    /// </summary>
    public async Task<(int Imported, int Skipped)> ImportJsonLinesAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        var length = new FileInfo(full).Length;
        await using (var connection = await Database.OpenAsync(cancellationToken))
        {
            var seen = await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM imported_files WHERE path = @full AND length = @length", new { full, length });
            if (seen > 0)
                return (-1, 0);
        }
        var alerts = new List<Alert>();
        var skipped = 0;
        foreach (var line in File.ReadLines(full, Encoding.UTF8))
        {
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                alerts.Add(JsonSerializer.Deserialize<Alert>(line, TelemetryJson.Options) ?? throw new JsonException("The record is null."));
            }
            catch (JsonException)
            {
                skipped++;
            }
        }
        await UpsertManyAsync(alerts, cancellationToken);
        await using (var connection = await Database.OpenAsync(cancellationToken))
        {
            await connection.ExecuteAsync(
                "INSERT INTO imported_files (path, length, imported_ticks, records) VALUES (@full, @length, @ticks, @records)",
                new { full, length, ticks = time.GetUtcNow().UtcDateTime.Ticks, records = alerts.Count });
        }
        return (alerts.Count, skipped);
    }

    internal static (CaseInfo? Next, string? Problem) Transition(CaseInfo current, CaseCommand command) => command.Action switch
    {
        CaseAction.Acknowledge when current.State == CaseState.New => (current with { State = CaseState.Acknowledged }, null),
        CaseAction.Acknowledge => (null, $"The case is {current.State}; only a new case can be acknowledged."),
        CaseAction.Assign when string.IsNullOrWhiteSpace(command.Assignee) => (null, "An assignment names the person (assignee)."),
        CaseAction.Assign when current.State == CaseState.Closed => (null, "The case is closed; reopen it first."),
        CaseAction.Assign => (current with { State = CaseState.Assigned, Assignee = command.Assignee }, null),
        CaseAction.Comment when string.IsNullOrWhiteSpace(command.Comment) => (null, "A comment needs text."),
        CaseAction.Comment => (current, null),
        CaseAction.Close when command.Reason is null => (null, "Closing needs a reason: ConfirmedViolation, FalseAlarm, Duplicate or Other."),
        CaseAction.Close when command.Reason == CloseReason.Other && string.IsNullOrWhiteSpace(command.Comment) => (null, "Closing for reason Other needs a comment that says why."),
        CaseAction.Close when current.State == CaseState.Closed => (null, "The case is already closed."),
        CaseAction.Close => (current with { State = CaseState.Closed, CloseReason = command.Reason }, null),
        CaseAction.Reopen when current.State != CaseState.Closed => (null, $"The case is {current.State}, not closed."),
        CaseAction.Reopen => (current with { State = current.Assignee is null ? CaseState.Acknowledged : CaseState.Assigned, CloseReason = null }, null),
        _ => (null, $"Unknown step {command.Action}."),
    };

    private static string? Detail(CaseCommand command) => command.Action switch
    {
        CaseAction.Assign => Join($"assignee={command.Assignee}", command.Comment),
        CaseAction.Close => Join($"reason={command.Reason}", command.Comment),
        _ => command.Comment,
    };

    private static string Join(string head, string? comment) => string.IsNullOrWhiteSpace(comment) ? head : $"{head}; {comment}";

    private static async Task UpsertAsync(DbConnection connection, DbTransaction? transaction, Alert alert)
    {
        var evidence = alert.Evidence.IsDefault ? [] : alert.Evidence;
        var body = JsonSerializer.Serialize(alert with { Evidence = [] }, TelemetryJson.Options);
        var evidenceJson = JsonSerializer.Serialize(evidence, TelemetryJson.Options);
        // A lower revision never replaces a higher one; the case columns are the people's and stay as they are.
        await connection.ExecuteAsync("""
            INSERT INTO alerts (id, vin, rule_id, rule_lower, severity, status, fleet, region, zone, start_ticks, revision, body, evidence)
            VALUES (@Id, @Vin, @RuleId, @RuleLower, @Severity, @Status, @Fleet, @Region, @Zone, @StartTicks, @Revision, @Body, @Evidence)
            ON CONFLICT (id) DO UPDATE SET vin = excluded.vin, rule_id = excluded.rule_id, rule_lower = excluded.rule_lower,
                severity = excluded.severity, status = excluded.status, fleet = excluded.fleet, region = excluded.region,
                zone = excluded.zone, start_ticks = excluded.start_ticks, revision = excluded.revision, body = excluded.body,
                evidence = excluded.evidence
            WHERE alerts.revision <= excluded.revision
            """,
            new
            {
                alert.Id,
                alert.Vin,
                alert.RuleId,
                RuleLower = alert.RuleId.ToLowerInvariant(),
                Severity = (int)alert.Severity,
                Status = (int)alert.Status,
                alert.Fleet,
                alert.Region,
                alert.Zone,
                StartTicks = alert.StartUtc.Ticks,
                alert.Revision,
                Body = body,
                Evidence = evidenceJson,
            }, transaction);
    }

    private static void AppendFilter(StringBuilder where, DynamicParameters parameters, AlertFilter filter, AlertStoreKind kind)
    {
        void Equal(string column, string name, object? value)
        {
            if (value is null)
                return;
            where.Append(CultureInfo.InvariantCulture, $" AND {column} = @{name}");
            parameters.Add(name, value);
        }

        Equal("status", "status", (int?)filter.Status);
        Equal("case_state", "caseState", (int?)filter.CaseState);
        Equal("severity", "severity", (int?)filter.Severity);
        Equal("fleet", "fleet", filter.Fleet);
        Equal("region", "region", filter.Region);
        Equal("zone", "zone", filter.Zone);
        Equal("vin", "vin", filter.Vin);
        if (filter.RuleId is not null)
        {
            // A family (R9) matches its sub-rules (R9.offline); '.' and letters only, so no LIKE metacharacters.
            where.Append(" AND (rule_lower = @rule OR rule_lower LIKE @ruleFamily)");
            parameters.Add("rule", filter.RuleId.ToLowerInvariant());
            parameters.Add("ruleFamily", filter.RuleId.ToLowerInvariant() + ".%");
        }
        if (filter.FromUtc is { } from)
        {
            where.Append(" AND start_ticks >= @fromTicks");
            parameters.Add("fromTicks", from.Ticks);
        }
        if (filter.UntilUtc is { } until)
        {
            where.Append(" AND start_ticks < @untilTicks");
            parameters.Add("untilTicks", until.Ticks);
        }
        AppendScope(where, parameters, filter, kind);
    }

    internal static void AppendScope(StringBuilder where, DynamicParameters parameters, AlertFilter? scope, AlertStoreKind kind)
    {
        if (scope?.ScopeFleets is { } fleets)
        {
            if (fleets.Count == 0)
                where.Append(" AND 1 = 0");
            else
            {
                where.Append(In("fleet", "scopeFleets", kind));
                parameters.Add("scopeFleets", fleets.ToArray());
            }
        }
        if (scope?.ScopeRegions is { } regions)
        {
            if (regions.Count == 0)
                where.Append(" AND 1 = 0");
            else
            {
                where.Append(In("region", "scopeRegions", kind));
                parameters.Add("scopeRegions", regions.ToArray());
            }
        }
    }

    // Npgsql takes an array parameter (ANY); Dapper expands a list into IN (...) for SQLite.
    private static string In(string column, string parameter, AlertStoreKind kind) =>
        kind == AlertStoreKind.Postgres ? $" AND {column} = ANY(@{parameter})" : $" AND {column} IN @{parameter}";

    private static string EncodeCursor(Alert last) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{last.StartUtc.Ticks}|{last.Id}")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static (long Ticks, string Id) DecodeCursor(string cursor)
    {
        try
        {
            var base64 = cursor.Replace('-', '+').Replace('_', '/');
            base64 += new string('=', (4 - base64.Length % 4) % 4);
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(base64));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar > 0 && long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
                return (ticks, text[(bar + 1)..]);
        }
        catch (FormatException)
        {
        }
        throw new FormatException($"'{cursor}' is not a cursor of this API.");
    }

    private sealed class Row
    {
        public string Body { get; set; } = "";
        public string Evidence { get; set; } = "[]";
        public long Case_State { get; set; }
        public string? Assignee { get; set; }
        public long? Close_Reason { get; set; }
        public long? Case_Updated_Ticks { get; set; }

        public AlertRecord ToRecord(bool withEvidence)
        {
            var alert = JsonSerializer.Deserialize<Alert>(Body, TelemetryJson.Options)!;
            if (withEvidence)
                alert = alert with { Evidence = JsonSerializer.Deserialize<ImmutableArray<Sample>>(Evidence, TelemetryJson.Options) };
            var info = new CaseInfo((CaseState)Case_State, Assignee, (CloseReason?)Close_Reason,
                Case_Updated_Ticks is { } t ? new DateTime(t, DateTimeKind.Utc) : null);
            return new AlertRecord(alert, info);
        }
    }
}
