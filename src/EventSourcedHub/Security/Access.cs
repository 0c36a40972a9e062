using System.IdentityModel.Tokens.Jwt;
using System.Security.Claims;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Http;
using Hl7.Fhir.Model;
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

/// <summary>
/// The authorisation rules (HUB-AUTH-01..06, rulings.md 19), one method per kind of request. Each returns null when the
/// request may go on, else the 401/403 answer in the interface's format: text for the subscription form, an
/// OperationOutcome elsewhere (rulings.md 10). With `Hub:Auth:Mode=None` everything is allowed.
/// </summary>
public sealed class Access(IOptions<HubOptions> options, Audit.AuditWriter audit)
{
    private bool Enforced => options.Value.Auth.IsJwt;

    public HubCaller Caller(HttpContext http) => Enforced ? HubCaller.From(http.User) : HubCaller.Anonymous;

    /// <summary>Subscribe or unsubscribe: a valid token bound to no other topic. Which events are granted is decided by the caller's read scopes.</summary>
    public IResult? Subscription(HttpContext http, string topic) =>
        Authenticate(http, plainText: true) ?? Bound(http, topic, plainText: true);

    /// <summary>An event request needs the write scope of that event (HUB-AUTH-03).</summary>
    public IResult? Publish(HttpContext http, string topic, string eventName)
    {
        if ((Authenticate(http, plainText: false) ?? Bound(http, topic, plainText: false)) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.CanWrite(eventName)
            ? null
            : Forbidden(http, false, $"The token has no `fhircast/{eventName}.write` scope.");
    }

    /// <summary>Reading a session (get current context, events since, context as of) needs a FHIRcast read scope.</summary>
    public IResult? ReadSession(HttpContext http, string topic)
    {
        if ((Authenticate(http, plainText: false) ?? Bound(http, topic, plainText: false)) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.CanReadAny ? null : Forbidden(http, false, "The token has no `fhircast/*.read` (or per-event read) scope.");
    }

    /// <summary>Audit data (AuditEvent and the session record derived from it) needs `user/` or `system/AuditEvent.read`.</summary>
    public IResult? ReadAudit(HttpContext http, string resource = "AuditEvent")
    {
        if (Authenticate(http, plainText: false) is { } denied) return denied;
        var scopes = Caller(http).Scopes;
        return !Enforced || scopes.Has($"user/{resource}.read") || scopes.Has($"system/{resource}.read")
            ? null
            : Forbidden(http, false, $"The token has no `user/{resource}.read` or `system/{resource}.read` scope.");
    }

    /// <summary>Writing a session's whole log (import) is a system operation.</summary>
    public IResult? WriteSystem(HttpContext http)
    {
        if (Authenticate(http, plainText: false) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.Has("system/*.write") ? null : Forbidden(http, false, "The token has no `system/*.write` scope.");
    }

    /// <summary>Replaying into a topic needs the audit read scope (on the source) and a FHIRcast write scope for the target.</summary>
    public IResult? ReplayInto(HttpContext http, string target)
    {
        if ((ReadAudit(http) ?? Bound(http, target, plainText: false)) is { } denied) return denied;
        return !Enforced || Caller(http).Scopes.CanWriteAny ? null : Forbidden(http, false, "Replaying into a topic needs a `fhircast/...write` scope.");
    }

    /// <summary>
    /// The rules for the endpoints beyond FHIRcast's own, by path (the FHIRcast endpoints check in their handlers, where
    /// the event name is known).
    /// </summary>
    public IResult? ForPath(HttpContext http)
    {
        if (!Enforced) return null;
        var segments = http.Request.Path.Value?.Trim('/').Split('/') ?? [];
        return segments switch
        {
            ["fhir", "AuditEvent", ..] => ReadAudit(http) ?? Unbound(http),
            ["fhir", "Provenance", ..] => ReadAudit(http, "Provenance") ?? Unbound(http),
            ["api", "sessions"] or ["api", "replays", ..] => ReadAudit(http) ?? Unbound(http),
            ["api", "sessions", var topic, "audit" or "timeline" or "verify" or "export"] => ReadAudit(http) ?? Bound(http, Uri.UnescapeDataString(topic), false),
            ["api", "sessions", var topic, "events" or "context"] => ReadSession(http, Uri.UnescapeDataString(topic)),
            ["api", "sessions", _, "import"] => WriteSystem(http) ?? Unbound(http),
            ["api", "sessions", var source, "replay"] => ReadAudit(http) ?? Bound(http, Uri.UnescapeDataString(source), false),
            _ => null,
        };
    }

    /// <summary>Searches across sessions are for tokens that are not bound to one topic.</summary>
    private IResult? Unbound(HttpContext http) => Caller(http).BoundTopic is null
        ? null
        : Forbidden(http, false, "A token bound to one topic (`hub.topic` claim) can read only that session, under /api/sessions/{topic}/.");

    public IResult? Authenticate(HttpContext http, bool plainText)
    {
        if (!Enforced || http.User.Identity?.IsAuthenticated == true) return null;
        var hadToken = http.Request.Headers.Authorization.Count > 0;
        http.Response.Headers.WWWAuthenticate = hadToken ? "Bearer error=\"invalid_token\"" : "Bearer";
        const string message = "A valid bearer token is required (Authorization: Bearer <token>); it is missing, expired, not yet valid, or not from this hub's issuer and audience.";
        Audited(http, StatusCodes.Status401Unauthorized, message, null);
        return plainText
            ? PlainText.Error(StatusCodes.Status401Unauthorized, message)
            : OperationOutcomes.Result(StatusCodes.Status401Unauthorized, OperationOutcome.IssueType.Login, message);
    }

    private IResult? Bound(HttpContext http, string topic, bool plainText)
    {
        var bound = Caller(http).BoundTopic;
        return !Enforced || bound is null || bound == topic
            ? null
            : Forbidden(http, plainText, $"The token is bound to another topic (`hub.topic` claim) and cannot be used for '{topic}'.");
    }

    public IResult Forbidden(HttpContext http, bool plainText, string message)
    {
        Audited(http, StatusCodes.Status403Forbidden, message, Caller(http).ClientId);
        return plainText
            ? PlainText.Error(StatusCodes.Status403Forbidden, message)
            : OperationOutcomes.Result(StatusCodes.Status403Forbidden, OperationOutcome.IssueType.Forbidden, message);
    }

    /// <summary>Every 401 and 403 is itself audited, off the topic streams like any rejected request (rulings.md 11).</summary>
    private void Audited(HttpContext http, int status, string reason, string? agent) =>
        audit.Write(Audit.OffStreamAudit.RejectedRequest(http, status, status == StatusCodes.Status401Unauthorized ? "unauthenticated" : "forbidden",
            $"{http.Request.Method} {http.Request.Path}: {reason}", null, agent, AuditEvent.AuditEventAction.E));
}
