using System.Collections.Immutable;
using EventSourcedHub.Domain;
using Marten;

namespace EventSourcedHub.Storage;

/// <summary>
/// The head of a topic's session as stored: its subscriptions and which anchor is current. It exists from the topic's
/// first event on (a topic is known for good, rulings.md 5) and is written only by events that change it.
/// </summary>
public sealed class TopicHead
{
    /// <summary>The topic.</summary>
    public string Id { get; set; } = "";
    public ImmutableDictionary<string, Subscription> Subscriptions { get; set; } = ImmutableDictionary<string, Subscription>.Empty;

    /// <summary><see cref="TopicSession.AnchorKey"/> of the current anchor; null when the current context is empty.</summary>
    public string? CurrentKey { get; set; }
    public long Opens { get; set; }

    public static TopicHead Of(TopicSession state) => new() { Id = state.Id, Subscriptions = state.Subscriptions, CurrentKey = state.CurrentKey, Opens = state.Opens };
}

/// <summary>One open anchor of a topic as stored: an update or select of it writes this document alone (issue 11).</summary>
public sealed class StoredAnchor
{
    /// <summary>`{topic}\n{anchor key}`.</summary>
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public OpenAnchor Anchor { get; set; } = null!;

    public static string KeyFor(string topic, string anchorKey) => $"{topic}\n{anchorKey}";

    public static StoredAnchor Of(string topic, OpenAnchor anchor) => new() { Id = KeyFor(topic, anchor.Key), Topic = topic, Anchor = anchor };
}

/// <summary>
/// A slice's own documents derived from the session state, written by the writer in the commit of the events that
/// change them (e.g. the WebSocket endpoints, Channels/ChannelEndpoint.cs). Registered at start-up.
/// </summary>
public interface ISessionDocuments
{
    /// <summary>The document types this slice derives, for rebuilds.</summary>
    IReadOnlyList<Type> DocumentTypes { get; }

    /// <summary>The documents <paramref name="events"/> changed, from the state before (null: a new stream) and after them.</summary>
    IEnumerable<object> Changed(TopicSession? before, TopicSession after, IReadOnlyList<object> events);
}

/// <summary>What one append writes of the session's state, besides its events.</summary>
public sealed record StateChanges(object[] Store, string[] DeletedAnchors)
{
    public static readonly StateChanges None = new([], []);
}

/// <summary>
/// The session's state kept as documents the write path writes itself, from the state it decided on, in the commit of
/// the events (no projection loads and folds them inside the commit): one <see cref="TopicHead"/> and one
/// <see cref="StoredAnchor"/> per open anchor. An event writes only what it changed, so its cost does not depend on the
/// number of suspended anchors or on other anchors' content (rulings.md 29).
/// </summary>
public static class TopicDocuments
{
    /// <summary>The documents that <paramref name="events"/> changed between <paramref name="before"/> (null: a new stream) and <paramref name="after"/>.</summary>
    public static StateChanges Changes(TopicSession? before, TopicSession after, IReadOnlyList<object> events, IEnumerable<ISessionDocuments> slices)
    {
        var store = new List<object>();
        var deleted = new List<string>();
        var head = before is null;
        var anchors = new HashSet<string>();
        foreach (var e in events)
        {
            head |= e is ISubscriptionEvent or ContextOpened or ContextClosed or HomeOpened or ReplayStarted;
            if (TopicSession.AnchorKeyOf(e) is { } key) anchors.Add(key);
        }
        if (head) store.Add(TopicHead.Of(after));
        foreach (var key in anchors)
        {
            if (after.OpenAnchors.TryGetValue(key, out var anchor)) store.Add(StoredAnchor.Of(after.Id, anchor));
            else deleted.Add(StoredAnchor.KeyFor(after.Id, key));
        }
        foreach (var slice in slices) store.AddRange(slice.Changed(before, after, events));
        return new StateChanges(store.ToArray(), deleted.ToArray());
    }

    /// <summary>Every document of <paramref name="state"/>: its head and open anchors.</summary>
    public static object[] All(TopicSession state) =>
        [TopicHead.Of(state), .. state.OpenAnchors.Values.Select(a => StoredAnchor.Of(state.Id, a))];

    /// <summary>
    /// The documents a whole stream leaves behind, as the writer would have written them event by event (import,
    /// rebuild, upgrade): the session's head and open anchors, and every slice's documents, the last of each id.
    /// </summary>
    public static object[] FromLog(string topic, IEnumerable<object> events, IEnumerable<ISessionDocuments> slices)
    {
        var list = slices.ToList();
        var state = TopicSession.Start(topic);
        var documents = new Dictionary<(Type, string), object>();
        var first = true;
        foreach (var e in events)
        {
            var after = TopicSession.Evolve(state, e);
            foreach (var document in list.SelectMany(s => s.Changed(first ? null : state, after, [e]))) documents[(document.GetType(), IdOf(document))] = document;
            state = after;
            first = false;
        }
        foreach (var document in All(state)) documents[(document.GetType(), IdOf(document))] = document;
        return documents.Values.ToArray();
    }

    private static string IdOf(object document) => (string)document.GetType().GetProperty("Id")!.GetValue(document)!;

    public static void Write(IDocumentOperations session, StateChanges changes)
    {
        if (changes.Store.Length > 0) session.StoreObjects(changes.Store);
        foreach (var id in changes.DeletedAnchors) session.Delete<StoredAnchor>(id);
    }

    /// <summary>
    /// The whole session as stored, with the stream version it reflects; null for an unknown topic. The version is read
    /// first: documents committed after it can only be newer, so a decision on them fails the expected-version check
    /// and is made again, never committed on a state older than its version.
    /// </summary>
    public static async Task<TopicSession?> LoadAsync(IQuerySession session, string topic, CancellationToken ct)
    {
        var stream = await session.Events.FetchStreamStateAsync(topic, ct);
        if (stream is null) return null;
        var head = await session.LoadAsync<TopicHead>(topic, ct);
        if (head is null) return null;
        var anchors = await session.Query<StoredAnchor>().Where(a => a.Topic == topic).ToListAsync(ct);
        return new TopicSession
        {
            Id = topic,
            Version = stream.Version,
            Subscriptions = head.Subscriptions,
            CurrentKey = head.CurrentKey,
            Opens = head.Opens,
            OpenAnchors = anchors.ToImmutableDictionary(a => a.Anchor.Key, a => a.Anchor),
        };
    }

    /// <summary>The head and the current anchor only: what get-current-context needs, in one round trip.</summary>
    public static async Task<TopicSession?> LoadCurrentAsync(IQuerySession session, string topic, CancellationToken ct)
    {
        await using var connection = session.DocumentStore.Storage.Database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var command = new Npgsql.NpgsqlCommand(
            $"select h.data::text, a.data::text from {HubStore.Schema}.mt_doc_topichead h "
            + $"left join {HubStore.Schema}.mt_doc_storedanchor a on a.id = h.id || chr(10) || (h.data ->> 'CurrentKey') where h.id = @topic",
            connection);
        command.Parameters.AddWithValue("topic", topic);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var head = Read<TopicHead>(session, reader.GetString(0));
        var currentJson = await reader.IsDBNullAsync(1, ct) ? null : reader.GetString(1);
        var current = currentJson is null ? null : Read<StoredAnchor>(session, currentJson);
        return new TopicSession
        {
            Id = topic,
            Subscriptions = head.Subscriptions,
            CurrentKey = current is null ? null : head.CurrentKey,
            Opens = head.Opens,
            OpenAnchors = current is null ? ImmutableDictionary<string, OpenAnchor>.Empty : ImmutableDictionary<string, OpenAnchor>.Empty.Add(current.Anchor.Key, current.Anchor),
        };
    }

    private static T Read<T>(IQuerySession session, string json) =>
        session.DocumentStore.Options.Serializer().FromJson<T>(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json)));

    public static async Task<bool> ExistsAsync(IQuerySession session, string topic, CancellationToken ct) =>
        await session.LoadAsync<TopicHead>(topic, ct) is not null;

    /// <summary>
    /// A database of an earlier release keeps each session as one projected document, which this release no longer
    /// reads: at start, topics without a <see cref="TopicHead"/> get their documents from their stream, and the
    /// snapshots (written in the earlier shape of the state) are recomputed. Returns how many topics were upgraded.
    /// </summary>
    public static async Task<int> UpgradeAsync(IDocumentStore store, IEnumerable<ISessionDocuments> slices, int snapshotInterval, CancellationToken ct)
    {
        var missing = new List<string>();
        await using (var connection = store.Storage.Database.CreateConnection())
        {
            await connection.OpenAsync(ct);
            await using var command = new Npgsql.NpgsqlCommand(
                $"select s.id from {HubStore.Schema}.mt_streams s left join {HubStore.Schema}.mt_doc_topichead h on h.id = s.id where h.id is null and s.id <> 'mt_tombstone'",
                connection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) missing.Add(reader.GetString(0));
        }
        if (missing.Count == 0) return 0;
        foreach (var topic in missing) await WriteFromStreamAsync(store, topic, slices, ct);
        await TopicSnapshots.RebuildAsync(store, snapshotInterval, ct);
        return missing.Count;
    }

    private static async Task WriteFromStreamAsync(IDocumentStore store, string topic, IEnumerable<ISessionDocuments> slices, CancellationToken ct)
    {
        await using var query = store.QuerySession();
        var events = await query.Events.FetchStreamAsync(topic, token: ct);
        if (events.Count == 0) return;
        await using var session = store.LightweightSession();
        session.StoreObjects(FromLog(topic, events.Select(e => e.Data), slices));
        await session.SaveChangesAsync(ct);
    }

    /// <summary>Rebuilds every topic's documents from its stream (the `rebuild` command).</summary>
    public static async Task<int> RebuildAsync(IDocumentStore store, IReadOnlyList<ISessionDocuments> slices, CancellationToken ct)
    {
        var topics = await HubStore.TopicsAsync(store, ct);
        foreach (var type in slices.SelectMany(s => s.DocumentTypes).Prepend(typeof(StoredAnchor)).Prepend(typeof(TopicHead)))
            await store.Advanced.Clean.DeleteDocumentsByTypeAsync(type, ct);
        foreach (var topic in topics) await WriteFromStreamAsync(store, topic, slices, ct);
        return topics.Count;
    }
}
