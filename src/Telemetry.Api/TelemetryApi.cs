using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using CsvHelper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Telemetry.Abstractions;
using Telemetry.Grains;
using Telemetry.Storage.Cases;

namespace Telemetry.Api;

/// <summary>
/// The HTTP API: alerts with their cases and evidence, the live stream, vehicles and keys. Every endpoint but
/// <c>/health</c> needs an API key or a JWT (the API's own description too); answers are limited to the caller's scope,
/// and what is outside it does not exist (404). Errors are RFC 7807 problem details.
/// </summary>
public static class TelemetryApi
{
    /// <summary>Largest page of alerts one request may ask for.</summary>
    public const int MaxLimit = SqlAlertStore.MaxPage;

    /// <summary>Most rows one CSV export writes.</summary>
    public const int MaxExportRows = 100_000;

    private static readonly JsonSerializerOptions Json = TelemetryJson.Options;

    /// <summary>
    /// Problem details, JSON in the project's shape, the OpenAPI document, authentication (API keys; JWT bearer when
    /// <c>Telemetry:Api:Jwt</c> is set), the role policies and the first start's admin key.
    /// </summary>
    public static IHostApplicationBuilder AddTelemetryApi(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Configuration.GetSection(ApiOptions.Section).Get<ApiOptions>() ?? new ApiOptions();
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new OptionsValidationException(ApiOptions.Section, typeof(ApiOptions), errors);
        var services = builder.Services;
        services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.Section);
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o =>
        {
            var shared = TelemetryJson.Options;
            o.SerializerOptions.PropertyNamingPolicy = shared.PropertyNamingPolicy;
            foreach (var converter in shared.Converters)
                o.SerializerOptions.Converters.Add(converter);
        });
        services.AddOpenApi(ApiDescription.Configure);
        services.TryAddSingleton(TimeProvider.System);
        services.AddApiSecurity(options);
        services.AddSingleton<AlertStreamHub>();
        services.TryAddSingleton<ComplianceReports>();
        services.TryAddSingleton<KnownVehicles>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertStreamHub>());
        return builder;
    }

    /// <summary>Maps every endpoint under <c>/api</c>, <c>/health</c>, <c>/openapi/v1.json</c> and <c>/scalar</c>.</summary>
    public static WebApplication MapTelemetryApi(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapApiDescription(ApiPolicies.Read);

        var api = app.MapGroup("/api").RequireAuthorization(ApiPolicies.Read).ProducesProblem(StatusCodes.Status401Unauthorized);
        api.MapGet("/alerts", QueryAlertsAsync).AllowQuery(AlertListRequest.Names).WithName("ListAlerts")
            .WithSummary("Alert episodes matching the filters, newest first, without evidence, one page at a time.");
        api.MapGet("/alerts/export", ExportAlertsAsync).AllowQuery([.. AlertListRequest.Names.Except(["cursor", "limit"])]).WithName("ExportAlerts")
            .WithSummary("Every alert episode matching the filters as CSV.").Produces<string>(StatusCodes.Status200OK, "text/csv");
        api.MapGet("/alerts/stream", AlertStreamEndpoint.StreamAsync).AllowQuery().WithName("StreamAlerts")
            .WithSummary("Server-sent events: one alert event (with an id) per episode change in the caller's scope; resumes after Last-Event-ID; keep-alive comments.").Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
        api.MapGet("/alerts/{id}", GetAlertAsync).AllowQuery().WithName("GetAlert")
            .WithSummary("One episode with its evidence samples, its case and the case's audit trail.");
        api.MapPost("/alerts/{id}/case", ApplyCaseStepAsync).AllowQuery().RequireAuthorization(ApiPolicies.Cases).WithName("ApplyCaseStep")
            .WithSummary("A step of the case workflow: acknowledge, assign, comment, close (with a reason) or reopen; recorded in the audit trail.")
            .ProducesProblem(StatusCodes.Status403Forbidden);
        api.MapVehicles();
        api.MapGet("/keys", ListKeysAsync).AllowQuery().RequireAuthorization(ApiPolicies.Admin).WithName("ListKeys")
            .WithSummary("The API keys (never their secrets).").ProducesProblem(StatusCodes.Status403Forbidden);
        api.MapReports();
        api.MapRegistry();
        app.MapGet("/health", () => TypedResults.Text("ok")).AllowQuery().AllowAnonymous().WithName("Liveness");
        return app;
    }

    private static async Task<Results<Ok<Page<AlertItem>>, ProblemHttpResult>> QueryAlertsAsync(
        [AsParameters] AlertListRequest request, ClaimsPrincipal user, SqlAlertStore store, CancellationToken cancellationToken)
    {
        var (filter, limit, problem) = request.Parse();
        if (problem is not null)
            return problem;
        var scoped = WithScope(filter!, Caller.From(user));
        AlertPage page;
        try
        {
            page = await store.QueryPageAsync(scoped, request.Cursor, limit, cancellationToken: cancellationToken);
        }
        catch (FormatException ex)
        {
            return QueryParameters.Invalid("cursor", ex.Message);
        }
        return TypedResults.Ok(new Page<AlertItem>([.. page.Items.Select(r => AlertItem.From(r, withEvidence: false))], page.Total, page.NextCursor));
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ExportAlertsAsync(
        [AsParameters] AlertListRequest request, ClaimsPrincipal user, SqlAlertStore store, CancellationToken cancellationToken)
    {
        var (filter, _, problem) = request.Parse();
        if (problem is not null)
            return problem;
        var scoped = WithScope(filter!, Caller.From(user));
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        await using (var csv = new CsvWriter(text, CultureInfo.InvariantCulture))
        {
            foreach (var header in new[] { "id", "ruleId", "ruleName", "severity", "status", "vin", "fleet", "region", "zone", "startUtc", "lastHeldUtc", "endUtc", "caseState", "assignee", "closeReason", "summary" })
                csv.WriteField(header);
            await csv.NextRecordAsync();
            string? cursor = null;
            var rows = 0;
            do
            {
                var page = await store.QueryPageAsync(scoped, cursor, MaxLimit, withTotal: false, cancellationToken);
                foreach (var (a, c) in page.Items)
                {
                    foreach (var field in new object?[] { a.Id, a.RuleId, a.RuleName, Camel(a.Severity), Camel(a.Status), a.Vin, a.Fleet, a.Region, a.Zone,
                        Time(a.StartUtc), Time(a.LastHeldUtc), a.EndUtc is { } e ? Time(e) : null, Camel(c.State), c.Assignee, c.CloseReason is { } r ? Camel(r) : null, a.Summary })
                        csv.WriteField(field);
                    await csv.NextRecordAsync();
                }
                rows += page.Items.Count;
                cursor = page.NextCursor;
            }
            while (cursor is not null && rows < MaxExportRows);
        }
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(text.ToString()), "text/csv; charset=utf-8", "alerts.csv");
    }

    private static async Task<Results<Ok<AlertDetail>, ProblemHttpResult>> GetAlertAsync(
        string id, ClaimsPrincipal user, SqlAlertStore store, CancellationToken cancellationToken)
    {
        if (id.Length > 64)
            return QueryParameters.Invalid("id", "An alert id is at most 64 characters.");
        var record = await store.GetRecordAsync(id, Caller.From(user).Scope, cancellationToken);
        if (record is null)
            return QueryParameters.NotFound($"No alert '{id}'.");
        var audit = await store.GetAuditAsync(id, cancellationToken);
        return TypedResults.Ok(new AlertDetail(AlertItem.From(record, withEvidence: true), audit));
    }

    private static async Task<Results<Ok<AlertItem>, ProblemHttpResult>> ApplyCaseStepAsync(
        string id, CaseStepRequest step, ClaimsPrincipal user, SqlAlertStore store, CancellationToken cancellationToken)
    {
        if (id.Length > 64)
            return QueryParameters.Invalid("id", "An alert id is at most 64 characters.");
        if (step.Assignee is { Length: > 64 } || step.Comment is { Length: > 4000 })
            return QueryParameters.Invalid("body", "An assignee is at most 64 characters and a comment at most 4000.");
        var caller = Caller.From(user);
        var result = await store.ApplyAsync(id, new CaseCommand(step.Action, caller.Name, step.Assignee, step.Comment, step.Reason), caller.Scope, cancellationToken);
        return result.Outcome switch
        {
            CaseOutcome.Done => TypedResults.Ok(AlertItem.From(result.Record!, withEvidence: false)),
            CaseOutcome.NotFound => QueryParameters.NotFound(result.Problem!),
            _ => TypedResults.Problem(title: "The step does not apply to this case", detail: result.Problem, statusCode: StatusCodes.Status409Conflict),
        };
    }

    private static async Task<Ok<ApiKeyView[]>> ListKeysAsync(ApiKeyStore keys, CancellationToken cancellationToken)
    {
        var list = await keys.ListAsync(cancellationToken);
        return TypedResults.Ok(list.Select(k => new ApiKeyView(k.Id, k.Name, k.Role, k.Scope, k.CreatedUtc, k.RevokedUtc)).ToArray());
    }

    private static AlertFilter WithScope(AlertFilter filter, Caller caller) =>
        filter with { ScopeFleets = caller.Fleets, ScopeRegions = caller.Regions };

    private static string Camel<T>(T value) where T : struct, Enum
    {
        var name = value.ToString();
        return char.ToLowerInvariant(name[0]) + name[1..];
    }

    private static string Time(DateTime utc) => utc.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
