using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using EventSourcedHub.Channels;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using Marten;
using Npgsql;

namespace EventSourcedHub.Audit;

/// <summary>
/// How far a topic's audit trail is written: its events up to <see cref="Version"/> have their AuditEvent, Provenance and
/// chain link, and <see cref="Head"/> is the chain's last link. Written in the same transaction as those records.
/// </summary>
public sealed class AuditProgress
{
    /// <summary>The topic.</summary>
    public string Id { get; set; } = "";
    public long Version { get; set; }
    public string Head { get; set; } = HashChain.Genesis;

    /// <summary>
    /// The first version audited after the chain was found broken (its predecessor's link missing), and why; verify
    /// reports it. Null while the chain is whole.
    /// </summary>
    public long? BrokenAt { get; set; }
    public string? BrokenReason { get; set; }
}

/// <summary>A committed topic-stream event as stored: its `mt_events` row, with <see cref="Json"/> as PostgreSQL returns it.</summary>
/// <remarks><see cref="Actor"/> is who acted, as recorded in the event's headers (null when recorded without one).</remarks>
public sealed record RecordedEvent(string Topic, long Version, Guid Id, string Type, DateTimeOffset Timestamp, string Json, object? Data,
    Security.Actor? Actor = null);

/// <summary>
/// Writes the audit trail of every topic from the committed log, off the write path (rulings.md 29): one AuditEvent per
/// event, one Provenance per content change and one hash-chain link per event, in stream order per topic, with the
/// topic's <see cref="AuditProgress"/> in the same transaction. Commits in this process wake it at once; a sweep at start
/// and every few seconds finds whatever is behind (events appended before a crash or by another process), so every
/// acknowledged event gets its records after any crash.
/// </summary>
/// <remarks>
/// The chain link is computed from the stored row, exactly as verify recomputes it. Readers of the audit store call
/// <see cref="CaughtUpAsync"/> first, so an audit query sees every event acknowledged before it.
/// </remarks>
public sealed class AuditTrail(IDocumentStore store, AuditWriter writer, HubCluster cluster, ILogger<AuditTrail> logger)
    : BackgroundService, ICommitObserver, IRemoteCommitObserver
{
    private const int MaxOffStreamPerRound = 2000;
    private const int MaxTopicsPerRound = 256;
    private const int MaxEventsPerTopic = 500;
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(5);

    // Topics with committed events not yet audited, with the highest committed version known.
    private readonly ConcurrentDictionary<string, long> _behind = new();
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    // Commits signalled so far, and how many of them are audited: a reader waits until the second reaches the first.
    private long _signalled;
    private long _audited;
    private TaskCompletionSource _round = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Committed(Appended appended) => Mark(appended.Topic, appended.LastVersion);

    public void CommittedElsewhere(string topic, long lastVersion) => Mark(topic, lastVersion);

    public void CatchUp()
    {
        _sweepNow = true;
        _wake.Writer.TryWrite(true);
    }

    private volatile bool _sweepNow;

    private void Mark(string topic, long version)
    {
        // Only the leader writes the trail; it finds what it was not told of by its sweep when it takes over.
        if (!cluster.IsLeader) return;
        // The topic is marked before the signal is counted: a round that counted the signal also sees the topic.
        _behind.AddOrUpdate(topic, version, (_, known) => Math.Max(known, version));
        Interlocked.Increment(ref _signalled);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>How many commits of this process still wait for their audit records (the audit lag, in commits).</summary>
    public long Lag => Interlocked.Read(ref _signalled) - Interlocked.Read(ref _audited);

    /// <summary>
    /// Waits until every commit this process made before the call is audited, and with a <paramref name="topic"/> every
    /// event of that topic however it was appended, at most <paramref name="timeout"/>; after that the reader sees
    /// what is written so far.
    /// </summary>
    public async Task CaughtUpAsync(string? topic, TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            await cluster.FirstAttempt.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
            return;
        }
        if (!cluster.IsLeader) return;
        if (topic is not null) Mark(topic, 0);
        var target = Interlocked.Read(ref _signalled);
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var round = Volatile.Read(ref _round);
            if (Interlocked.Read(ref _audited) >= target) return;
            var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (left <= TimeSpan.Zero) return;
            try
            {
                await round.Task.WaitAsync(left, ct);
            }
            catch (TimeoutException)
            {
                return;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var term = await cluster.LeadershipAsync(stopping);
                using var leading = CancellationTokenSource.CreateLinkedTokenSource(stopping, term);
                await WriteWhileLeadingAsync(leading.Token);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
        }
    }

    /// <summary>One leadership term: a sweep first (whatever happened meanwhile), then every commit as it comes.</summary>
    private async Task WriteWhileLeadingAsync(CancellationToken stopping)
    {
        var nextSweep = 0L;
        var failures = 0;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (Stopwatch.GetTimestamp() >= nextSweep || _sweepNow)
                {
                    _sweepNow = false;
                    await SweepAsync(stopping);
                    nextSweep = Stopwatch.GetTimestamp() + (long)(SweepInterval.TotalSeconds * Stopwatch.Frequency);
                }
                var ticket = Interlocked.Read(ref _signalled);
                if (await RoundAsync(stopping)) Interlocked.Exchange(ref _audited, Math.Max(ticket, Interlocked.Read(ref _audited)));
                EndRound();
                failures = 0;
                if (_behind.IsEmpty)
                {
                    var untilSweep = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), nextSweep);
                    if (untilSweep > TimeSpan.Zero)
                    {
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                        wait.CancelAfter(untilSweep);
                        try
                        {
                            await _wake.Reader.ReadAsync(wait.Token);
                        }
                        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
                        {
                            // Time to sweep.
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The database is away or a record could not be written: nothing is lost (the log has the events and the
                // topics stay marked); try again, less often while it keeps failing.
                failures++;
                logger.LogError(e, "Writing the audit trail failed ({Failures} in a row); retrying", failures);
                EndRound();
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * (1 << Math.Min(failures, 6)))), stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private void EndRound() => Interlocked.Exchange(ref _round, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Marks every topic whose stream is ahead of its audit trail.</summary>
    private async Task SweepAsync(CancellationToken ct)
    {
        const string progress = $"{HubStore.Schema}.mt_doc_auditprogress";
        await using var connection = store.Storage.Database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(
            $"""
             select s.id, s.version from {HubStore.Schema}.mt_streams s left join {progress} p on p.id = s.id
             where s.id <> 'mt_tombstone' and s.version > coalesce(p.version, 0)
             """, connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var (topic, version) = (reader.GetString(0), reader.GetInt64(1));
            _behind.AddOrUpdate(topic, version, (_, known) => Math.Max(known, version));
        }
    }

    /// <returns>Whether every topic that was behind when the round began is now audited.</returns>
    private async Task<bool> RoundAsync(CancellationToken ct)
    {
        var marked = _behind.Keys.ToList();
        if (marked.Count == 0) return true;
        var complete = marked.Count <= MaxTopicsPerRound;
        var targets = new Dictionary<string, long>();
        foreach (var topic in marked.Take(MaxTopicsPerRound))
        {
            if (_behind.TryRemove(topic, out var version)) targets[topic] = version;
        }
        try
        {
            complete &= await WriteAsync(targets, ct);
        }
        catch
        {
            foreach (var (topic, version) in targets) _behind.AddOrUpdate(topic, version, (_, known) => Math.Max(known, version));
            throw;
        }
        return complete;
    }

    /// <returns>Whether every topic in <paramref name="targets"/> is now audited up to its latest event.</returns>
    private async Task<bool> WriteAsync(Dictionary<string, long> targets, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        var progress = (await session.LoadManyAsync<AuditProgress>(ct, targets.Keys)).ToDictionary(p => p.Id);
        foreach (var topic in targets.Keys.Where(t => !progress.ContainsKey(t)))
            progress[topic] = await StartAsync(session, topic, ct);

        var events = await ReadAsync(progress.Values.ToList(), ct);
        var complete = true;
        foreach (var (topic, recorded) in events)
        {
            if (recorded.Count == MaxEventsPerTopic)
            {
                complete = false;
                _behind.AddOrUpdate(topic, targets[topic], (_, known) => Math.Max(known, targets[topic]));
            }
        }
        if (events.Count == 0) return complete;

        // Receipts, rejected requests and read audits queued meanwhile share this transaction (issue 11).
        var offStream = writer.TakeQueued(MaxOffStreamPerRound);
        var names = await SubscriberNamesAsync(session, events.SelectMany(e => e.Value), ct);
        foreach (var (topic, recorded) in events)
        {
            var trail = progress[topic];
            if (recorded[0].Version != trail.Version + 1)
            {
                // Rows are missing before this one: chained on, but said loudly; verify finds the gap.
                logger.LogError("Audit trail of topic {Topic}: expected event version {Expected}, found {Found}: stored events are missing",
                    topic, trail.Version + 1, recorded[0].Version);
            }
            foreach (var e in recorded)
            {
                if (e.Data is not null)
                {
                    var subscriber = SubscriberOf(e.Data, names);
                    session.Store(AuditEvents.Record(e, subscriber, e.Actor));
                    if (e.Data is ContentUpdated update) session.Store(ProvenanceRecords.For(e, update, AgentOf(e, subscriber)).ToArray());
                }
                else
                {
                    logger.LogError("Event {Version} of topic {Topic} has the unknown type {Type}: chained, but no AuditEvent is written", e.Version, e.Topic, e.Type);
                }
                session.Store(Link(e, trail.Head));
                trail.Head = HashChain.Link(trail.Head, HashChain.ContentHash(e.Version, e.Type, e.Timestamp, e.Json));
                trail.Version = e.Version;
            }
            session.Store(trail);
        }
        if (offStream.Count > 0) session.InsertObjects(offStream);
        try
        {
            await session.SaveChangesAsync(ct);
        }
        catch when (offStream.Count > 0)
        {
            // Whatever failed, the queued documents go back to the writer's own path (which isolates a bad one); the
            // trail tries again without them.
            writer.Return(offStream);
            throw;
        }
        return complete;
    }

    private static ChainLink Link(RecordedEvent e, string previous)
    {
        var contentHash = HashChain.ContentHash(e.Version, e.Type, e.Timestamp, e.Json);
        return new ChainLink
        {
            Id = ChainLink.KeyFor(e.Topic, e.Version),
            Topic = e.Topic,
            StreamVersion = e.Version,
            EventType = e.Type,
            ContentHash = contentHash,
            Hash = HashChain.Link(previous, contentHash),
        };
    }

    /// <summary>
    /// A topic seen for the first time: its trail starts at the beginning, or after the last chain link a hub of an
    /// earlier release wrote in the events' own transactions. When the topic was audited beyond its last link (its
    /// progress and links were deleted), the predecessor is missing: that is an error, logged and kept for verify,
    /// never a silent new chain from the genesis.
    /// </summary>
    private async Task<AuditProgress> StartAsync(IQuerySession session, string topic, CancellationToken ct)
    {
        var last = await session.Query<ChainLink>().Where(l => l.Topic == topic).OrderByDescending(l => l.StreamVersion).FirstOrDefaultAsync(ct);
        var progress = new AuditProgress { Id = topic, Version = last?.StreamVersion ?? 0, Head = last?.Hash ?? HashChain.Genesis };
        var audited = await session.Query<AuditRecord>().Where(r => r.Topic == topic && r.StreamVersion > progress.Version)
            .OrderByDescending(r => r.StreamVersion).Select(r => r.StreamVersion).FirstOrDefaultAsync(ct);
        if (audited > progress.Version)
        {
            progress.BrokenAt = audited + 1;
            progress.BrokenReason = $"the chain link of version {audited} (the predecessor of version {audited + 1}) is missing; the topic's audit " +
                                    $"progress was lost, its last link found is of version {progress.Version}";
            logger.LogError("Audit trail of topic {Topic}: {Reason}. Its events after version {Version} are chained after the last link found; verify reports the break",
                topic, progress.BrokenReason, audited);
            progress.Version = audited;
            // Chained on from a head that records the break, so the links after it can never pass for a chain of their own.
            progress.Head = HashChain.Link(progress.Head, $"missing predecessor of version {audited + 1}");
        }
        return progress;
    }

    /// <summary>The events after each topic's trail, at most <see cref="MaxEventsPerTopic"/> per topic, in one query.</summary>
    private async Task<Dictionary<string, List<RecordedEvent>>> ReadAsync(IReadOnlyList<AuditProgress> trails, CancellationToken ct)
    {
        await using var connection = store.Storage.Database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(
            $"""
             select e.stream_id, e.version, e.id, e.type, e.timestamp, e.data::text, e.headers::text
             from unnest(@topics, @after) as t(topic, after)
             join {HubStore.Schema}.mt_events e on e.stream_id = t.topic and e.version > t.after and e.version <= t.after + {MaxEventsPerTopic}
             order by e.stream_id, e.version
             """, connection);
        command.Parameters.AddWithValue("topics", trails.Select(t => t.Id).ToArray());
        command.Parameters.AddWithValue("after", trails.Select(t => t.Version).ToArray());
        var serializer = store.Options.Serializer();
        var events = new Dictionary<string, List<RecordedEvent>>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var type = reader.GetString(3);
            var json = reader.GetString(5);
            var data = HubStore.EventTypes.TryGetValue(type, out var clrType)
                ? serializer.FromJson(clrType, new MemoryStream(Encoding.UTF8.GetBytes(json)))
                : null;
            var actor = reader.IsDBNull(6) ? null : Security.Actor.FromHeaders(reader.GetString(6));
            var e = new RecordedEvent(reader.GetString(0), reader.GetInt64(1), reader.GetGuid(2), type, reader.GetFieldValue<DateTimeOffset>(4), json, data, actor);
            if (!events.TryGetValue(e.Topic, out var list)) events[e.Topic] = list = [];
            list.Add(e);
        }
        return events;
    }

    /// <summary>The subscriber names of the endpoints that subscription events name by id only (one read).</summary>
    private static async Task<Dictionary<string, string>> SubscriberNamesAsync(IQuerySession session, IEnumerable<RecordedEvent> events, CancellationToken ct)
    {
        var names = new Dictionary<string, string>();
        var unnamed = new HashSet<string>();
        foreach (var e in events)
        {
            switch (e.Data)
            {
                case Subscribed s:
                    names[s.EndpointId] = s.SubscriberName;
                    break;
                case SubscriptionRenewed r:
                    names[r.EndpointId] = r.SubscriberName;
                    break;
                case ISubscriptionEvent other:
                    unnamed.Add(other.EndpointId);
                    break;
            }
        }
        unnamed.ExceptWith(names.Keys);
        if (unnamed.Count > 0)
        {
            foreach (var endpoint in await session.LoadManyAsync<ChannelEndpoint>(ct, unnamed)) names[endpoint.Id] = endpoint.SubscriberName;
        }
        return names;
    }

    private static ContentUpdated WithActivities(TopicSession before, ContentUpdated update)
    {
        if (update.Changes.All(c => c.Activity is not null)) return update;
        var anchor = before.FindAnchor(update.AnchorType, update.AnchorId);
        return update with
        {
            Changes = update.Changes.Select(c => c.Activity is not null ? c : c with
            {
                Activity = c.Method == ContentChange.Delete ? ContentChange.Delete
                    : anchor?.Shares($"{c.ResourceType}/{c.ResourceId}") == true ? ContentChange.Update : ContentChange.Create,
            }).ToArray(),
        };
    }

    /// <summary>The author of a content change: the client recorded with the event, else (an earlier release) `anonymous`.</summary>
    private static Security.Actor AgentOf(RecordedEvent e, string? subscriber) => e.Actor ?? new Security.Actor(subscriber ?? AuditEvents.Anonymous);

    private static string? SubscriberOf(object data, Dictionary<string, string> names) => data switch
    {
        Subscribed s => s.SubscriberName,
        SubscriptionRenewed r => r.SubscriberName,
        SyncErrorRaised e => e.SubscriberName,
        ISubscriptionEvent s => names.GetValueOrDefault(s.EndpointId),
        _ => null,
    };

    /// <summary>
    /// Rewrites every topic's AuditEvents and Provenance from the log (the `rebuild` command), leaving the hash chain
    /// and the trail's progress alone: recomputing the chain from the stored rows would bless any edit made to them.
    /// </summary>
    public static async Task RebuildRecordsAsync(IDocumentStore store, CancellationToken ct)
    {
        await using (var clean = store.LightweightSession())
        {
            // Off-stream records (rejected requests, reads) have no stream version and are not derived from the log.
            clean.DeleteWhere<AuditRecord>(r => r.StreamVersion > 0);
            clean.DeleteWhere<ProvenanceRecord>(p => p.StreamVersion > 0);
            await clean.SaveChangesAsync(ct);
        }
        foreach (var topic in await HubStore.TopicsAsync(store, ct))
        {
            var rows = await VerifyChain.ReadEventsAsync(store, topic, ct);
            await using var session = store.LightweightSession();
            var events = (await session.Events.FetchStreamAsync(topic, token: ct)).ToDictionary(e => e.Version);
            var recorded = rows.Where(r => events.ContainsKey(r.Version))
                .Select(r => new RecordedEvent(topic, r.Version, events[r.Version].Id, r.Type, r.Timestamp, r.Json, events[r.Version].Data,
                    Security.Actor.FromHeaders(events[r.Version].Headers))).ToList();
            var names = await SubscriberNamesAsync(session, recorded, ct);
            // Folded along, for the updates an earlier release recorded without the activity of their changes.
            var state = TopicSession.Start(topic);
            foreach (var e in recorded.Where(e => e.Data is not null))
            {
                var subscriber = SubscriberOf(e.Data!, names);
                session.Store(AuditEvents.Record(e, subscriber, e.Actor));
                if (e.Data is ContentUpdated update)
                    session.Store(ProvenanceRecords.For(e, WithActivities(state, update), AgentOf(e, subscriber)).ToArray());
                state = TopicSession.Evolve(state, e.Data!);
            }
            await session.SaveChangesAsync(ct);
        }
    }
}
