using EventSourcedHub.Audit;
using EventSourcedHub.Channels;
using EventSourcedHub.Domain;
using Marten;

namespace EventSourcedHub.Storage;

/// <summary>Events appended to a topic's stream in one commit; the first has stream version <see cref="FirstVersion"/>.</summary>
public sealed record Appended(string Topic, long FirstVersion, IReadOnlyList<object> Events)
{
    public long LastVersion => FirstVersion + Events.Count - 1;
}

/// <summary>Too many writers raced on one topic; the client should retry (503 with Retry-After, rulings.md 8).</summary>
public sealed class TopicBusyException(string topic) : Exception($"Topic '{topic}' is busy; retry shortly.");

/// <summary>
/// The one write path of the hub: read the topic's state, decide, append with the stream version as the arbiter, commit,
/// and only then hand the committed events to distribution. A writer that loses a race reads again and decides again.
/// </summary>
/// <remarks>
/// Writers to one topic in this process take turns, so they do not starve each other with version conflicts; the
/// stream's expected version still decides between processes sharing the database. Reads and decisions run in parallel
/// across topics; the commits are gathered by <see cref="GroupCommit"/>.
/// </remarks>
public sealed class TopicStream(IDocumentStore store, GroupCommit commits, Distribution distribution, Microsoft.Extensions.Options.IOptions<HubOptions> options)
{
    private const int OptimisticAttempts = 3;
    private const int MaxAttempts = 8;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _turns = new();

    // The state this process last committed per topic: a first attempt decides on it instead of reading the store.
    // It can only be stale when another process appended meanwhile, and then an accepted decision fails the expected
    // version check at commit and a rejection is decided again from the store, so it never makes a decision wrong.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TopicSession> _committed = new();

    public delegate Task<Decision<object[]>> Decide(TopicSession? state, IQuerySession session, CancellationToken ct);

    /// <param name="headers">Metadata stored with every appended event (e.g. the source event of a replayed one).</param>
    public async Task<Decision<Appended>> AppendAsync(string topic, Decide decide, CancellationToken ct, IReadOnlyDictionary<string, object>? headers = null)
    {
        var turn = _turns.GetOrAdd(topic, _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync(ct);
        try
        {
            for (var attempt = 1; attempt <= MaxAttempts; attempt++)
            {
                // After a few lost races (other hub processes on the same topic), wait for the stream's row lock instead.
                var outcome = attempt <= OptimisticAttempts
                    ? await AppendOptimisticAsync(topic, decide, headers, trustCommitted: attempt == 1, ct)
                    : await AppendExclusiveAsync(topic, decide, headers, ct);
                if (outcome is not { } decision)
                {
                    await Task.Delay(Random.Shared.Next(1, 5 * attempt), ct);
                    continue;
                }
                if (decision.Value is { Events.Count: > 0 } appended) distribution.Committed(appended);
                return decision;
            }
            throw new TopicBusyException(topic);
        }
        finally
        {
            turn.Release();
        }
    }

    /// <returns>null when another writer won the race.</returns>
    private async Task<Decision<Appended>?> AppendOptimisticAsync(string topic, Decide decide, IReadOnlyDictionary<string, object>? headers,
        bool trustCommitted, CancellationToken ct)
    {
        PendingAppend pending;
        TopicSession after;
        await using (var session = store.QuerySession())
        {
            var decision = default(Decision<object[]>);
            TopicSession? state = null;
            var fromMemory = trustCommitted && _committed.TryGetValue(topic, out state);
            if (fromMemory) decision = await decide(state, session, ct);
            if (!fromMemory || decision.IsRejected)
            {
                // The projected session carries the stream version it reflects: one read gives both.
                state = await session.LoadAsync<TopicSession>(topic, ct);
                decision = await decide(state, session, ct);
            }
            if (decision.IsRejected) return decision.Rejection!;
            var events = decision.Value!;
            var version = state?.Version ?? 0;
            if (events.Length == 0) return new Appended(topic, version + 1, events);
            (after, var due) = TopicSnapshots.Advance(topic, state, version, events, options.Value.SnapshotInterval);
            pending = new PendingAppend(topic, version, events, due, headers);
        }
        try
        {
            // Not cancellable: once queued, the append may commit, and this writer keeps its turn until it knows.
            await commits.CommitAsync(pending);
        }
        catch (Exception e) when (GroupCommit.IsLostRace(e))
        {
            _committed.TryRemove(topic, out _);
            return null;
        }
        _committed[topic] = after;
        return new Appended(topic, pending.ExpectedVersion + 1, pending.Events);
    }

    private async Task<Decision<Appended>?> AppendExclusiveAsync(string topic, Decide decide, IReadOnlyDictionary<string, object>? headers, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        foreach (var (key, value) in headers ?? new Dictionary<string, object>()) session.SetHeader(key, value);
        var stream = await session.Events.FetchForExclusiveWriting<TopicSession>(topic, ct);
        var decision = await decide(stream.Aggregate, session, ct);
        if (decision.IsRejected) return decision.Rejection!;
        var events = decision.Value!;
        var version = stream.CurrentVersion.GetValueOrDefault();
        var appended = new Appended(topic, version + 1, events);
        if (events.Length == 0) return appended;

        stream.AppendMany(events);
        var (after, due) = TopicSnapshots.Advance(topic, stream.Aggregate, version, events, options.Value.SnapshotInterval);
        session.Store(due);
        try
        {
            await session.SaveChangesAsync(ct);
        }
        catch (Exception e) when (GroupCommit.IsLostRace(e))
        {
            return null;
        }
        ChainLinkProjection.Of(store).Committed(topic, appended.LastVersion);
        _committed[topic] = after;
        return appended;
    }
}
