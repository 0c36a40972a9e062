using Marten;

namespace EventSourcedHub.Audit;

/// <summary>The audit surface: per-session audit, timeline and chain verification, and a small FHIR REST API.</summary>
public static class AuditEndpoints
{
    public static void MapAudit(this WebApplication app)
    {
        app.MapGet("/api/sessions/{topic}/verify", (string topic, IDocumentStore store, CancellationToken ct) => VerifyChain.HandleAsync(topic, store, ct));
    }
}
