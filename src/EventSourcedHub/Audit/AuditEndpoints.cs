using Marten;

namespace EventSourcedHub.Audit;

/// <summary>The audit surface: per-session audit, timeline and chain verification, and a small FHIR REST API (docs/audit.md).</summary>
public static class AuditEndpoints
{
    public static void MapAudit(this WebApplication app)
    {
        app.MapGet("/api/sessions/{topic}/audit", (string topic, HttpRequest request, IQuerySession query, CancellationToken ct) =>
            AuditApi.SessionAuditAsync(topic, request, query, ct));
        app.MapGet("/api/sessions/{topic}/timeline", (string topic, IQuerySession query, CancellationToken ct) => AuditApi.TimelineAsync(topic, query, ct));
        app.MapGet("/api/sessions/{topic}/verify", (string topic, IDocumentStore store, CancellationToken ct) => VerifyChain.HandleAsync(topic, store, ct));

        app.MapGet("/fhir/metadata", (HttpRequest request) => AuditMetadata.Handle(request));
        app.MapGet("/fhir/AuditEvent", (HttpRequest request, IQuerySession query, CancellationToken ct) => AuditApi.SearchAuditEventsAsync(request, query, ct));
        app.MapGet("/fhir/AuditEvent/{id}", (string id, IQuerySession query, CancellationToken ct) => AuditApi.ReadAuditEventAsync(id, query, ct));
        app.MapGet("/fhir/Provenance", (HttpRequest request, IQuerySession query, CancellationToken ct) => AuditApi.SearchProvenanceAsync(request, query, ct));
        app.MapGet("/fhir/Provenance/{id}", (string id, IQuerySession query, CancellationToken ct) => AuditApi.ReadProvenanceAsync(id, query, ct));
    }
}
