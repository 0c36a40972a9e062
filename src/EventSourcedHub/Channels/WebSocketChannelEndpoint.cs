using EventSourcedHub.Audit;
using EventSourcedHub.Domain;
using EventSourcedHub.Http;
using EventSourcedHub.Security;
using EventSourcedHub.Storage;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Channels;

/// <summary>
/// `GET {hub}/ws/{endpoint}`: the subscriber's notification channel (HUB-WS-*). Connecting confirms the subscription;
/// the confirmation frame itself is sent by the topic's dispatcher, in stream order, before anything else.
/// </summary>
public sealed class WebSocketChannelEndpoint(
    IDocumentStore store,
    TopicStream topics,
    ChannelRegistry channels,
    SyncErrorReporter syncErrors,
    IOptions<HubOptions> options,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    AuditWriter audit,
    HubCluster cluster,
    ILogger<SubscriberChannel> channelLogger)
{
    public async Task<IResult> HandleAsync(HttpContext http, string endpointId)
    {
        ChannelEndpoint? endpoint;
        await using (var query = store.QuerySession())
            endpoint = await query.LoadAsync<ChannelEndpoint>(endpointId, http.RequestAborted);
        if (endpoint is null)
            return Rejected(http, StatusCodes.Status404NotFound, "No such endpoint was issued by this hub.", null, endpointId);
        if (!http.WebSockets.IsWebSocketRequest)
            return Rejected(http, StatusCodes.Status400BadRequest, "Connect to this endpoint with a WebSocket.", endpoint, endpointId);
        if (!Http.Cors.AllowsWebSocketOrigin(http.Request, options.Value.Cors))
            return Rejected(http, StatusCodes.Status403Forbidden, $"WebSockets from the origin '{http.Request.Headers.Origin}' are not allowed (Hub:Cors:WebSocketOrigins).", endpoint, endpointId);
        if (endpoint.Status != EndpointStatus.Ended && channels.Contains(endpointId))
            return Rejected(http, StatusCodes.Status409Conflict, "This endpoint already has a live WebSocket.", endpoint, endpointId);
        // Live on another hub process of the cluster (issue 14): the same 409 as on one process.
        if (endpoint.Status == EndpointStatus.Active && endpoint.Node is { } node && node != cluster.NodeId && await cluster.IsAliveAsync(node, http.RequestAborted))
            return Rejected(http, StatusCodes.Status409Conflict, "This endpoint already has a live WebSocket.", endpoint, endpointId);

        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var limits = options.Value.Limits;
        SubscriberChannel channel = null!;
        channel = new SubscriberChannel(endpoint.Topic, endpointId, socket, limits.SubscriberQueueCapacity, limits.MaxInboundMessageBytes,
            clock, refused => syncErrors.RefusedAsync(channel, endpoint.SubscriberName, refused), channelLogger, options.Value.DeliveryReceipts ? Receipts(endpoint) : null,
            options.Value.AwaitsAcks(endpoint.SubscriberName));
        if (endpoint.Status == EndpointStatus.Ended)
        {
            // Clients that reconnect to an ended endpoint stop retrying only on a denial (rulings.md 4).
            channel.End(ChannelMessages.Denial(endpoint.Topic, endpoint.Events, endpoint.EndReason ?? EndReasons.ConnectionLost), endpoint.EndReason ?? "");
            await channel.RunAsync(lifetime.ApplicationStopping);
            return Results.Empty;
        }
        if (!channels.TryAdd(channel))
        {
            channel.End(ChannelMessages.Denial(endpoint.Topic, endpoint.Events, "another WebSocket is connected to this endpoint"), "duplicate");
            await channel.RunAsync(lifetime.ApplicationStopping);
            return Results.Empty;
        }

        try
        {
            var confirmed = await topics.AppendAsync(endpoint.Topic,
                (state, _, _) => Task.FromResult(TopicDecisions.Confirm(state, endpointId, clock.GetUtcNow(), cluster.NodeId)), http.RequestAborted,
                Actor.Of(http, endpoint.SubscriberName).Headers());
            if (confirmed.IsRejected)
            {
                // Confirmed before but not connected here: its socket was lost (e.g. a hub restart), so the subscription ends.
                channels.Remove(channel);
                await syncErrors.LostBeforeAsync(endpoint.Topic, endpointId);
                channel.End(ChannelMessages.Denial(endpoint.Topic, endpoint.Events, EndReasons.ConnectionLost), EndReasons.ConnectionLost);
                await channel.RunAsync(lifetime.ApplicationStopping);
                return Results.Empty;
            }

            var closed = await channel.RunAsync(lifetime.ApplicationStopping);
            if (!closed.EndedByHub) await syncErrors.DroppedAsync(endpoint.Topic, endpointId, endpoint.SubscriberName, closed.CloseCode, closed.Reason, channel.ResumePoint);
        }
        finally
        {
            channels.Remove(channel);
        }
        return Results.Empty;
    }

    /// <summary>Names the refused upgrade for its audit (Http/RequestAudit, off the topic's stream, rulings.md 11).</summary>
    private static IResult Rejected(HttpContext http, int status, string reason, ChannelEndpoint? endpoint, string endpointId)
    {
        var details = RequestAudit.Details(http);
        details.Topic = endpoint?.Topic;
        details.SubscriberName = endpoint?.SubscriberName;
        details.EndpointId = endpointId;
        return status switch
        {
            StatusCodes.Status404NotFound => Answers.NotFound(reason),
            StatusCodes.Status409Conflict => Answers.Conflict(reason),
            StatusCodes.Status403Forbidden => Answers.Forbidden(reason),
            _ => Answers.Invalid(reason),
        };
    }

    /// <summary>One <see cref="DeliveryReceipt"/> per notification written to this socket, queued to the audit writer.</summary>
    private Action<AckOutcome> Receipts(ChannelEndpoint endpoint) => outcome => Receipt(new DeliveryReceipt
    {
        Id = Guid.CreateVersion7().ToString(),
        Topic = endpoint.Topic,
        StreamVersion = outcome.Ack.Version,
        EventId = outcome.Ack.EventId,
        EventName = outcome.Ack.EventName,
        EndpointId = endpoint.Id,
        SubscriberName = endpoint.SubscriberName,
        SentAt = outcome.SentAt,
        AckedAt = outcome.AckedAt,
        Status = outcome.Status,
        LatencyMs = outcome.AckedAt is { } acked ? Math.Round((acked - outcome.SentAt).TotalMilliseconds, 3) : null,
        TimedOut = outcome.TimedOut,
        ClosedBeforeAck = outcome.Awaited && outcome.AckedAt is null && !outcome.TimedOut,
        AckAwaited = outcome.Awaited,
    });

    /// <summary>The receipt, and its AuditEvent for the session's audit (rulings.md 34).</summary>
    private void Receipt(DeliveryReceipt receipt)
    {
        audit.Write(receipt);
        audit.Write(OffStreamAudit.ForDelivery(receipt));
    }
}
