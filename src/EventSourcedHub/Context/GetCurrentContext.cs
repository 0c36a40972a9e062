using EventSourcedHub.Audit;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using Marten;

namespace EventSourcedHub.Context;

/// <summary>`GET {hub}/{topic}` (HUB-GCC-*): two key reads: the topic's head and its current anchor.</summary>
public static class GetCurrentContext
{
    public static async Task<IResult> HandleAsync(HttpContext http, string topic, IQuerySession query, Security.Access access, AuditWriter audit)
    {
        if (access.ReadSession(http, topic) is { } denied) return denied;
        var session = await Storage.TopicDocuments.LoadCurrentAsync(query, topic, http.RequestAborted);
        // A read audit (IRA RAD-153), off the request path and off the topic's stream (rulings.md 12).
        audit.Write(OffStreamAudit.ReadRequest(http, "get-current-context", "Get current context", topic,
            session is null ? "unknown topic" : $"context.versionId {session.Current?.VersionId ?? "(none: nothing is current)"}", session is null ? "4" : "0", "RAD-153", "Get Current Context"));
        if (session is null)
            return OperationOutcomes.NotFound($"Unknown topic '{topic}'.");
        return Results.Content(CurrentContext.Render(session), "application/json", System.Text.Encoding.UTF8);
    }
}
