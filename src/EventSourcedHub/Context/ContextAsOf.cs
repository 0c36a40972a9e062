using System.Globalization;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using Marten;

namespace EventSourcedHub.Context;

/// <summary>
/// `GET /api/sessions/{topic}/context?version={n}` or `?at={ISO time}`: the get-current-context body as it was then,
/// by folding the topic's stream up to that point. `at` compares with the hub's commit time (rulings.md 17).
/// </summary>
public static class ContextAsOf
{
    public static async Task<IResult> HandleAsync(HttpContext http, string topic, IDocumentStore store)
    {
        var query = http.Request.Query;
        var hasVersion = query.TryGetValue("version", out var versionText);
        var hasAt = query.TryGetValue("at", out var atText);
        if (hasVersion == hasAt || versionText.Count > 1 || atText.Count > 1)
            return OperationOutcomes.Invalid("Give exactly one of `version` (a stream version) or `at` (an ISO 8601 date-time).");
        long version = 0;
        DateTimeOffset at = default;
        if (hasVersion && (!long.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out version) || version < 1))
            return OperationOutcomes.Invalid("`version` must be a whole number, 1 or more.");
        if (hasAt && !DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at))
            return OperationOutcomes.Invalid("`at` must be an ISO 8601 date-time, e.g. 2025-03-01T14:58:45Z.");

        await using var session = store.QuerySession();
        var current = await session.LoadAsync<TopicSession>(topic, http.RequestAborted);
        if (current is null) return OperationOutcomes.NotFound($"Unknown topic '{topic}'.");
        if (hasVersion && version > current.Version)
            return OperationOutcomes.NotFound($"Topic '{topic}' has {current.Version} events; version {version} does not exist yet.");

        var past = hasVersion
            ? await session.Events.AggregateStreamAsync<TopicSession>(topic, version: version, token: http.RequestAborted)
            : await session.Events.AggregateStreamAsync<TopicSession>(topic, timestamp: at.ToUniversalTime(), token: http.RequestAborted);
        if (past is null) return OperationOutcomes.NotFound($"Topic '{topic}' did not exist yet at {at:O}.");
        http.Response.Headers["X-Stream-Version"] = past.Version.ToString(CultureInfo.InvariantCulture);
        return Results.Content(CurrentContext.Render(past), "application/json", System.Text.Encoding.UTF8);
    }
}
