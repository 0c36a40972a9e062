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
    DateTimeOffset? LeaseExpiresAt)
{
    public bool Receives(string eventName) => Status == SubscriptionStatus.Active && Events.Any(e => EventName.Comparer.Equals(e, eventName));
}

/// <summary>An anchor context that was opened and not closed since (HUB-CTX-02).</summary>
/// <param name="Context">The `context` array exactly as supplied in the anchor's latest open (HUB-CTX-10, HUB-GCC-02).</param>
/// <param name="OpenNotification">The latest open as it was distributed, with its original `id` and `timestamp` (HUB-WS-04).</param>
public sealed record OpenAnchor(string AnchorType, string AnchorId, string VersionId, string Context, string OpenNotification)
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

    public OpenAnchor? FindAnchor(string anchorType, string anchorId) => FindAnchor($"{EventName.NormalizeType(anchorType)}/{anchorId}");

    public static TopicSession Start(string topic) => new() { Id = topic };

    public static TopicSession Evolve(TopicSession state, object @event) => @event switch
    {
        Subscribed e => state with
        {
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId,
                new Subscription(e.EndpointId, e.SubscriberName, e.Events, e.LeaseSeconds, SubscriptionStatus.Requested, e.RequestedAt, null)),
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
            Subscriptions = state.Subscriptions.SetItem(e.EndpointId, s with { Status = SubscriptionStatus.Active, LeaseExpiresAt = e.LeaseExpiresAt }),
        },
        Unsubscribed or LeaseExpired or SubscriberDropped or SubscriptionAbandoned => state with
        {
            Subscriptions = state.Subscriptions.Remove(((ISubscriptionEvent)@event).EndpointId),
        },
        ContextOpened e => Open(state, e),
        ContextClosed e => Close(state, e),
        HomeOpened => state with { CurrentAnchor = null },
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
        var anchor = new OpenAnchor(e.AnchorType, e.AnchorId, e.VersionId, e.Context, e.Notification);
        // A re-open moves the anchor to the end: it is now the most recently opened (HUB-CTX-03).
        var others = state.Anchors.RemoveAll(a => a.Identity == anchor.Identity);
        return state with { Anchors = others.Add(anchor), CurrentAnchor = anchor.Identity };
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
