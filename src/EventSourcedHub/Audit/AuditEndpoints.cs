using EventSourcedHub.Http;
using EventSourcedHub.Security;
using Marten;

namespace EventSourcedHub.Audit;

/// <summary>The audit surface: per-session audit, timeline and chain verification, and a small FHIR REST API (docs/audit.md).</summary>
public static class AuditEndpoints
{
    /// <param name="all">The hub's root group (access and stored-text filters).</param>
    /// <param name="sessions">`/api/sessions/{topic}` inside it.</param>
    public static void MapAudit(RouteGroupBuilder all, RouteGroupBuilder sessions)
    {
        sessions.MapGet("/audit", (HttpContext http, string topic, IQuerySession query, CancellationToken ct) =>
            Read(http, topic, () => AuditApi.SessionAuditAsync(topic, http.Request, query, ct))).Audited("session-audit", AccessRule.ReadSessionAudit);
        sessions.MapGet("/timeline", (HttpContext http, string topic, IQuerySession query, CancellationToken ct) =>
            Read(http, topic, () => AuditApi.TimelineAsync(topic, query, ct))).Audited("session-timeline", AccessRule.ReadSessionAudit);
        sessions.MapGet("/verify", (HttpContext http, string topic, IDocumentStore store, CancellationToken ct) =>
            Read(http, topic, () => VerifyChain.HandleAsync(topic, store, ct))).Audited("session-verify", AccessRule.ReadSessionAudit);

        all.MapGet("/fhir/metadata", (HttpRequest request) => AuditMetadata.Handle(request)).WithMetadata(new RequiresAccess(AccessRule.Open));
        all.MapGet("/fhir/AuditEvent", (HttpContext http, IQuerySession query, CancellationToken ct) =>
            Read(http, null, () => AuditApi.SearchAuditEventsAsync(http.Request, query, ct))).Audited("audit-query", AccessRule.ReadAudit);
        all.MapGet("/fhir/AuditEvent/{id}", (HttpContext http, string id, IQuerySession query, CancellationToken ct) =>
            Read(http, null, () => AuditApi.ReadAuditEventAsync(id, query, ct))).Audited("audit-read", AccessRule.ReadAudit);
        all.MapGet("/fhir/Provenance", (HttpContext http, IQuerySession query, CancellationToken ct) =>
            Read(http, null, () => AuditApi.SearchProvenanceAsync(http.Request, query, ct))).Audited("provenance-query", AccessRule.ReadProvenance);
        all.MapGet("/fhir/Provenance/{id}", (HttpContext http, string id, IQuerySession query, CancellationToken ct) =>
            Read(http, null, () => AuditApi.ReadProvenanceAsync(id, query, ct))).Audited("provenance-read", AccessRule.ReadProvenance);
        all.MapGet("/api/audit/dead-letters", (IQuerySession query, CancellationToken ct) => AuditApi.DeadLettersAsync(query, ct))
            .Audited("audit-dead-letters", AccessRule.ReadAudit);
    }

    /// <summary>Each request here is a read of audit data: audited (action R) by Http/RequestAudit, off the request path (rulings.md 12).</summary>
    private static RouteHandlerBuilder Audited(this RouteHandlerBuilder endpoint, string what, AccessRule rule) =>
        endpoint.WithMetadata(new AuditedRead("audit-query", what), new RequiresAccess(rule));

    private static async Task<IResult> Read(HttpContext http, string? topic, Func<Task<IResult>> handle)
    {
        // The audit trail is written off the write path: wait (briefly) until it holds every event acknowledged so far.
        await http.RequestServices.GetRequiredService<AuditTrail>().CaughtUpAsync(topic, TimeSpan.FromSeconds(5), http.RequestAborted);
        return await handle();
    }
}
