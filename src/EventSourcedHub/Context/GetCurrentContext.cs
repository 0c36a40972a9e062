using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using Marten;

namespace EventSourcedHub.Context;

/// <summary>`GET {hub}/{topic}` (HUB-GCC-*): one read of the topic's inline-projected session.</summary>
public static class GetCurrentContext
{
    public static async Task<IResult> HandleAsync(HttpContext http, string topic, IQuerySession query, Security.Access access, CancellationToken ct)
    {
        if (access.ReadSession(http, topic) is { } denied) return denied;
        var session = await query.LoadAsync<TopicSession>(topic, ct);
        if (session is null)
            return OperationOutcomes.NotFound($"Unknown topic '{topic}'.");
        return Results.Content(CurrentContext.Render(session), "application/json", System.Text.Encoding.UTF8);
    }
}
