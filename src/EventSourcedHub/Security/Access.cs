using System.IdentityModel.Tokens.Jwt;
using System.Security.Claims;
using EventSourcedHub.Domain;
using EventSourcedHub.Http;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Security;

/// <summary>Who is calling, as far as the hub needs to know: the token's scopes, its topic binding, expiry and client.</summary>
public sealed record HubCaller(bool Authenticated, FhircastScopes Scopes, string? BoundTopic, DateTimeOffset? ExpiresAt, string? ClientId)
{
    public static readonly HubCaller Anonymous = new(false, FhircastScopes.Parse([]), null, null, null);

    public static HubCaller From(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true) return Anonymous;
        var scopes = user.FindAll("scope").Concat(user.FindAll("scp")).Select(c => c.Value);
        var exp = long.TryParse(user.FindFirst(JwtRegisteredClaimNames.Exp)?.Value, out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : (DateTimeOffset?)null;
        var client = user.FindFirst("client_id")?.Value ?? user.FindFirst("azp")?.Value ?? user.FindFirst(JwtRegisteredClaimNames.Sub)?.Value;
        return new HubCaller(true, FhircastScopes.Parse(scopes), user.FindFirst("hub.topic")?.Value, exp, client);
    }
}

/// <summary>What an endpoint requires of its caller (endpoint metadata read by <see cref="AccessFilter"/>).</summary>
public enum AccessRule
{
    /// <summary>Nothing (discovery, metadata, the WebSocket upgrade, HUB-AUTH-05).</summary>
    Open,
    /// <summary>A valid token; the handler checks the rest once it has read the body (the event's write scope, the topic).</summary>
    Authenticated,
    /// <summary>A FHIRcast read scope, for the route's topic (get current context, events since, context as of).</summary>
    ReadSession,
    /// <summary>`user/` or `system/AuditEvent.read`, for the route's topic (audit, timeline, verify, export, replay's source).</summary>
    ReadSessionAudit,
    /// <summary>`AuditEvent.read` across sessions: not for a token bound to one topic.</summary>
    ReadAudit,
    /// <summary>`Provenance.read` across sessions: not for a token bound to one topic.</summary>
    ReadProvenance,
    /// <summary>`system/*.write`, not for a token bound to one topic (import).</summary>
    WriteSystem,
}

/// <summary>Endpoint metadata: the rule an endpoint's caller must pass.</summary>
public sealed record RequiresAccess(AccessRule Rule);

/// <summary>
/// The one access check of every endpoint: runs before the handler, reads the topic from the same route value the
/// handler binds (rulings.md 32), so an encoded path cannot name one topic to the check and another to the handler.
/// </summary>
public sealed class AccessFilter(Access access) : IEndpointFilter
{
    public const string TopicRouteValue = "topic";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var rule = http.GetEndpoint()?.Metadata.GetMetadata<RequiresAccess>()?.Rule
            ?? throw new InvalidOperationException($"Endpoint {http.GetEndpoint()?.DisplayName} declares no access rule.");
        var topic = http.GetRouteValue(TopicRouteValue) as string;
        if (topic is not null) RequestAudit.Details(http).Topic ??= topic;
        return access.Check(http, rule, topic) ?? await next(context);
    }
}

/// <summary>
/// The authorisation rules (HUB-AUTH-01..06, rulings.md 19). Each returns null when the request may go on, else the
/// 401/403 answer (its format is the endpoint's, <see cref="ErrorAnswer"/>). With `Hub:Auth:Mode=None` everything is
/// allowed.
/// </summary>
public sealed class Access(IOptions<HubOptions> options)
{
    private bool Enforced => options.Value.Auth.IsJwt;

    public HubCaller Caller(HttpContext http) => Enforced ? HubCaller.From(http.User) : HubCaller.Anonymous;

    public ErrorAnswer? Check(HttpContext http, AccessRule rule, string? topic) => rule switch
    {
        AccessRule.Open => null,
        AccessRule.Authenticated => Authenticate(http) ?? (topic is null ? null : Bound(http, topic)),
        AccessRule.ReadSession => ReadSession(http, topic!),
        AccessRule.ReadSessionAudit => ReadAudit(http) ?? Bound(http, topic!),
        AccessRule.ReadAudit => ReadAudit(http) ?? Unbound(http),
        AccessRule.ReadProvenance => ReadAudit(http, "Provenance") ?? Unbound(http),
        AccessRule.WriteSystem => WriteSystem(http) ?? Unbound(http),
        _ => throw new ArgumentOutOfRangeException(nameof(rule)),
    };

    /// <summary>Subscribe or unsubscribe: a token bound to no other topic. Which events are granted is decided by the caller's read scopes.</summary>
    public ErrorAnswer? Subscription(HttpContext http, string topic) => Bound(http, topic);

    /// <summary>An event request needs the write scope of that event (HUB-AUTH-03).</summary>
    public ErrorAnswer? Publish(HttpContext http, string topic, string eventName)
    {
        if (Bound(http, topic) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.CanWrite(eventName) ? null : Forbidden($"The token has no `fhircast/{eventName}.write` scope.");
    }

    /// <summary>Reading a session (get current context, events since, context as of) needs a FHIRcast read scope.</summary>
    private ErrorAnswer? ReadSession(HttpContext http, string topic)
    {
        if ((Authenticate(http) ?? Bound(http, topic)) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.CanReadAny ? null : Forbidden("The token has no `fhircast/*.read` (or per-event read) scope.");
    }

    /// <summary>Audit data (AuditEvent and the session record derived from it) needs `user/` or `system/AuditEvent.read`.</summary>
    private ErrorAnswer? ReadAudit(HttpContext http, string resource = "AuditEvent")
    {
        if (Authenticate(http) is { } denied) return denied;
        var scopes = Caller(http).Scopes;
        return !Enforced || scopes.Has($"user/{resource}.read") || scopes.Has($"system/{resource}.read")
            ? null
            : Forbidden($"The token has no `user/{resource}.read` or `system/{resource}.read` scope.");
    }

    /// <summary>Writing a session's whole log (import) is a system operation.</summary>
    private ErrorAnswer? WriteSystem(HttpContext http)
    {
        if (Authenticate(http) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.Has("system/*.write") ? null : Forbidden("The token has no `system/*.write` scope.");
    }

    /// <summary>Replaying into a topic needs a FHIRcast write scope for the target (the source was checked by the filter).</summary>
    public ErrorAnswer? ReplayInto(HttpContext http, string target)
    {
        if (Bound(http, target) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.CanWriteAny ? null : Forbidden("Replaying into a topic needs a `fhircast/...write` scope.");
    }

    /// <summary>Searches across sessions are for tokens that are not bound to one topic.</summary>
    private ErrorAnswer? Unbound(HttpContext http) => Caller(http).BoundTopic is null
        ? null
        : Forbidden("A token bound to one topic (`hub.topic` claim) can read only that session, under /api/sessions/{topic}/.");

    private ErrorAnswer? Authenticate(HttpContext http)
    {
        if (!Enforced || http.User.Identity?.IsAuthenticated == true) return null;
        var hadToken = http.Request.Headers.Authorization.Count > 0;
        http.Response.Headers.WWWAuthenticate = hadToken ? "Bearer error=\"invalid_token\"" : "Bearer";
        return Answers.For(Rejection.Unauthenticated(
            "A valid bearer token is required (Authorization: Bearer <token>); it is missing, expired, not yet valid, or not from this hub's issuer and audience."));
    }

    private ErrorAnswer? Bound(HttpContext http, string topic)
    {
        var bound = Caller(http).BoundTopic;
        return !Enforced || bound is null || bound == topic
            ? null
            : Forbidden($"The token is bound to another topic (`hub.topic` claim) and cannot be used for '{topic}'.");
    }

    public static ErrorAnswer Forbidden(string message) => Answers.For(Rejection.Forbidden(message));
}
