using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Telemetry.Abstractions;
using Telemetry.Grains;

namespace Telemetry.Api;

/// <summary>The HTTP API: alerts (evidence), their live stream, and vehicle status.</summary>
public static class TelemetryApi
{
    /// <summary>Largest page of alerts one request may ask for.</summary>
    public const int MaxLimit = 1000;

    private static readonly JsonSerializerOptions Json = TelemetryJson.Options;

    /// <summary>Maps every endpoint under <c>/api</c> and <c>/health</c>.</summary>
    public static IEndpointRouteBuilder MapTelemetryApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/alerts", QueryAlertsAsync);
        api.MapGet("/alerts/stream", StreamAlertsAsync);
        api.MapGet("/alerts/{id}", GetAlertAsync);
        api.MapGet("/vehicles/{vin}", GetVehicleAsync);
        app.MapGet("/health", () => Results.Text("ok"));
        return app;
    }

    private static async Task<IResult> QueryAlertsAsync(HttpRequest request, IAlertStore store, CancellationToken cancellationToken)
    {
        var q = request.Query;
        var query = new AlertQuery();
        if (q.TryGetValue("vin", out var vin))
        {
            if (!Vin.IsValid(vin.ToString()))
            {
                return Problem("vin", $"'{vin}' is not a 17-character VIN of A-H, J-N, P, R-Z and 0-9.");
            }
            query = query with { Vin = vin.ToString() };
        }
        if (q.TryGetValue("rule", out var rule))
        {
            var text = rule.ToString();
            if (text.Length is < 1 or > 24 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c == '.'))
            {
                return Problem("rule", $"'{text}' is not a rule id such as R1 or R9.offline.");
            }
            query = query with { RuleId = text };
        }
        if (q.TryGetValue("status", out var status))
        {
            if (!Enum.TryParse<AlertStatus>(status.ToString(), ignoreCase: true, out var parsed) || !Enum.IsDefined(parsed))
            {
                return Problem("status", $"'{status}' is not open or closed.");
            }
            query = query with { Status = parsed };
        }
        if (q.TryGetValue("since", out var since))
        {
            if (!DateTimeOffset.TryParse(since.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return Problem("since", $"'{since}' is not an ISO 8601 time.");
            }
            query = query with { SinceUtc = parsed.UtcDateTime };
        }
        if (q.TryGetValue("limit", out var limit))
        {
            if (!int.TryParse(limit.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed is < 1 or > MaxLimit)
            {
                return Problem("limit", $"'{limit}' is not a whole number from 1 to {MaxLimit}.");
            }
            query = query with { Limit = parsed };
        }
        var alerts = await store.QueryAsync(query, cancellationToken);
        return Results.Json(alerts, Json);
    }

    private static async Task<IResult> GetAlertAsync(string id, IAlertStore store, CancellationToken cancellationToken)
    {
        if (id.Length > 64)
        {
            return Problem("id", "An alert id is at most 64 characters.");
        }
        var alert = await store.GetAsync(id, cancellationToken);
        return alert is null ? Results.NotFound() : Results.Json(alert, Json);
    }

    private static async Task<IResult> GetVehicleAsync(string vin, IGrainFactory grains, VehicleIndex vehicles, IVehicleRegistry registry)
    {
        if (!Vin.IsValid(vin))
        {
            return Problem("vin", $"'{vin}' is not a 17-character VIN of A-H, J-N, P, R-Z and 0-9.");
        }
        if (!vehicles.IsKnown(vin) && registry.Find(vin) is null)
        {
            // Never heard of: answer without activating a grain for it.
            return Results.NotFound();
        }
        var status = await grains.GetGrain<IVehicleGrain>(vin).GetStatus();
        return Results.Json(status, Json);
    }

    /// <summary>Server-sent events: one <c>alert</c> event per episode change, as it happens.</summary>
    private static async Task StreamAlertsAsync(HttpContext context, IAlertFeed feed)
    {
        var cancellationToken = context.RequestAborted;
        // Subscribed before the first line goes out: a client that has read it misses nothing after.
        using var subscription = feed.Subscribe();
        context.Response.Headers.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.WriteAsync(": alert stream\n\n", cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
        try
        {
            await foreach (var change in subscription.Reader.ReadAllAsync(cancellationToken))
            {
                var data = JsonSerializer.Serialize(new { kind = change.Kind, alert = change.Alert }, Json);
                await context.Response.WriteAsync($"event: alert\ndata: {data}\n\n", cancellationToken);
                await context.Response.Body.FlushAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private static IResult Problem(string parameter, string detail) =>
        Results.Problem(detail: detail, statusCode: StatusCodes.Status400BadRequest, title: $"Invalid parameter '{parameter}'");
}
