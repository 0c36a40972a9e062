using System.Collections.Concurrent;
using EventSourcedHub.Domain;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;

namespace EventSourcedHub.Audit;

/// <summary>One link of a topic's hash chain, written in the event's transaction (see <see cref="HashChain"/>).</summary>
public sealed class ChainLink
{
    /// <summary>`{topic}\n{stream version}`.</summary>
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public long StreamVersion { get; set; }
    public string EventType { get; set; } = "";

    /// <summary>SHA-256 of the event's canonical content as serialized when it was written.</summary>
    public string ContentHash { get; set; } = "";

    /// <summary>SHA-256 over the previous link's hash and <see cref="ContentHash"/>.</summary>
    public string Hash { get; set; } = "";

    public static string KeyFor(string topic, long version) => $"{topic}\n{version}";
}

/// <summary>Writes a <see cref="ChainLink"/> for every event of every topic stream.</summary>
public sealed partial class ChainLinkProjection : EventProjection
{
    // The last link computed per topic, for events appended together in one commit: their predecessors are not in the
    // database yet. A committed link in the database always wins, so a failed commit's leftovers are never used.
    private readonly ConcurrentDictionary<string, ChainLink> _pending = new();

    // The last link this process saw committed per topic. A committed link never changes, so when it is the predecessor
    // the database need not be asked (one round trip less per event inside the commit, issue 7).
    private readonly ConcurrentDictionary<string, ChainLink> _committed = new();

    /// <summary>The store's one instance (registered in <see cref="AuditStore.Configure"/>).</summary>
    public static ChainLinkProjection Of(IDocumentStore store) => ((StoreOptions)store.Options).Projections.All.OfType<ChainLinkProjection>().Single();

    /// <summary>Called after a commit that took <paramref name="topic"/>'s stream to <paramref name="version"/>.</summary>
    public void Committed(string topic, long version)
    {
        if (_pending.TryGetValue(topic, out var link) && link.StreamVersion == version) _committed[topic] = link;
    }

    // One method per event type of TopicEvents.cs: the projection's dispatcher is generated from these signatures.
    public Task Project(IEvent<Subscribed> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<SubscriptionRenewed> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<SubscriptionConfirmed> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<Unsubscribed> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<LeaseExpired> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<SubscriberDropped> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<SubscriptionAbandoned> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<ContextOpened> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<ContextClosed> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<HomeOpened> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<NotificationRelayed> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<ContentUpdated> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<ContentSelected> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<SyncErrorRaised> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<ReplayStarted> e, IDocumentOperations ops) => LinkAsync(e, ops);
    public Task Project(IEvent<SubscriberDisconnected> e, IDocumentOperations ops) => LinkAsync(e, ops);

    private async Task LinkAsync(IEvent e, IDocumentOperations ops)
    {
        var topic = e.StreamKey!;
        var previous = e.Version == 1 ? HashChain.Genesis : await PreviousAsync(topic, e.Version - 1, ops);
        var json = ops.DocumentStore.Options.Serializer().ToJson(e.Data);
        var contentHash = HashChain.ContentHash(e.Version, e.EventTypeName, e.Timestamp, json);
        var link = new ChainLink
        {
            Id = ChainLink.KeyFor(topic, e.Version),
            Topic = topic,
            StreamVersion = e.Version,
            EventType = e.EventTypeName,
            ContentHash = contentHash,
            Hash = HashChain.Link(previous ?? HashChain.Genesis, contentHash),
        };
        _pending[topic] = link;
        ops.Store(link);
    }

    private async Task<string?> PreviousAsync(string topic, long version, IDocumentOperations ops)
    {
        if (_committed.TryGetValue(topic, out var committed) && committed.StreamVersion == version) return committed.Hash;
        var stored = await ops.LoadAsync<ChainLink>(ChainLink.KeyFor(topic, version));
        if (stored is not null) return stored.Hash;
        return _pending.TryGetValue(topic, out var pending) && pending.StreamVersion == version ? pending.Hash : null;
    }
}
