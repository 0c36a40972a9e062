using EventSourcedHub.Domain;
using Marten;

namespace EventSourcedHub.Storage;

/// <summary>
/// The session's state at every `interval`-th stream version, written in the same transaction as the events that reach
/// it, so that time travel folds at most `interval` events (issue 5: context as of version 10,000 in under 50 ms).
/// Derived data: `rebuild` recomputes them from the log.
/// </summary>
public sealed class TopicSessionSnapshot
{
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public long Version { get; set; }
    public TopicSession State { get; set; } = new();

    public static string KeyFor(string topic, long version) => $"{topic}@{version}";
}

public static class TopicSnapshots
{
    /// <summary>
    /// The state once <paramref name="events"/> are appended after <paramref name="state"/> (at stream version
    /// <paramref name="version"/>), and the snapshots they make due on the way.
    /// </summary>
    public static (TopicSession State, TopicSessionSnapshot[] Due) Advance(string topic, TopicSession? state, long version, IEnumerable<object> events, int interval)
    {
        var current = state ?? TopicSession.Start(topic);
        var due = new List<TopicSessionSnapshot>();
        foreach (var e in events)
        {
            // A copy per version: Evolve may return the same instance, and a snapshot (or the state a decision was made
            // on) must not change afterwards.
            current = TopicSession.Evolve(current, e) with { Version = ++version };
            if (version % interval == 0)
                due.Add(new TopicSessionSnapshot { Id = TopicSessionSnapshot.KeyFor(topic, version), Topic = topic, Version = version, State = current });
        }
        return (current, due.ToArray());
    }

    /// <summary>The session as of <paramref name="version"/>: the nearest snapshot at or before it, plus the events after it.</summary>
    public static async Task<TopicSession?> AsOfAsync(IQuerySession session, string topic, long version, CancellationToken ct)
    {
        var snapshot = await session.Query<TopicSessionSnapshot>()
            .Where(s => s.Topic == topic && s.Version <= version)
            .OrderByDescending(s => s.Version)
            .FirstOrDefaultAsync(ct);
        if (snapshot is null) return await session.Events.AggregateStreamAsync<TopicSession>(topic, version: version, token: ct);
        if (snapshot.Version == version) return snapshot.State;
        return await session.Events.AggregateStreamAsync(topic, version: version, state: snapshot.State, fromVersion: snapshot.Version + 1, token: ct);
    }

    /// <summary>Recomputes every snapshot of every topic from the log (after the fold's code changed).</summary>
    public static async Task<int> RebuildAsync(IDocumentStore store, int interval, CancellationToken ct)
    {
        await store.Advanced.Clean.DeleteDocumentsByTypeAsync(typeof(TopicSessionSnapshot), ct);
        var topics = await HubStore.TopicsAsync(store, ct);
        var written = 0;
        foreach (var topic in topics)
        {
            await using var query = store.QuerySession();
            var events = await query.Events.FetchStreamAsync(topic, token: ct);
            await using var session = store.LightweightSession();
            var due = Advance(topic, null, 0, events.Select(e => e.Data), interval).Due;
            session.Store(due);
            written += due.Length;
            await session.SaveChangesAsync(ct);
        }
        return written;
    }
}
