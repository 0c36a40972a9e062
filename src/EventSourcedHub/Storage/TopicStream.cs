using EventSourcedHub.Domain;
using Marten;

namespace EventSourcedHub.Storage;

/// <summary>Events appended to a topic's stream in one commit; the first has stream version <see cref="FirstVersion"/>.</summary>
public sealed record Appended(string Topic, long FirstVersion, IReadOnlyList<object> Events)
{
    public long LastVersion => FirstVersion + Events.Count - 1;

    /// <summary>When this process learned of the commit (a Stopwatch timestamp): its own commit returned, or another process's NOTIFY was handled.</summary>
    public long KnownAt { get; } = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>The trace of the append that committed these events, if this process traced it (Observability/HubTracing).</summary>
    public System.Diagnostics.ActivityContext Trace { get; } = System.Diagnostics.Activity.Current?.Context ?? default;
}

/// <summary>Too many writers raced on one topic; the client should retry (503 with Retry-After, rulings.md 8).</summary>
public sealed class TopicBusyException(string topic) : Exception($"Topic '{topic}' is busy; retry shortly.");

/// <summary>
/// Told of every commit of a topic's events, right after it, in the committing writer's turn: distribution and the audit
/// trail register one each at start-up, so storage calls into neither.
/// </summary>
public interface ICommitObserver
{
    /// <summary>Must not block: hand the work over and return.</summary>
    void Committed(Appended appended);
}

/// <summary>
/// The one write path of the hub: decide on the topic's state, append with the stream version as the arbiter, commit,
/// and only then hand the committed events over. A writer that loses a race reads the stored state and decides again.
/// </summary>
/// <remarks>
/// Writers to one topic in this process take turns, so they do not starve each other with version conflicts; the
/// stream's expected version still decides between processes sharing the database. Decisions run in parallel across
/// topics; the commits are gathered by <see cref="GroupCommit"/>. Nothing is loaded or folded inside the commit: the
/// writer builds the session documents its events change (<see cref="TopicDocuments"/>) from the state it decided on.
/// </remarks>
public sealed class TopicStream(IDocumentStore store, GroupCommit commits, IEnumerable<ICommitObserver> observers, IEnumerable<ISessionDocuments> slices,
    Microsoft.Extensions.Options.IOptions<HubOptions> options) : IRemoteCommitObserver, IDisposable
{
    private const int MaxAttempts = 8;
    private readonly ISessionDocuments[] _slices = slices.ToArray();
    private readonly ICommitObserver[] _observers = observers.ToArray();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _turns = new();

    // The state this process last committed per topic: a first attempt decides on it instead of reading the store.
    // It can only be stale when another process appended meanwhile, and then an accepted decision fails the expected
    // version check at commit and a rejection is decided again from the store, so it never makes a decision wrong.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TopicSession> _committed = new();

    // Idle topics are forgotten (their turn and last committed state), so memory follows the active topics only; the
    // state is read from the store again on the next append.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _lastUsed = new();
    private Timer? _eviction;

    /// <summary>Another process appended to the topic: the next decision reads the store instead of losing a race.</summary>
    public void CommittedElsewhere(string topic, long lastVersion)
    {
        if (_committed.TryGetValue(topic, out var state) && state.Version < lastVersion) _committed.TryRemove(topic, out _);
    }

    public void CatchUp() => _committed.Clear();

    public delegate Task<Decision<object[]>> Decide(TopicSession? state, IQuerySession session, CancellationToken ct);

    /// <param name="headers">Metadata stored with every appended event (e.g. the source event of a replayed one).</param>
    public async Task<Decision<Appended>> AppendAsync(string topic, Decide decide, CancellationToken ct, IReadOnlyDictionary<string, object>? headers = null)
    {
        using var tracing = Observability.HubTracing.StartAppend();
        if (_eviction is null)
        {
            var timer = new Timer(_ => EvictIdle(), null, EvictionPeriod, EvictionPeriod);
            if (Interlocked.CompareExchange(ref _eviction, timer, null) is not null) timer.Dispose();
        }
        SemaphoreSlim turn;
        while (true)
        {
            turn = _turns.GetOrAdd(topic, _ => new SemaphoreSlim(1, 1));
            await turn.WaitAsync(ct);
            // An eviction may have retired this turn while we waited for it: take the topic's current one instead.
            if (_turns.TryGetValue(topic, out var current) && current == turn) break;
            turn.Release();
        }
        _lastUsed[topic] = Environment.TickCount64;
        try
        {
            for (var attempt = 1; attempt <= MaxAttempts; attempt++)
            {
                if (await AppendOnceAsync(topic, decide, headers, trustCommitted: attempt == 1, ct) is { } decision)
                {
                    if (decision.Value is { Events.Count: > 0 } appended)
                    {
                        foreach (var observer in _observers) observer.Committed(appended);
                    }
                    return decision;
                }
                // Another process appended to this topic first: back off a little, more after each lost race.
                await Task.Delay(Random.Shared.Next(1, 5 * attempt * attempt), ct);
            }
            throw new TopicBusyException(topic);
        }
        finally
        {
            turn.Release();
        }
    }

    private TimeSpan EvictionPeriod => TimeSpan.FromSeconds(Math.Clamp(options.Value.IdleTopicSeconds / 2.0, 0.5, 60));

    /// <summary>Forgets topics not appended to for `Hub:IdleTopicSeconds`, taking each one's turn so no writer is inside.</summary>
    internal void EvictIdle()
    {
        var before = Environment.TickCount64 - options.Value.IdleTopicSeconds * 1000L;
        foreach (var (topic, turn) in _turns)
        {
            if (_lastUsed.GetValueOrDefault(topic) > before || !turn.Wait(0)) continue;
            try
            {
                if (_lastUsed.GetValueOrDefault(topic) > before) continue;
                _turns.TryRemove(new KeyValuePair<string, SemaphoreSlim>(topic, turn));
                _committed.TryRemove(topic, out _);
                _lastUsed.TryRemove(topic, out _);
            }
            finally
            {
                turn.Release();
            }
        }
    }

    /// <summary>Topics whose per-topic state this process holds.</summary>
    internal int Held => _turns.Count;

    public void Dispose() => _eviction?.Dispose();

    /// <returns>null when another writer won the race.</returns>
    private async Task<Decision<Appended>?> AppendOnceAsync(string topic, Decide decide, IReadOnlyDictionary<string, object>? headers,
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
                state = await TopicDocuments.LoadAsync(session, topic, ct);
                decision = await decide(state, session, ct);
            }
            if (decision.IsRejected) return decision.Rejection!;
            var events = decision.Value!;
            var version = state?.Version ?? 0;
            if (events.Length == 0) return new Appended(topic, version + 1, events);
            (after, var due) = TopicSnapshots.Advance(topic, state, version, events, options.Value.SnapshotInterval);
            pending = new PendingAppend(topic, version, events, TopicDocuments.Changes(state, after, events, _slices), due, headers);
        }
        try
        {
            // Not cancellable: once queued, the append may commit, and this writer keeps its turn until it knows.
            using var committing = Observability.HubTracing.StartCommit();
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
}
