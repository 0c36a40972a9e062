using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using Marten;

namespace EventSourcedHub.Context;

/// <summary>`GET {hub}/{topic}` (HUB-GCC-*): one read of the topic's inline-projected session.</summary>
public static class GetCurrentContext
{
    public static async Task<IResult> HandleAsync(string topic, IQuerySession query, CancellationToken ct)
    {
        var session = await query.LoadAsync<TopicSession>(topic, ct);
        if (session is null)
            return OperationOutcomes.NotFound($"Unknown topic '{topic}'.");
        return Results.Content(CurrentContext.Render(session), "application/json", System.Text.Encoding.UTF8);
    }
}
