using EventSourcedHub.Domain;
using JasperFx.Events;
using Marten.Events.Projections;

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
}

/// <summary>Keeps <see cref="ChannelEndpoint"/> documents in step with the subscription events of every topic stream.</summary>
public sealed partial class ChannelEndpointProjection : MultiStreamProjection<ChannelEndpoint, string>
{
    public ChannelEndpointProjection()
    {
        Identity<ISubscriptionEvent>(e => e.EndpointId);
    }

    public ChannelEndpoint Create(IEvent<Subscribed> e) => new()
    {
        Id = e.Data.EndpointId,
        Topic = e.StreamKey!,
        SubscriberName = e.Data.SubscriberName,
        Events = e.Data.Events,
        Status = EndpointStatus.Requested,
        RequestedAt = e.Data.RequestedAt,
    };

    public void Apply(SubscriptionRenewed e, ChannelEndpoint endpoint)
    {
        endpoint.SubscriberName = e.SubscriberName;
        endpoint.Events = e.Events;
        if (endpoint.Status == EndpointStatus.Active) endpoint.LeaseExpiresAt = e.RenewedAt.AddSeconds(e.LeaseSeconds);
    }

    public void Apply(SubscriptionConfirmed e, ChannelEndpoint endpoint)
    {
        endpoint.Status = EndpointStatus.Active;
        endpoint.LeaseExpiresAt = e.LeaseExpiresAt;
        endpoint.ReconnectBy = null;
    }

    public void Apply(SubscriberDisconnected e, ChannelEndpoint endpoint)
    {
        endpoint.Status = EndpointStatus.Requested;
        endpoint.ReconnectBy = e.ReconnectBy;
    }

    public void Apply(Unsubscribed e, ChannelEndpoint endpoint) => End(endpoint, EndReasons.Unsubscribed);
    public void Apply(LeaseExpired e, ChannelEndpoint endpoint) => End(endpoint, EndReasons.LeaseExpired);
    public void Apply(SubscriptionAbandoned e, ChannelEndpoint endpoint) => End(endpoint, EndReasons.Abandoned);
    public void Apply(SubscriberDropped e, ChannelEndpoint endpoint) =>
        End(endpoint, e.Reason == EndReasons.Unresponsive ? EndReasons.Unresponsive : EndReasons.ConnectionLost);

    private static void End(ChannelEndpoint endpoint, string reason)
    {
        endpoint.ReconnectBy = null;
        endpoint.Status = EndpointStatus.Ended;
        endpoint.EndReason = reason;
    }
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
