using EventSourcedHub.Domain;
using EventSourcedHub.Storage;

namespace EventSourcedHub.Channels;

public enum EndpointStatus
{
    Requested,
    Active,
    Ended,
}

/// <summary>
/// One issued WebSocket endpoint (`/api/hub/ws/{Id}`) and the topic it belongs to. Kept after the subscription ends so that
/// an ended endpoint is answered with a denial and is never issued again (HUB-WS-12, HUB-WS-13).
/// </summary>
public sealed class ChannelEndpoint
{
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public string SubscriberName { get; set; } = "";
    public string[] Events { get; set; } = [];
    public EndpointStatus Status { get; set; }
    public DateTimeOffset RequestedAt { get; set; }
    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>Set while a dropped socket may still reconnect (`Hub:ReconnectGraceSeconds`).</summary>
    public DateTimeOffset? ReconnectBy { get; set; }
    public string? EndReason { get; set; }

    /// <summary>While active: the hub process holding the socket (<see cref="Storage.HubCluster.NodeId"/>).</summary>
    public string? Node { get; set; }
}

/// <summary>
/// Keeps <see cref="ChannelEndpoint"/> documents in step with the subscription events of every topic stream. The writer
/// writes them with the events, from the session state it decided on (issue 11: nothing is loaded in the commit).
/// </summary>
public sealed class ChannelEndpointDocuments : ISessionDocuments
{
    public IReadOnlyList<Type> DocumentTypes { get; } = [typeof(ChannelEndpoint)];

    public IEnumerable<object> Changed(TopicSession? before, TopicSession after, IReadOnlyList<object> events)
    {
        foreach (var e in events)
        {
            if (e is not ISubscriptionEvent step) continue;
            // A live subscription as it is after the append; one that ended as it was before it.
            var ended = EndReasonOf(e);
            var subscription = ended is null ? after.Subscriptions.GetValueOrDefault(step.EndpointId) : before?.Subscriptions.GetValueOrDefault(step.EndpointId);
            if (subscription is null) continue;
            yield return new ChannelEndpoint
            {
                Id = subscription.EndpointId,
                Topic = after.Id,
                SubscriberName = subscription.SubscriberName,
                Events = subscription.Events,
                Status = ended is not null ? EndpointStatus.Ended : subscription.Status == SubscriptionStatus.Active ? EndpointStatus.Active : EndpointStatus.Requested,
                RequestedAt = subscription.RequestedAt,
                LeaseExpiresAt = subscription.LeaseExpiresAt,
                ReconnectBy = ended is null ? subscription.ReconnectBy : null,
                EndReason = ended,
                Node = ended is null ? subscription.Node : null,
            };
        }
    }

    private static string? EndReasonOf(object e) => e switch
    {
        Unsubscribed => EndReasons.Unsubscribed,
        LeaseExpired => EndReasons.LeaseExpired,
        SubscriptionAbandoned => EndReasons.Abandoned,
        SubscriberDropped d => d.Reason == EndReasons.Unresponsive ? EndReasons.Unresponsive : EndReasons.ConnectionLost,
        _ => null,
    };
}

/// <summary>The `hub.reason` texts of denials.</summary>
public static class EndReasons
{
    public const string Unsubscribed = "unsubscribed";
    public const string LeaseExpired = "subscription lease expired";
    public const string Abandoned = "the WebSocket was not connected in time; subscribe again";
    public const string ConnectionLost = "connection lost; subscribe again";
    public const string Unresponsive = "unresponsive";
}
