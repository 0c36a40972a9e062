using System.Collections.Immutable;

namespace EventSourcedHub.Domain;

public enum SubscriptionStatus
{
    /// <summary>Accepted; waiting for the WebSocket to connect. Receives nothing yet (HUB-WS-09).</summary>
    Requested,
    /// <summary>Confirmed on a connected WebSocket; receives the events it subscribed to.</summary>
    Active,
}

/// <summary>A live subscription of the topic. Ended subscriptions leave the session (their endpoint stays known, see ChannelEndpoint).</summary>
public sealed record Subscription(
    string EndpointId,
    string SubscriberName,
    string[] Events,
    int LeaseSeconds,
    SubscriptionStatus Status,
    DateTimeOffset RequestedAt,
    DateTimeOffset? LeaseExpiresAt,
    long? ResumeAfterVersion = null,
    DateTimeOffset? ReconnectBy = null)
{
    public bool Receives(string eventName) => Status == SubscriptionStatus.Active && Events.Any(e => EventName.Comparer.Equals(e, eventName));

    /// <summary>Asked for the optional `heartbeat` event (HUB-HB-02).</summary>
    public bool WantsHeartbeat => Events.Any(e => new EventName(e).IsHeartbeat);
}

/// <summary>A resource shared in an anchor's content by an update (HUB-CS-08), kept as the JSON text last PUT.</summary>
public sealed record SharedResource(string ResourceType, string Id, string Json)
{
    public string Key => $"{ResourceType}/{Id}";
}

/// <summary>An anchor context that was opened and not closed since (HUB-CTX-02).</summary>
/// <param name="Context">The `context` array exactly as supplied in the anchor's latest open (HUB-CTX-10, HUB-GCC-02).</param>
/// <param name="OpenNotification">The latest open as it was distributed, with its original `id` and `timestamp` (HUB-WS-04).</param>
/// <param name="Content">The shared content, in the order resources were first added (HUB-GCC-04).</param>
/// <param name="Selection">The references selected last (`Type/id`), empty when nothing is selected (HUB-SEL-04).</param>
public sealed record OpenAnchor(
    string AnchorType,
    string AnchorId,
    string VersionId,
    string Context,
    string OpenNotification,
    ImmutableList<SharedResource> Content,
    string[] Selection)
{
    public string Identity => $"{AnchorType}/{AnchorId}";
}

/// <summary>
/// The state of one FHIRcast session (one topic): its subscriptions, its open anchor contexts and which one is current.
/// Built only by folding the topic's stream with <see cref="Evolve"/>; the inline projection and the dispatcher use the same fold.
/// </summary>
public sealed record TopicSession
{
    /// <summary>The topic (the stream key).</summary>
    public string Id { get; init; } = "";

    /// <summary>The stream version this state reflects; set by whoever folds the stream (the event store sets it on the projection).</summary>
    public long Version { get; set; }

    public ImmutableDictionary<string, Subscription> Subscriptions { get; init; } = ImmutableDictionary<string, Subscription>.Empty;

    /// <summary>Open anchors, least recently opened first.</summary>
    public ImmutableList<OpenAnchor> Anchors { get; init; } = ImmutableList<OpenAnchor>.Empty;

    /// <summary>The identity (`Type/id`) of the current anchor, or null when the current context is empty.</summary>
    public string? CurrentAnchor { get; init; }

    public OpenAnchor? Current => CurrentAnchor is null ? null : FindAnchor(CurrentAnchor);

    public OpenAnchor? FindAnchor(string identity) => Anchors.FirstOrDefault(a => a.Identity == identity);

    /// <summary>Anchor types compare case-insensitively, like the event names they come from (HUB-GEN-03); ids exactly.</summary>
    public OpenAnchor? FindAnchor(string anchorType, string anchorId) =>
        Anchors.FirstOrDefault(a => a.AnchorId == anchorId && string.Equals(a.AnchorType, EventName.NormalizeType(anchorType), StringComparison.OrdinalIgnoreCase));

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
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId, s with { Status = SubscriptionStatus.Active, LeaseExpiresAt = e.LeaseExpiresAt, ReconnectBy = null }),
        },
        SubscriberDisconnected e when state.Subscriptions.TryGetValue(e.EndpointId, out var s) => state with
        {
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId,
                s with { Status = SubscriptionStatus.Requested, ReconnectBy = e.ReconnectBy, ResumeAfterVersion = e.ResumeAfterVersion }),
        },
        Unsubscribed or LeaseExpired or SubscriberDropped or SubscriptionAbandoned => state with
        {
            Subscriptions = state.Subscriptions.Remove(((ISubscriptionEvent)@event).EndpointId),
        },
        ContextOpened e => Open(state, e),
        ContextClosed e => Close(state, e),
        ContentUpdated e => Change(state, $"{e.AnchorType}/{e.AnchorId}", a => a with { VersionId = e.VersionId, Content = Apply(a.Content, e.Changes) }),
        ContentSelected e => Change(state, $"{e.AnchorType}/{e.AnchorId}", a => a with { VersionId = e.VersionId, Selection = e.Selected }),
        HomeOpened => state with { CurrentAnchor = null },
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

    private static TopicSession Open(TopicSession state, ContextOpened e)
    {
        // A re-open resumes the anchor with its content and selection, and moves it to the end: it is now the most
        // recently opened (HUB-CTX-03, AMB-23).
        var resumed = state.FindAnchor(e.AnchorType, e.AnchorId);
        var anchor = new OpenAnchor(e.AnchorType, e.AnchorId, e.VersionId, e.Context, e.Notification,
            resumed?.Content ?? ImmutableList<SharedResource>.Empty, resumed?.Selection ?? []);
        var others = state.Anchors.RemoveAll(a => a.Identity == anchor.Identity);
        return state with { Anchors = others.Add(anchor), CurrentAnchor = anchor.Identity };
    }

    private static TopicSession Change(TopicSession state, string identity, Func<OpenAnchor, OpenAnchor> change)
    {
        var index = state.Anchors.FindIndex(a => a.Identity == identity);
        return index < 0 ? state : state with { Anchors = state.Anchors.SetItem(index, change(state.Anchors[index])) };
    }

    private static ImmutableList<SharedResource> Apply(ImmutableList<SharedResource> content, IEnumerable<ContentChange> changes)
    {
        foreach (var change in changes)
        {
            var key = $"{change.ResourceType}/{change.ResourceId}";
            var index = content.FindIndex(r => r.Key == key);
            if (change.Method == ContentChange.Delete)
            {
                if (index >= 0) content = content.RemoveAt(index);
            }
            else
            {
                var resource = new SharedResource(change.ResourceType, change.ResourceId, change.Resource!);
                content = index >= 0 ? content.SetItem(index, resource) : content.Add(resource);
            }
        }
        return content;
    }

    private static TopicSession Close(TopicSession state, ContextClosed e)
    {
        var identity = $"{e.AnchorType}/{e.AnchorId}";
        return state with
        {
            Anchors = state.Anchors.RemoveAll(a => a.Identity == identity),
            // No fall-back to an earlier anchor: closing the current context leaves it empty (HUB-CTX-04).
            CurrentAnchor = state.CurrentAnchor == identity ? null : state.CurrentAnchor,
        };
    }
}
