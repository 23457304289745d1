using EdgeAgent.Hub.Api;
using EdgeAgent.Hub.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace EdgeAgent.Hub.Auth;

/// <summary>Endpoint metadata: the least role allowed to call it.</summary>
public sealed record RequiredRole(HubRole Role);

/// <summary>
/// Bearer-token authentication, role checks and the audit trail for <c>/api/</c>.
/// Every request that is not GET/HEAD/OPTIONS under <c>/api/</c> gets one audit row after it completed,
/// whatever the outcome (refused calls are audited too: who tried what is the point of an audit log).
/// </summary>
public static class ApiAuthentication
{
    private const string TokenItem = "edgehub.token";
    private const string TargetItem = "edgehub.audit.target";
    private const string DetailItem = "edgehub.audit.detail";

    /// <summary>The caller's token, once authenticated.</summary>
    public static ApiTokenRecord? Caller(this HttpContext context) => context.Items[TokenItem] as ApiTokenRecord;

    /// <summary>"name (id)" of the caller, or "anonymous".</summary>
    public static string Actor(this HttpContext context) => context.Caller() is { } t ? $"{t.Name} ({t.Id})" : "anonymous";

    /// <summary>Names what a mutating call acted on, for its audit row.</summary>
    public static void AuditTarget(this HttpContext context, string target, string? detail = null)
    {
        context.Items[TargetItem] = target;
        if (detail is not null) context.Items[DetailItem] = detail;
    }

    public static void UseHubApiAuthentication(this WebApplication app, IHubStore store, TimeProvider time)
    {
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments("/api"))
            {
                await next(context);
                return;
            }
            var header = context.Request.Headers.Authorization.ToString();
            if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                var token = await store.FindTokenByHashAsync(ApiTokens.Hash(header["Bearer ".Length..].Trim()), context.RequestAborted);
                if (token is not null) context.Items[TokenItem] = token;
            }
            try
            {
                await next(context);
            }
            finally
            {
                if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method) && !HttpMethods.IsOptions(context.Request.Method))
                {
                    // Not the request's token: the audit row must be written even when the client went away.
                    await store.AppendAuditAsync(new AuditEntry(0, time.GetUtcNow(), context.Actor(),
                        $"{context.Request.Method} {context.Request.Path}", context.Items[TargetItem] as string, context.Response.StatusCode,
                        context.Items[DetailItem] as string), CancellationToken.None);
                }
            }
        });
    }

    /// <summary>Endpoint filter: 401 without a valid token, 403 when the token's role is below the endpoint's <see cref="RequiredRole"/>.</summary>
    public static async ValueTask<object?> RequireRoleFilter(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        var required = context.GetEndpoint()?.Metadata.GetMetadata<RequiredRole>()?.Role ?? HubRole.Admin;
        var caller = context.Caller();
        if (caller is null)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            context.AuditTarget("-", "missing or unknown bearer token");
            return Results.Json(new ApiError("missing or unknown bearer token: send 'Authorization: Bearer <token>' (create one with 'edgehub tokens create --role R')"),
                HubJsonContext.Api.ApiError, statusCode: StatusCodes.Status401Unauthorized);
        }
        if (caller.Role < required)
        {
            context.AuditTarget("-", $"role {HubRoles.WireName(caller.Role)} below {HubRoles.WireName(required)}");
            return Results.Json(new ApiError($"token '{caller.Name}' has role {HubRoles.WireName(caller.Role)}; this call needs {HubRoles.WireName(required)}"),
                HubJsonContext.Api.ApiError, statusCode: StatusCodes.Status403Forbidden);
        }
        return await next(invocation);
    }
}
