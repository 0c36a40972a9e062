namespace EventSourcedHub.Domain;

// The events of a topic's stream. Their stream order is the session's one total order (design.md section 2).
// Names are stable: they are mapped to fixed type names in the event store, so renaming a record is safe,
// renaming or removing a field is a migration.

/// <summary>An event about one subscription (one WebSocket endpoint) of the topic.</summary>
public interface ISubscriptionEvent
{
    string EndpointId { get; }
}

/// <summary>An accepted FHIRcast notification; <see cref="Notification"/> is the exact text distributed to subscribers.</summary>
public interface INotificationEvent
{
    string EventId { get; }
    string EventName { get; }
    string Notification { get; }
}

/// <summary>A subscription request was accepted (HUB-SUB-07); the subscriber must now connect its WebSocket.</summary>
/// <param name="ResumeAfterVersion">Set when the app asked to resume (`resume.after`): on confirmation it receives the
/// notifications after this stream version instead of the current-context opens.</param>
public sealed record Subscribed(string EndpointId, string SubscriberName, string[] Events, int LeaseSeconds, DateTimeOffset RequestedAt, long? ResumeAfterVersion = null)
    : ISubscriptionEvent;

/// <summary>A re-subscription for an existing endpoint replaced its events and renewed its lease (HUB-SUB-11).</summary>
public sealed record SubscriptionRenewed(string EndpointId, string SubscriberName, string[] Events, int LeaseSeconds, DateTimeOffset RenewedAt) : ISubscriptionEvent;

/// <summary>The subscriber's WebSocket connected and was sent its confirmation; the lease counts from here (HUB-WS-02, HUB-WS-06).</summary>
/// <param name="Node">The hub process holding the socket (issue 14); null in events recorded before it was kept.</param>
public sealed record SubscriptionConfirmed(string EndpointId, DateTimeOffset ConfirmedAt, DateTimeOffset LeaseExpiresAt, string? Node = null) : ISubscriptionEvent;

/// <summary>The subscriber asked to unsubscribe (HUB-UNS-03).</summary>
public sealed record Unsubscribed(string EndpointId, DateTimeOffset At) : ISubscriptionEvent;

/// <summary>The lease ran out before a renewal (HUB-WS-06).</summary>
public sealed record LeaseExpired(string EndpointId, DateTimeOffset At) : ISubscriptionEvent;

/// <summary>The subscriber's WebSocket closed or failed; any close ends the subscription (HUB-WS-12).</summary>
public sealed record SubscriberDropped(string EndpointId, int? CloseCode, string Reason, DateTimeOffset At) : ISubscriptionEvent;

/// <summary>
/// With a reconnect grace (`Hub:ReconnectGraceSeconds`): the socket dropped, but the endpoint stays issued until
/// <paramref name="ReconnectBy"/>; a socket reconnecting to it gets the notifications after <paramref name="ResumeAfterVersion"/>.
/// </summary>
public sealed record SubscriberDisconnected(string EndpointId, int? CloseCode, string Reason, DateTimeOffset At, DateTimeOffset ReconnectBy, long ResumeAfterVersion)
    : ISubscriptionEvent;

/// <summary>The subscriber never connected its WebSocket in time (HUB-WS-09).</summary>
public sealed record SubscriptionAbandoned(string EndpointId, DateTimeOffset At) : ISubscriptionEvent;

/// <summary>A `*-open` made its anchor the current context (HUB-CTX-01); a re-open of an open anchor resumes it (HUB-CTX-03).</summary>
/// <param name="Derived">The implied opens for subscribers of lesser events (HUB-CTX-09); they change no state.</param>
public sealed record ContextOpened(
    string EventId,
    string EventName,
    string AnchorType,
    string AnchorId,
    string VersionId,
    string? PriorVersionId,
    string Context,
    string Notification,
    DerivedOpen[]? Derived = null) : INotificationEvent;

/// <summary>
/// An implied `T-open` for a resource of type T carried by another open (e.g. the patient of a DiagnosticReport-open),
/// sent only to subscribers of `T-open` that did not subscribe to the original open (HUB-CTX-09, AMB-22).
/// </summary>
public sealed record DerivedOpen(string EventId, string EventName, string AnchorType, string AnchorId, string Notification);

/// <summary>One PUT or DELETE of an update bundle, as applied to the anchor's content (HUB-CS-07).</summary>
/// <param name="Resource">The resource JSON exactly as sent, for a PUT; null for a DELETE.</param>
/// <param name="Activity">What the change did to the anchor's content, decided with the content at hand: CREATE (a PUT
/// of a resource not shared before), UPDATE or DELETE (v3 DataOperation, for Provenance). Null in events recorded
/// before it was decided here; they are read as UPDATE for a PUT.</param>
public sealed record ContentChange(string Method, string ResourceType, string ResourceId, string? Resource, string? Activity = null)
{
    public const string Put = "PUT";
    public const string Delete = "DELETE";

    public const string Create = "CREATE";
    public const string Update = "UPDATE";

    [System.Text.Json.Serialization.JsonIgnore] public string ActivityCode => Activity ?? (Method == Delete ? Delete : Update);
}

/// <summary>A `*-update` applied its bundle to an open anchor's content atomically and moved its version (HUB-CS-04/05).</summary>
/// <param name="Leniency">Null for an update that named its anchor and version; else what the hub filled in under
/// `Hub:Compatibility:LenientUpdates` (rulings.md 36), kept for the audit.</param>
public sealed record ContentUpdated(
    string EventId,
    string EventName,
    string AnchorType,
    string AnchorId,
    string VersionId,
    string PriorVersionId,
    ContentChange[] Changes,
    string Notification,
    string? Leniency = null) : INotificationEvent;

/// <summary>A `*-select` replaced the anchor's selection (HUB-SEL-04). <see cref="Partial"/>: some references were unknown (206).</summary>
public sealed record ContentSelected(
    string EventId,
    string EventName,
    string AnchorType,
    string AnchorId,
    string[] Selected,
    string VersionId,
    string? PriorVersionId,
    bool Partial,
    string Notification) : INotificationEvent;

/// <summary>
/// A SyncError the hub raised because a subscriber refused an event, did not acknowledge it in time, or lost its
/// connection (HUB-SE-03). Sent to every SyncError subscriber except the one that failed (HUB-SE-04).
/// </summary>
public sealed record SyncErrorRaised(
    string EventId,
    string EventName,
    string EndpointId,
    string SubscriberName,
    string FailedEventId,
    string FailedEventName,
    string Diagnostics,
    string Notification) : INotificationEvent;

/// <summary>
/// A replay of another session's events into this topic began (it creates the topic when it is new). The replayed events
/// follow as ordinary notifications; each carries its source event in its metadata.
/// </summary>
public sealed record ReplayStarted(string ReplayId, string SourceTopic, long FromVersion, long ToVersion, double Speed, DateTimeOffset At);

/// <summary>A `*-close` ended an open anchor; when it was current, the current context is now empty (HUB-CTX-04).</summary>
/// <param name="Reason">Null for a close an app sent; set when the hub closed the anchor itself, e.g. the least recently
/// opened suspended anchor when an open went beyond `Hub:Limits:MaxOpenAnchors` (rulings.md 28).</param>
public sealed record ContextClosed(string EventId, string EventName, string AnchorType, string AnchorId, string Notification, string? Reason = null) : INotificationEvent;

/// <summary>`Home-open`: the current context is empty while every open anchor stays open (HUB-CTX-11).</summary>
public sealed record HomeOpened(string EventId, string EventName, string Notification) : INotificationEvent;

/// <summary>Any other accepted event (SyncError, UserLogout, custom names, ...): distributed, no change to context (HUB-GEN-05).</summary>
public sealed record NotificationRelayed(string EventId, string EventName, string Notification) : INotificationEvent;
