using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace Telemetry.Api;

/// <summary>
/// The API's own description: the OpenAPI document (<c>/openapi/v1.json</c>) declares the bearer scheme and marks every
/// operation that needs it, and the Scalar page (<c>/scalar/v1</c>) offers that scheme first. Both need a key of any
/// role; a browser that opens them without one is asked for it (the key in the password field, see
/// <see cref="BrowserSignIn"/>).
/// </summary>
internal static class ApiDescription
{
    /// <summary>Name of the security scheme in the OpenAPI document.</summary>
    public const string SchemeName = "Bearer";

    private static readonly string[] PreferredSchemes = [SchemeName];

    /// <summary>The OpenAPI document with the bearer scheme, and a security requirement on every operation that has one.</summary>
    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "API key (tlm_...) or JWT",
                Description = "An API key (`Authorization: Bearer tlm_...`; `X-Api-Key` works too) or, when configured, a JWT "
                    + "whose role, fleet and region claims give role and scope. Every endpoint but /health needs one.",
            };
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any())
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] });
            }
            return Task.CompletedTask;
        });
    }

    /// <summary>Maps the OpenAPI document and the Scalar page, both for any authenticated role.</summary>
    public static void MapApiDescription(this WebApplication app, string readPolicy)
    {
        // One group, so that every endpoint the two libraries map needs the key; Scalar marks its scripts and icon
        // anonymous, and that marker would override the group's requirement, so it goes.
        var description = app.MapGroup("").RequireAuthorization(readPolicy).WithMetadata(BrowserSignIn.Instance);
        ((IEndpointConventionBuilder)description).Finally(endpoint =>
        {
            foreach (var anonymous in endpoint.Metadata.OfType<IAllowAnonymous>().ToList())
                endpoint.Metadata.Remove(anonymous);
        });
        description.MapOpenApi();
        description.MapScalarApiReference(o => o.AddPreferredSecuritySchemes(PreferredSchemes));
    }
}
