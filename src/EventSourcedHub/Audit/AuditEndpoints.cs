using Marten;

namespace EventSourcedHub.Audit;

/// <summary>The audit surface: per-session audit, timeline and chain verification, and a small FHIR REST API (docs/audit.md).</summary>
public static class AuditEndpoints
{
    public static void MapAudit(this WebApplication app)
    {
        app.MapGet("/api/sessions/{topic}/audit", (HttpContext http, string topic, IQuerySession query, AuditWriter audit, CancellationToken ct) =>
            Read(http, audit, "session-audit", topic, () => AuditApi.SessionAuditAsync(topic, http.Request, query, ct)));
        app.MapGet("/api/sessions/{topic}/timeline", (HttpContext http, string topic, IQuerySession query, AuditWriter audit, CancellationToken ct) =>
            Read(http, audit, "session-timeline", topic, () => AuditApi.TimelineAsync(topic, query, ct)));
        app.MapGet("/api/sessions/{topic}/verify", (HttpContext http, string topic, IDocumentStore store, AuditWriter audit, CancellationToken ct) =>
            Read(http, audit, "session-verify", topic, () => VerifyChain.HandleAsync(topic, store, ct)));

        app.MapGet("/fhir/metadata", (HttpRequest request) => AuditMetadata.Handle(request));
        app.MapGet("/fhir/AuditEvent", (HttpContext http, IQuerySession query, AuditWriter audit, CancellationToken ct) =>
            Read(http, audit, "audit-query", null, () => AuditApi.SearchAuditEventsAsync(http.Request, query, ct)));
        app.MapGet("/fhir/AuditEvent/{id}", (HttpContext http, string id, IQuerySession query, AuditWriter audit, CancellationToken ct) =>
            Read(http, audit, "audit-read", null, () => AuditApi.ReadAuditEventAsync(id, query, ct)));
        app.MapGet("/fhir/Provenance", (HttpContext http, IQuerySession query, AuditWriter audit, CancellationToken ct) =>
            Read(http, audit, "provenance-query", null, () => AuditApi.SearchProvenanceAsync(http.Request, query, ct)));
        app.MapGet("/fhir/Provenance/{id}", (HttpContext http, string id, IQuerySession query, AuditWriter audit, CancellationToken ct) =>
            Read(http, audit, "provenance-read", null, () => AuditApi.ReadProvenanceAsync(id, query, ct)));
    }

    /// <summary>Every audit query is itself audited (action R), off the request path (rulings.md 12).</summary>
    private static async Task<IResult> Read(HttpContext http, AuditWriter audit, string what, string? topic, Func<Task<IResult>> handle)
    {
        // The audit trail is written off the write path: wait (briefly) until it holds every event acknowledged so far.
        await http.RequestServices.GetRequiredService<AuditTrail>().CaughtUpAsync(topic, TimeSpan.FromSeconds(5), http.RequestAborted);
        var result = await handle();
        var status = (result as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status200OK;
        audit.Write(OffStreamAudit.ReadRequest(http, "audit-query", what, topic,
            $"{http.Request.Method} {http.Request.Path}{http.Request.QueryString} -> {status}", status >= 400 ? "4" : "0"));
        return result;
    }
}
