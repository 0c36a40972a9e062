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
    IOptions<HubOptions> options,
    TimeProvider clock,
    IHostApplicationLifetime lifetime,
    ILogger<WebSocketChannelEndpoint> logger)
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
        var channel = new SubscriberChannel(endpoint.Topic, endpointId, socket, limits.SubscriberQueueCapacity, limits.MaxInboundMessageBytes);
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
                await RecordDropAsync(endpoint.Topic, endpointId, null, EndReasons.ConnectionLost);
                channel.End(ChannelMessages.Denial(endpoint.Topic, endpoint.Events, EndReasons.ConnectionLost), EndReasons.ConnectionLost);
                await channel.RunAsync(lifetime.ApplicationStopping);
                return Results.Empty;
            }

            var closed = await channel.RunAsync(lifetime.ApplicationStopping);
            if (!closed.EndedByHub) await RecordDropAsync(endpoint.Topic, endpointId, closed.CloseCode, closed.Reason);
        }
        finally
        {
            channels.Remove(channel);
        }
        return Results.Empty;
    }

    /// <summary>Any close ends the subscription (HUB-WS-12). Recorded even while the hub shuts down, so the log matches reality.</summary>
    private async Task RecordDropAsync(string topic, string endpointId, int? closeCode, string reason)
    {
        try
        {
            await topics.AppendAsync(topic,
                (state, _, _) => Task.FromResult<Decision<object[]>>(TopicDecisions.Drop(state, endpointId, closeCode, reason, clock.GetUtcNow())),
                CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Could not record that endpoint {Endpoint} of topic {Topic} dropped", endpointId, topic);
        }
    }
}
