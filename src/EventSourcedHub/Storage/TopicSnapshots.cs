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
    /// <summary>The snapshots due while <paramref name="events"/> are appended after <paramref name="state"/>.</summary>
    public static IEnumerable<TopicSessionSnapshot> Due(string topic, TopicSession? state, long version, IEnumerable<object> events, int interval)
    {
        var current = state ?? TopicSession.Start(topic);
        foreach (var e in events)
        {
            // A copy per version: Evolve may return the same instance, and a snapshot must not change after it is taken.
            current = TopicSession.Evolve(current, e) with { Version = ++version };
            if (version % interval == 0)
                yield return new TopicSessionSnapshot { Id = TopicSessionSnapshot.KeyFor(topic, version), Topic = topic, Version = version, State = current };
        }
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
        IReadOnlyList<string> topics;
        await using (var query = store.QuerySession())
            topics = await query.Query<TopicSession>().Select(s => s.Id).ToListAsync(ct);
        var written = 0;
        foreach (var topic in topics)
        {
            await using var query = store.QuerySession();
            var events = await query.Events.FetchStreamAsync(topic, token: ct);
            await using var session = store.LightweightSession();
            foreach (var snapshot in Due(topic, null, 0, events.Select(e => e.Data), interval))
            {
                session.Store(snapshot);
                written++;
            }
            await session.SaveChangesAsync(ct);
        }
        return written;
    }
}
