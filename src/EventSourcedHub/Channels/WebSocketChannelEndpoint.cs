using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
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
    IHostApplicationLifetime lifetime)
{
    public async Task<IResult> HandleAsync(HttpContext http, string endpointId)
    {
        ChannelEndpoint? endpoint;
        await using (var query = store.QuerySession())
            endpoint = await query.LoadAsync<ChannelEndpoint>(endpointId, http.RequestAborted);
        if (endpoint is null)
            return OperationOutcomes.NotFound("No such endpoint was issued by this hub.");
        if (!http.WebSockets.IsWebSocketRequest)
            return OperationOutcomes.Invalid("Connect to this endpoint with a WebSocket.");
        if (endpoint.Status != EndpointStatus.Ended && channels.Contains(endpointId))
            return OperationOutcomes.Conflict("This endpoint already has a live WebSocket.");

        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        var limits = options.Value.Limits;
        SubscriberChannel channel = null!;
        channel = new SubscriberChannel(endpoint.Topic, endpointId, socket, limits.SubscriberQueueCapacity, limits.MaxInboundMessageBytes,
            clock, refused => syncErrors.RefusedAsync(channel, refused));
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
                (state, _, _) => Task.FromResult(TopicDecisions.Confirm(state, endpointId, clock.GetUtcNow())), http.RequestAborted);
            if (confirmed.IsRejected)
            {
                // Confirmed before but not connected here: its socket was lost (e.g. a hub restart), so the subscription ends.
                channels.Remove(channel);
                await syncErrors.DroppedAsync(endpoint.Topic, endpointId, 1000, EndReasons.ConnectionLost, 0);
                channel.End(ChannelMessages.Denial(endpoint.Topic, endpoint.Events, EndReasons.ConnectionLost), EndReasons.ConnectionLost);
                await channel.RunAsync(lifetime.ApplicationStopping);
                return Results.Empty;
            }

            var closed = await channel.RunAsync(lifetime.ApplicationStopping);
            if (!closed.EndedByHub) await syncErrors.DroppedAsync(endpoint.Topic, endpointId, closed.CloseCode, closed.Reason, channel.ResumePoint);
        }
        finally
        {
            channels.Remove(channel);
        }
        return Results.Empty;
    }
}
