using System.Text.Json.Nodes;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace EdgeAgent.Hub.Api;

/// <summary>
/// Builds the OpenAPI 3.0 document at <c>/openapi/v1.json</c> from the mapped endpoints (their route,
/// method, summary and <see cref="RequiredRole"/>), so it cannot drift from what the hub serves.
/// Microsoft.AspNetCore.OpenApi is not available here; request/response schemas are described in the
/// summaries rather than generated.
/// </summary>
public static class OpenApiDocument
{
    public static JsonObject Build(EndpointDataSource endpoints)
    {
        var paths = new JsonObject();
        foreach (var e in endpoints.Endpoints.OfType<RouteEndpoint>().OrderBy(e => e.RoutePattern.RawText, StringComparer.Ordinal))
        {
            var route = "/" + e.RoutePattern.RawText!.TrimStart('/');
            if (!route.StartsWith("/api/", StringComparison.Ordinal)) continue;
            var methods = e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [];
            var role = e.Metadata.GetMetadata<RequiredRole>()?.Role ?? HubRole.Admin;
            var summary = e.Metadata.GetMetadata<Microsoft.AspNetCore.Http.Metadata.IEndpointSummaryMetadata>()?.Summary ?? "";
            var item = paths[route] as JsonObject ?? new JsonObject();
            foreach (var method in methods)
            {
                var parameters = new JsonArray();
                foreach (var p in e.RoutePattern.Parameters)
                    parameters.Add(new JsonObject { ["name"] = p.Name, ["in"] = "path", ["required"] = true, ["schema"] = new JsonObject { ["type"] = "string" } });
                item[method.ToLowerInvariant()] = new JsonObject
                {
                    ["summary"] = summary,
                    ["description"] = $"Requires role {HubRoles.WireName(role)} or higher.",
                    ["x-required-role"] = HubRoles.WireName(role),
                    ["parameters"] = parameters,
                    ["security"] = new JsonArray(new JsonObject { ["bearer"] = new JsonArray() }),
                    ["responses"] = new JsonObject
                    {
                        ["200"] = new JsonObject { ["description"] = "OK (201 when created, 204 when deleted)" },
                        ["401"] = new JsonObject { ["description"] = "missing or unknown bearer token" },
                        ["403"] = new JsonObject { ["description"] = "the token's role is too low" },
                    },
                };
            }
            paths[route] = item;
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.3",
            ["info"] = new JsonObject { ["title"] = "edgehub admin API", ["version"] = "v1" },
            ["paths"] = paths,
            ["components"] = new JsonObject
            {
                ["securitySchemes"] = new JsonObject { ["bearer"] = new JsonObject { ["type"] = "http", ["scheme"] = "bearer" } },
            },
        };
    }
}
