namespace EventSourcedHub.Domain;

/// <summary>The hub's tunables that the decisions depend on (rulings.md 15).</summary>
public sealed record SubscriptionPolicy(int DefaultLeaseSeconds, int MaxLeaseSeconds, int UnconnectedSubscriptionSeconds)
{
    public static readonly SubscriptionPolicy Default = new(7200, 86400, 60);

    public int LeaseFor(int? requested) => Math.Min(requested ?? DefaultLeaseSeconds, MaxLeaseSeconds);
}

/// <summary>
/// The decisions of a FHIRcast session: current state + request -> the events to append, or a rejection.
/// Pure: time and new ids are passed in, nothing is read or written here.
/// </summary>
public static class TopicDecisions
{
    public static Decision<object[]> Subscribe(TopicSession? state, SubscribeRequest request, SubscriptionPolicy policy, DateTimeOffset now, string newEndpointId)
    {
        var name = request.SubscriberName ?? SubscriptionRequest.DefaultSubscriberName;
        var lease = policy.LeaseFor(request.LeaseSeconds);
        if (request.EndpointId is null)
            return new object[] { new Subscribed(newEndpointId, name, request.Events, lease, now) };

        // A re-subscription names an endpoint of this topic that is still live (HUB-SUB-11).
        if (state?.Subscriptions.ContainsKey(request.EndpointId) != true)
            return Rejection.Invalid("`hub.channel.endpoint` is not a live subscription of this topic; subscribe without it to get a new endpoint.");
        return new object[] { new SubscriptionRenewed(request.EndpointId, name, request.Events, lease, now) };
    }

    public static Decision<object[]> Unsubscribe(TopicSession? state, UnsubscribeRequest request, DateTimeOffset now)
    {
        if (state?.Subscriptions.ContainsKey(request.EndpointId) != true)
            return Rejection.Invalid("`hub.channel.endpoint` does not match a live subscription of this topic (HUB-UNS-02).");
        return new object[] { new Unsubscribed(request.EndpointId, now) };
    }

    /// <summary>The WebSocket of a requested subscription connected: confirm it (HUB-WS-02).</summary>
    public static Decision<object[]> Confirm(TopicSession? state, string endpointId, DateTimeOffset now)
    {
        if (state is null || !state.Subscriptions.TryGetValue(endpointId, out var subscription))
            return Rejection.NotFound("This subscription has ended; subscribe again.");
        if (subscription.Status != SubscriptionStatus.Requested)
            return Rejection.Conflict("This endpoint already has a confirmed WebSocket.");
        return new object[] { new SubscriptionConfirmed(endpointId, now, now.AddSeconds(subscription.LeaseSeconds)) };
    }

    /// <summary>The socket closed or failed. Ending a subscription that already ended is nothing to record.</summary>
    public static object[] Drop(TopicSession? state, string endpointId, int? closeCode, string reason, DateTimeOffset now) =>
        state?.Subscriptions.ContainsKey(endpointId) == true
            ? [new SubscriberDropped(endpointId, closeCode, reason, now)]
            : [];

    /// <summary>Leases that have run out and subscriptions never connected in time (HUB-WS-06, HUB-WS-09).</summary>
    public static object[] Expire(TopicSession? state, SubscriptionPolicy policy, DateTimeOffset now)
    {
        if (state is null) return [];
        var ended = new List<object>();
        foreach (var s in state.Subscriptions.Values.OrderBy(s => s.RequestedAt))
        {
            if (s.Status == SubscriptionStatus.Active && s.LeaseExpiresAt <= now)
                ended.Add(new LeaseExpired(s.EndpointId, now));
            else if (s.Status == SubscriptionStatus.Requested && s.RequestedAt.AddSeconds(policy.UnconnectedSubscriptionSeconds) <= now)
                ended.Add(new SubscriptionAbandoned(s.EndpointId, now));
        }
        return ended.ToArray();
    }

    /// <summary>An event request (HUB-EVT-01): what it does to the session's context, and the text to distribute.</summary>
    public static Decision<object[]> Publish(TopicSession? state, NotificationRequest request, Func<string> newVersionId)
    {
        if (state is null) return Rejection.UnknownTopic(request.Topic);
        var name = request.EventName;

        if (name.IsHomeOpen)
            return new object[] { new HomeOpened(request.Id, name.Value, request.Json) };
        if (name.IsOpen)
            return Open(state, request, newVersionId);
        if (name.IsClose)
            return Close(state, request);
        return new object[] { new NotificationRelayed(request.Id, name.Value, request.Json) };
    }

    private static Decision<object[]> Open(TopicSession state, NotificationRequest request, Func<string> newVersionId)
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

        var versionId = newVersionId();
        var prior = state.FindAnchor(type, id)?.VersionId;
        var notification = NotificationText.Stamp(request.Json, versionId, prior);
        return new object[] { new ContextOpened(request.Id, request.EventName.Value, type, id, versionId, prior, request.ContextJson, notification) };
    }

    private static Decision<object[]> Close(TopicSession state, NotificationRequest request)
    {
        var anchor = FindAnchorEntry(request, requireResource: false);
        if (anchor.IsRejected) return anchor.Rejection!;
        var (type, id) = anchor.Value;
        if (state.FindAnchor(type, id) is null)
            return Rejection.Conflict($"{type}/{id} is not an open context of this topic (HUB-CTX-05).");
        return new object[] { new ContextClosed(request.Id, request.EventName.Value, type, id, request.Json) };
    }

    /// <summary>The anchor resource of an open or close: the entry under the anchor key, whose id names the anchor.</summary>
    private static Decision<(string Type, string Id)> FindAnchorEntry(NotificationRequest request, bool requireResource)
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
