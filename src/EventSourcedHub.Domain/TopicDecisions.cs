namespace EventSourcedHub.Domain;

/// <summary>The hub's tunables that the decisions depend on (rulings.md 15).</summary>
public sealed record SubscriptionPolicy(int DefaultLeaseSeconds, int MaxLeaseSeconds, int UnconnectedSubscriptionSeconds, int MaxSubscriptionsPerTopic = 1000)
{
    public static readonly SubscriptionPolicy Default = new(7200, 86400, 60);

    public int LeaseFor(int? requested) => Math.Min(requested ?? DefaultLeaseSeconds, MaxLeaseSeconds);
}

/// <summary>How the hub treats content sharing (rulings.md 15, AMB-02).</summary>
/// <param name="MaxOpenAnchors">Open anchors a session keeps; an open beyond it closes the least recently opened
/// suspended anchor (rulings.md 28).</param>
/// <param name="LenientUpdates">An update without its anchor key or `context.versionId` applies to the current anchor of
/// its type and its current version, for clients that send neither (rulings.md 36).</param>
public sealed record ContentPolicy(bool BumpVersionOnSelect, int MaxBundleEntries, bool DeriveOpenEvents = true, int MaxOpenAnchors = 100,
    bool LenientUpdates = false)
{
    public static readonly ContentPolicy Default = new(false, 1000);
}

/// <summary>The outcome of an accepted event request. <see cref="Partial"/>: a select named resources the hub does not know (206).</summary>
public sealed record Published(object[] Events, bool Partial = false);

/// <summary>
/// The decisions of a FHIRcast session: current state + request -> the events to append, or a rejection.
/// Pure: time and new ids are passed in, nothing is read or written here.
/// </summary>
public static class TopicDecisions
{
    /// <param name="resumeAfterVersion">The stream version of the request's `resume.after` event, looked up by the caller;
    /// null when the request does not resume.</param>
    public static Decision<object[]> Subscribe(TopicSession? state, SubscribeRequest request, SubscriptionPolicy policy, DateTimeOffset now, string newEndpointId,
        long? resumeAfterVersion = null)
    {
        var lease = policy.LeaseFor(request.LeaseSeconds);
        if (request.ResumeAfter is not null && resumeAfterVersion is null)
            return Rejection.Invalid($"`resume.after`: no event with id '{request.ResumeAfter}' was accepted on this topic.");
        if (request.EndpointId is null)
        {
            if (state is not null && state.Subscriptions.Count >= policy.MaxSubscriptionsPerTopic)
                return Rejection.Forbidden($"This topic already has {state.Subscriptions.Count} live subscriptions, the most this hub allows (Hub:Limits:MaxSubscriptionsPerTopic).");
            return new object[]
            {
                new Subscribed(newEndpointId, request.SubscriberName ?? SubscriptionRequest.DefaultSubscriberName, request.Events, lease, now, resumeAfterVersion),
            };
        }

        // A re-subscription names an endpoint of this topic that is still live (HUB-SUB-11); it keeps its name unless given one.
        if (state is null || !state.Subscriptions.TryGetValue(request.EndpointId, out var existing))
            return Rejection.Invalid("`hub.channel.endpoint` is not a live subscription of this topic; subscribe without it to get a new endpoint.");
        return new object[] { new SubscriptionRenewed(request.EndpointId, request.SubscriberName ?? existing.SubscriberName, request.Events, lease, now) };
    }

    public static Decision<object[]> Unsubscribe(TopicSession? state, UnsubscribeRequest request, DateTimeOffset now)
    {
        if (state?.Subscriptions.ContainsKey(request.EndpointId) != true)
            return Rejection.Invalid("`hub.channel.endpoint` does not match a live subscription of this topic (HUB-UNS-02).");
        return new object[] { new Unsubscribed(request.EndpointId, now) };
    }

    /// <summary>The WebSocket of a requested subscription connected to hub process <paramref name="node"/>: confirm it (HUB-WS-02).</summary>
    public static Decision<object[]> Confirm(TopicSession? state, string endpointId, DateTimeOffset now, string? node = null)
    {
        if (state is null || !state.Subscriptions.TryGetValue(endpointId, out var subscription))
            return Rejection.NotFound("This subscription has ended; subscribe again.");
        if (subscription.Status != SubscriptionStatus.Requested)
            return Rejection.Conflict("This endpoint already has a confirmed WebSocket.");
        // A reconnect within the grace keeps the lease it had; a first connection starts it (HUB-WS-06).
        var leaseEnd = subscription.ReconnectBy is not null && subscription.LeaseExpiresAt is { } kept ? kept : now.AddSeconds(subscription.LeaseSeconds);
        return new object[] { new SubscriptionConfirmed(endpointId, now, leaseEnd, node) };
    }

    /// <summary>
    /// The socket closed or failed, or the hub gave up on the subscriber. With a <paramref name="syncError"/> (an abnormal
    /// close, HUB-WS-11; an unresponsive subscriber, HUB-DIST-07) the others are told first. Ending a subscription that
    /// already ended is nothing to record.
    /// </summary>
    public static object[] Drop(TopicSession? state, string endpointId, int? closeCode, string reason, DateTimeOffset now, SyncErrorCause? syncError = null)
    {
        if (state?.Subscriptions.ContainsKey(endpointId) != true) return [];
        var dropped = new SubscriberDropped(endpointId, closeCode, reason, now);
        return syncError is null ? [dropped] : [.. RaiseSyncError(state, syncError), dropped];
    }

    /// <summary>
    /// With a reconnect grace, a dropped socket keeps its endpoint for <paramref name="grace"/> (an app's explicit close,
    /// 1000 or 1005, still ends it). Null: end the subscription now.
    /// </summary>
    public static object[]? Disconnect(TopicSession? state, string endpointId, int? closeCode, string reason, DateTimeOffset now, TimeSpan grace, long resumeAfterVersion)
    {
        if (grace <= TimeSpan.Zero || closeCode is 1000 or 1005) return null;
        if (state is null || !state.Subscriptions.TryGetValue(endpointId, out var s) || s.Status != SubscriptionStatus.Active) return [];
        return [new SubscriberDisconnected(endpointId, closeCode, reason, now, now + grace, resumeAfterVersion)];
    }

    /// <summary>
    /// The hub process that held an active subscription's socket is gone (issue 14): the subscription ends like an
    /// abnormal close, with a SyncError for the others, unless it has moved on (reconnected elsewhere, ended) since.
    /// </summary>
    public static object[] ProcessLost(TopicSession? state, string endpointId, string node, DateTimeOffset now, SyncErrorCause? syncError)
    {
        if (state is null || !state.Subscriptions.TryGetValue(endpointId, out var s) || s.Status != SubscriptionStatus.Active || s.Node != node) return [];
        return Drop(state, endpointId, null, "its hub process stopped", now, syncError);
    }

    /// <summary>Normal closes end a subscription quietly; any other close is a connection problem (HUB-WS-10/11, rulings.md 3).</summary>
    public static bool IsNormalClose(int? closeCode) => closeCode is 1000 or 1001 or 1005;

    /// <summary>Leases that have run out and subscriptions never connected in time (HUB-WS-06, HUB-WS-09).</summary>
    public static object[] Expire(TopicSession? state, SubscriptionPolicy policy, DateTimeOffset now)
    {
        if (state is null) return [];
        var ended = new List<object>();
        foreach (var s in state.Subscriptions.Values.OrderBy(s => s.RequestedAt))
        {
            // Leases run on through a reconnect grace; an unreconnected grace ends as a drop (SyncErrorReporter), not here.
            if (s.LeaseExpiresAt <= now && (s.Status == SubscriptionStatus.Active || s.ReconnectBy is not null))
                ended.Add(new LeaseExpired(s.EndpointId, now));
            else if (s.Status == SubscriptionStatus.Requested && s.ReconnectBy is null && s.RequestedAt.AddSeconds(policy.UnconnectedSubscriptionSeconds) <= now)
                ended.Add(new SubscriptionAbandoned(s.EndpointId, now));
        }
        return ended.ToArray();
    }

    /// <summary>An event request (HUB-EVT-01): what it does to the session's context, and the text to distribute.</summary>
    /// <param name="newId">A fresh unique id: for versionIds and for the events the hub derives.</param>
    public static Decision<Published> Publish(TopicSession? state, NotificationRequest request, Func<string> newId, ContentPolicy policy)
    {
        if (state is null) return Rejection.UnknownTopic(request.Topic);
        var name = request.EventName;

        Decision<object[]> decided;
        if (name.IsHomeOpen)
            decided = new object[] { new HomeOpened(request.Id, name.Value, request.Json) };
        else if (name.IsOpen)
            decided = Open(state, request, newId, policy);
        else if (name.IsClose)
            decided = Close(state, request);
        else if (name.IsUpdate)
            decided = ContentSharing.Update(state, request, newId, policy);
        else if (name.IsSelect)
            return ContentSharing.Select(state, request, newId, policy);
        else if (name.IsSyncError && SyncErrors.Validate(request) is { } invalid)
            return invalid;
        else
            decided = new object[] { new NotificationRelayed(request.Id, name.Value, request.Json) };
        return decided.IsRejected ? decided.Rejection! : new Published(decided.Value!);
    }

    /// <summary>
    /// A replay re-publishes a recorded notification into this topic: an update names the target anchor's current
    /// version (the source's versionIds mean nothing here); everything else is decided as for any request (rulings.md 18).
    /// An update the source accepted leniently (no anchor key) is replayed leniently too, whatever the target hub's setting.
    /// </summary>
    public static Decision<Published> Replay(TopicSession state, NotificationRequest request, Func<string> newId, ContentPolicy policy)
    {
        if (request.EventName.IsUpdate)
        {
            var anchorEntry = FindAnchorEntry(request, requireResource: false);
            var anchor = anchorEntry.IsRejected ? null : state.FindAnchor(anchorEntry.Value.Type, anchorEntry.Value.Id);
            // Without a version the lenient decision takes the current one of the anchor it finds.
            request = request with { VersionId = anchor?.VersionId };
            policy = policy with { LenientUpdates = true };
        }
        return Publish(state, request, newId, policy);
    }

    /// <summary>
    /// A subscriber refused an event, did not acknowledge it in time, or lost its connection: the hub raises a SyncError
    /// for the others (HUB-SE-03). Nothing is raised about a subscription that has already ended. (SyncError notifications
    /// await no ack, so they never cause one: HUB-DIST-10.)
    /// </summary>
    public static object[] RaiseSyncError(TopicSession? state, SyncErrorCause cause)
    {
        if (state?.Subscriptions.ContainsKey(cause.EndpointId) != true) return [];
        var notification = SyncErrors.Notification(state.Id, cause);
        return [new SyncErrorRaised(cause.NewEventId, EventName.SyncError, cause.EndpointId, cause.SubscriberName,
            cause.FailedEventId, cause.FailedEventName, cause.Diagnostics, notification)];
    }

    private static Decision<object[]> Open(TopicSession state, NotificationRequest request, Func<string> newId, ContentPolicy policy)
    {
        var anchor = FindAnchorEntry(request, requireResource: true);
        if (anchor.IsRejected) return anchor.Rejection!;
        var (type, id) = anchor.Value;

        // IRA RAD-148: a report is opened together with its patient and study (HUB-CTX-07).
        if (type == "DiagnosticReport")
        {
            foreach (var key in new[] { "patient", "study" })
            {
                if (!request.Entries(key).Any())
                    return Rejection.Invalid($"`DiagnosticReport-open` must carry a `{key}` context entry (HUB-CTX-07).");
            }
        }

        var versionId = newId();
        var resumed = state.FindAnchor(type, id);
        var notification = NotificationText.Stamp(request.Json, versionId, resumed?.VersionId);
        var derived = policy.DeriveOpenEvents ? DerivedOpens(state.Id, request, type, newId) : null;
        var opened = new ContextOpened(request.Id, request.EventName.Value, resumed?.AnchorType ?? type, id, versionId, resumed?.VersionId, request.ContextJson, notification, derived);
        if (resumed is not null || state.OpenAnchors.Count < policy.MaxOpenAnchors) return new object[] { opened };
        return new object[] { Evict(state, request.Timestamp, newId(), policy.MaxOpenAnchors), opened };
    }

    /// <summary>
    /// The close the hub records and distributes itself when an open would go beyond `Hub:Limits:MaxOpenAnchors`: of the
    /// least recently opened suspended anchor, never the current one (rulings.md 28). It carries the anchor's context as
    /// opened, so that apps can tell what was closed.
    /// </summary>
    private static ContextClosed Evict(TopicSession state, string timestamp, string eventId, int maxOpenAnchors)
    {
        var oldest = state.OpenAnchors.Values.Where(a => a.Key != state.CurrentKey).MinBy(a => a.OpenOrder)!;
        var eventName = $"{oldest.AnchorType}-close";
        using var context = System.Text.Json.JsonDocument.Parse(oldest.Context);
        var entries = context.RootElement.EnumerateArray().Select(e => e.GetRawText()).ToArray();
        var text = NotificationText.Compose(timestamp, eventId, state.Id, eventName, entries);
        return new ContextClosed(eventId, eventName, oldest.AnchorType, oldest.AnchorId, text,
            $"closed by the hub: a new open went beyond the {maxOpenAnchors} open anchors a session keeps (Hub:Limits:MaxOpenAnchors); this was the least recently opened suspended anchor");
    }

    /// <summary>
    /// One `T-open` per other resource of the open whose type T is not the anchor's: that resource, plus the `patient`
    /// entry when T is not Patient; same timestamp, a new id (HUB-CTX-09).
    /// </summary>
    private static DerivedOpen[] DerivedOpens(string topic, NotificationRequest request, string anchorType, Func<string> newId)
    {
        var patient = request.Entries("patient").FirstOrDefault(e => e.ResourceType == "Patient" && e.Reference is null);
        var derived = new List<DerivedOpen>();
        foreach (var entry in request.Context)
        {
            if (entry.Reference is not null || entry.ResourceType is not { } type || entry.ResourceId is not { } id) continue;
            if (string.Equals(type, anchorType, StringComparison.OrdinalIgnoreCase)) continue;
            if (derived.Any(d => d.AnchorType == type && d.AnchorId == id)) continue;
            var context = type == "Patient" || patient is null ? [entry.Json] : new[] { entry.Json, patient.Json };
            var eventId = newId();
            var eventName = $"{type}-open";
            var text = NotificationText.Compose(request.Timestamp, eventId, topic, eventName, context);
            derived.Add(new DerivedOpen(eventId, eventName, type, id, text));
        }
        return derived.ToArray();
    }

    private static Decision<object[]> Close(TopicSession state, NotificationRequest request)
    {
        var anchor = FindAnchorEntry(request, requireResource: false);
        if (anchor.IsRejected) return anchor.Rejection!;
        var (type, id) = anchor.Value;
        if (state.FindAnchor(type, id) is not { } open)
            return Rejection.Conflict($"{type}/{id} is not an open context of this topic (HUB-CTX-05).");
        return new object[] { new ContextClosed(request.Id, request.EventName.Value, open.AnchorType, open.AnchorId, request.Json) };
    }

    /// <summary>The anchor resource of an event: the entry under the anchor key, whose id names the anchor.</summary>
    internal static Decision<(string Type, string Id)> FindAnchorEntry(NotificationRequest request, bool requireResource)
    {
        var type = EventName.NormalizeType(request.EventName.AnchorType!);
        var key = EventName.AnchorKeyFor(type);
        var entries = request.Entries(key).ToArray();
        if (entries.Length != 1)
            return Rejection.Invalid($"`{request.EventName}` must carry exactly one `{key}` context entry.");
        var entry = entries[0];
        if (requireResource && entry.Reference is not null)
            return Rejection.Invalid($"The `{key}` entry of `{request.EventName}` must hold the resource itself, not a reference.");
        if (entry.ResourceId is null)
            return Rejection.Invalid($"The `{key}` entry of `{request.EventName}` must hold a resource with an `id`.");
        if (entry.ResourceType is not null && !string.Equals(entry.ResourceType, type, StringComparison.OrdinalIgnoreCase))
            return Rejection.Invalid($"The `{key}` entry of `{request.EventName}` holds a {entry.ResourceType}, not a {type}.");
        return (type, entry.ResourceId);
    }
}
