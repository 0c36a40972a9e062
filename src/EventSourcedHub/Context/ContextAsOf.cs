using EventSourcedHub.Http;
using System.Globalization;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Storage;
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
            return Answers.Invalid("Give exactly one of `version` (a stream version) or `at` (an ISO 8601 date-time).");
        long version = 0;
        DateTimeOffset at = default;
        if (hasVersion && (!long.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out version) || version < 1))
            return Answers.Invalid("`version` must be a whole number, 1 or more.");
        if (hasAt && !DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at))
            return Answers.Invalid("`at` must be an ISO 8601 date-time, e.g. 2025-03-01T14:58:45Z.");

        await using var session = store.QuerySession();
        var current = await session.Events.FetchStreamStateAsync(topic, http.RequestAborted);
        if (current is null) return Answers.NotFound($"Unknown topic '{topic}'.");
        if (hasVersion && version > current.Version)
            return Answers.NotFound($"Topic '{topic}' has {current.Version} events; version {version} does not exist yet.");

        if (hasAt)
        {
            // The last event recorded (committed) at or before `at`; the read then goes through the snapshots.
            var utc = at.ToUniversalTime();
            var recorded = await session.Events.QueryAllRawEvents().Where(e => e.StreamKey == topic && e.Timestamp <= utc)
                .OrderByDescending(e => e.Version).Select(e => e.Version).FirstOrDefaultAsync(http.RequestAborted);
            if (recorded == 0) return Answers.NotFound($"Topic '{topic}' did not exist yet at {at:O}.");
            version = recorded;
        }
        var past = await TopicSnapshots.AsOfAsync(session, topic, version, http.RequestAborted);
        if (past is null) return Answers.NotFound($"Topic '{topic}' has no version {version}.");
        http.Response.Headers["X-Stream-Version"] = past.Version.ToString(CultureInfo.InvariantCulture);
        return Results.Content(CurrentContext.Render(past), "application/json", System.Text.Encoding.UTF8);
    }
}
