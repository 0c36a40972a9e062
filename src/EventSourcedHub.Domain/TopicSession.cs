using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace EventSourcedHub.Domain;

public enum SubscriptionStatus
{
    /// <summary>Accepted; waiting for the WebSocket to connect. Receives nothing yet (HUB-WS-09).</summary>
    Requested,
    /// <summary>Confirmed on a connected WebSocket; receives the events it subscribed to.</summary>
    Active,
}

/// <summary>A live subscription of the topic. Ended subscriptions leave the session (their endpoint stays known, see ChannelEndpoint).</summary>
/// <remarks><see cref="Node"/>: the hub process holding its socket while it is active.</remarks>
public sealed record Subscription(
    string EndpointId,
    string SubscriberName,
    string[] Events,
    int LeaseSeconds,
    SubscriptionStatus Status,
    DateTimeOffset RequestedAt,
    DateTimeOffset? LeaseExpiresAt,
    long? ResumeAfterVersion = null,
    DateTimeOffset? ReconnectBy = null,
    string? Node = null)
{
    public bool Receives(string eventName) => Status == SubscriptionStatus.Active && Events.Any(e => EventName.Comparer.Equals(e, eventName));

    /// <summary>Asked for the optional `heartbeat` event (HUB-HB-02).</summary>
    public bool WantsHeartbeat => Events.Any(e => new EventName(e).IsHeartbeat);
}

/// <summary>A resource shared in an anchor's content by an update (HUB-CS-08), kept as the JSON text last PUT.</summary>
/// <param name="Order">Position in the content: resources keep the place of their first PUT (HUB-GCC-04).</param>
public sealed record SharedResource(string ResourceType, string Id, string Json, long Order = 0)
{
    [JsonIgnore] public string Key => $"{ResourceType}/{Id}";
}

/// <summary>An anchor context that was opened and not closed since (HUB-CTX-02).</summary>
/// <param name="Context">The `context` array exactly as supplied in the anchor's latest open (HUB-CTX-10, HUB-GCC-02).</param>
/// <param name="OpenNotification">The latest open as it was distributed, with its original `id` and `timestamp` (HUB-WS-04).</param>
/// <param name="Resources">The shared content keyed by `Type/id`, so that an update costs O(its changes) (issue 11).</param>
/// <param name="Selection">The references selected last (`Type/id`), empty when nothing is selected (HUB-SEL-04).</param>
/// <param name="OpenOrder">When the anchor was last opened, counted in opens of the session: least recently opened first.</param>
/// <param name="NextResourceOrder">The <see cref="SharedResource.Order"/> the next new resource gets.</param>
public sealed record OpenAnchor(
    string AnchorType,
    string AnchorId,
    string VersionId,
    string Context,
    string OpenNotification,
    ImmutableDictionary<string, SharedResource> Resources,
    string[] Selection,
    long OpenOrder = 0,
    long NextResourceOrder = 0)
{
    [JsonIgnore] public string Identity => $"{AnchorType}/{AnchorId}";

    /// <summary>The key of the anchor in <see cref="TopicSession.OpenAnchors"/>: the type compares case-insensitively.</summary>
    [JsonIgnore] public string Key => TopicSession.AnchorKey(AnchorType, AnchorId);

    /// <summary>The shared content in the order resources were first added (HUB-GCC-04).</summary>
    [JsonIgnore] public IReadOnlyList<SharedResource> Content => Resources.Values.OrderBy(r => r.Order).ToList();

    public bool Shares(string key) => Resources.ContainsKey(key);
}

/// <summary>
/// The state of one FHIRcast session (one topic): its subscriptions, its open anchor contexts and which one is current.
/// Built only by folding the topic's stream with <see cref="Evolve"/>: the write path, the stored documents, the
/// dispatcher and time travel all use this one fold.
/// </summary>
public sealed record TopicSession
{
    /// <summary>The topic (the stream key).</summary>
    public string Id { get; init; } = "";

    /// <summary>The stream version this state reflects; set by whoever folds the stream.</summary>
    public long Version { get; set; }

    public ImmutableDictionary<string, Subscription> Subscriptions { get; init; } = ImmutableDictionary<string, Subscription>.Empty;

    /// <summary>Open anchors by <see cref="AnchorKey"/>: finding one costs the same with 1 or 100 suspended anchors.</summary>
    public ImmutableDictionary<string, OpenAnchor> OpenAnchors { get; init; } = ImmutableDictionary<string, OpenAnchor>.Empty;

    /// <summary>The key (<see cref="AnchorKey"/>) of the current anchor, or null when the current context is empty.</summary>
    public string? CurrentKey { get; init; }

    /// <summary>Opens folded so far: the clock of <see cref="OpenAnchor.OpenOrder"/>.</summary>
    public long Opens { get; init; }

    /// <summary>Open anchors, least recently opened first.</summary>
    [JsonIgnore] public IReadOnlyList<OpenAnchor> Anchors => OpenAnchors.Values.OrderBy(a => a.OpenOrder).ToList();

    /// <summary>The identity (`Type/id`) of the current anchor, or null when the current context is empty.</summary>
    [JsonIgnore] public string? CurrentAnchor => Current?.Identity;

    [JsonIgnore] public OpenAnchor? Current => CurrentKey is null ? null : OpenAnchors.GetValueOrDefault(CurrentKey);

    /// <summary>Anchor types compare case-insensitively, like the event names they come from (HUB-GEN-03); ids exactly.</summary>
    public static string AnchorKey(string anchorType, string anchorId) => $"{anchorType.ToLowerInvariant()}/{anchorId}";

    /// <summary>By identity `Type/id`, exactly as the anchor names itself.</summary>
    public OpenAnchor? FindAnchor(string identity)
    {
        var slash = identity.IndexOf('/');
        return slash < 0 || FindAnchor(identity[..slash], identity[(slash + 1)..]) is not { } found || found.Identity != identity ? null : found;
    }

    public OpenAnchor? FindAnchor(string anchorType, string anchorId) => OpenAnchors.GetValueOrDefault(AnchorKey(EventName.NormalizeType(anchorType), anchorId));

    public static TopicSession Start(string topic) => new() { Id = topic };

    public static TopicSession Evolve(TopicSession state, object @event) => @event switch
    {
        Subscribed e => state with
        {
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId,
                new Subscription(e.EndpointId, e.SubscriberName, e.Events, e.LeaseSeconds, SubscriptionStatus.Requested, e.RequestedAt, null, e.ResumeAfterVersion)),
        },
        SubscriptionRenewed e when state.Subscriptions.TryGetValue(e.EndpointId, out var s) => state with
        {
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId, s with
            {
                SubscriberName = e.SubscriberName,
                Events = e.Events,
                LeaseSeconds = e.LeaseSeconds,
                LeaseExpiresAt = s.Status == SubscriptionStatus.Active ? e.RenewedAt.AddSeconds(e.LeaseSeconds) : null,
            }),
        },
        SubscriptionConfirmed e when state.Subscriptions.TryGetValue(e.EndpointId, out var s) => state with
        {
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId, s with { Status = SubscriptionStatus.Active, LeaseExpiresAt = e.LeaseExpiresAt, ReconnectBy = null, Node = e.Node }),
        },
        SubscriberDisconnected e when state.Subscriptions.TryGetValue(e.EndpointId, out var s) => state with
        {
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId,
                s with { Status = SubscriptionStatus.Requested, ReconnectBy = e.ReconnectBy, ResumeAfterVersion = e.ResumeAfterVersion, Node = null }),
        },
        Unsubscribed or LeaseExpired or SubscriberDropped or SubscriptionAbandoned => state with
        {
            Subscriptions = state.Subscriptions.Remove(((ISubscriptionEvent)@event).EndpointId),
        },
        ContextOpened e => Open(state, e),
        ContextClosed e => Close(state, e),
        ContentUpdated e => Change(state, e.AnchorType, e.AnchorId, a => Apply(a, e.Changes) with { VersionId = e.VersionId }),
        ContentSelected e => Change(state, e.AnchorType, e.AnchorId, a => a with { VersionId = e.VersionId, Selection = e.Selected }),
        HomeOpened => state with { CurrentKey = null },
        ReplayStarted => state,
        _ => state,
    };

    public static TopicSession Fold(string topic, IEnumerable<object> events)
    {
        var state = Start(topic);
        foreach (var e in events)
        {
            state = Evolve(state, e);
            state.Version++;
        }
        return state;
    }

    /// <summary>The key of the anchor an event changes, opens or closes; null for events that touch no anchor.</summary>
    public static string? AnchorKeyOf(object @event) => @event switch
    {
        ContextOpened e => AnchorKey(e.AnchorType, e.AnchorId),
        ContextClosed e => AnchorKey(e.AnchorType, e.AnchorId),
        ContentUpdated e => AnchorKey(e.AnchorType, e.AnchorId),
        ContentSelected e => AnchorKey(e.AnchorType, e.AnchorId),
        _ => null,
    };

    private static TopicSession Open(TopicSession state, ContextOpened e)
    {
        // A re-open resumes the anchor with its content and selection, and makes it the most recently opened
        // (HUB-CTX-03, AMB-23).
        var key = AnchorKey(e.AnchorType, e.AnchorId);
        var resumed = state.OpenAnchors.GetValueOrDefault(key);
        var opens = state.Opens + 1;
        var anchor = new OpenAnchor(e.AnchorType, e.AnchorId, e.VersionId, e.Context, e.Notification,
            resumed?.Resources ?? ImmutableDictionary<string, SharedResource>.Empty, resumed?.Selection ?? [], opens, resumed?.NextResourceOrder ?? 0);
        return state with { OpenAnchors = state.OpenAnchors.SetItem(key, anchor), CurrentKey = key, Opens = opens };
    }

    private static TopicSession Change(TopicSession state, string anchorType, string anchorId, Func<OpenAnchor, OpenAnchor> change)
    {
        var key = AnchorKey(anchorType, anchorId);
        return state.OpenAnchors.TryGetValue(key, out var anchor) ? state with { OpenAnchors = state.OpenAnchors.SetItem(key, change(anchor)) } : state;
    }

    private static OpenAnchor Apply(OpenAnchor anchor, IEnumerable<ContentChange> changes)
    {
        var resources = anchor.Resources.ToBuilder();
        var next = anchor.NextResourceOrder;
        foreach (var change in changes)
        {
            var key = $"{change.ResourceType}/{change.ResourceId}";
            if (change.Method == ContentChange.Delete)
                resources.Remove(key);
            else
                resources[key] = new SharedResource(change.ResourceType, change.ResourceId, change.Resource!,
                    resources.TryGetValue(key, out var kept) ? kept.Order : next++);
        }
        return anchor with { Resources = resources.ToImmutable(), NextResourceOrder = next };
    }

    private static TopicSession Close(TopicSession state, ContextClosed e)
    {
        var key = AnchorKey(e.AnchorType, e.AnchorId);
        return state with
        {
            OpenAnchors = state.OpenAnchors.Remove(key),
            // No fall-back to an earlier anchor: closing the current context leaves it empty (HUB-CTX-04).
            CurrentKey = state.CurrentKey == key ? null : state.CurrentKey,
        };
    }
}
