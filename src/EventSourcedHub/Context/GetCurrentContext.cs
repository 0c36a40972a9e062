using EventSourcedHub.Domain;
using EventSourcedHub.Http;
using Marten;

namespace EventSourcedHub.Context;

/// <summary>`GET {hub}/{topic}` (HUB-GCC-*): two key reads: the topic's head and its current anchor.</summary>
public static class GetCurrentContext
{
    public static async Task<IResult> HandleAsync(HttpContext http, string topic, IQuerySession query)
    {
        var session = await Storage.TopicDocuments.LoadCurrentAsync(query, topic, http.RequestAborted);
        if (session is null) return Answers.NotFound($"Unknown topic '{topic}'.");
        // What was read, for its audit (IRA RAD-153; Http/RequestAudit, off the topic's stream, rulings.md 12).
        RequestAudit.Details(http).ReadOutcome = $"context.versionId {session.Current?.VersionId ?? "(none: nothing is current)"}";
        return Results.Content(CurrentContext.Render(session), "application/json", System.Text.Encoding.UTF8);
    }
}
