using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Channels;

/// <summary>
/// Ends subscriptions whose lease ran out (HUB-WS-06) or whose WebSocket never connected (HUB-WS-09), and those whose
/// socket was held by a hub process that has died (issue 14). It reads the endpoint documents, so it also covers
/// subscriptions made before a hub restart. It runs on the process that leads the cluster only: once per cluster.
/// </summary>
public sealed class SubscriptionExpiry(
    IDocumentStore store,
    TopicStream topics,
    SyncErrorReporter syncErrors,
    IOptions<HubOptions> options,
    TimeProvider clock,
    HubCluster cluster,
    ILogger<SubscriptionExpiry> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var policy = options.Value.SubscriptionPolicy();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.ExpiryCheckMilliseconds), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!cluster.IsLeader) continue;
            try
            {
                await ExpireDueAsync(policy, stoppingToken);
                await EndOrphansAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Checking subscription leases failed; trying again on the next tick");
            }
        }
    }

    /// <summary>Active subscriptions whose socket's hub process is gone: nobody will ever deliver to them.</summary>
    private async Task EndOrphansAsync(CancellationToken ct)
    {
        IReadOnlyList<ChannelEndpoint> active;
        await using (var query = store.QuerySession())
            active = await query.Query<ChannelEndpoint>().Where(e => e.Status == EndpointStatus.Active && e.Node != null && e.Node != cluster.NodeId).ToListAsync(ct);
        foreach (var node in active.GroupBy(e => e.Node!))
        {
            if (await cluster.IsAliveAsync(node.Key, ct)) continue;
            foreach (var orphan in node) await syncErrors.ProcessLostAsync(orphan.Topic, orphan.Id, node.Key);
        }
    }

    private async Task ExpireDueAsync(SubscriptionPolicy policy, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var unconnectedBefore = now.AddSeconds(-policy.UnconnectedSubscriptionSeconds);
        IReadOnlyList<ChannelEndpoint> due;
        await using (var query = store.QuerySession())
        {
            due = await query.Query<ChannelEndpoint>()
                .Where(e => (e.Status == EndpointStatus.Requested && e.ReconnectBy == null && e.RequestedAt <= unconnectedBefore)
                            || (e.Status == EndpointStatus.Requested && e.ReconnectBy <= now)
                            || (e.Status != EndpointStatus.Ended && e.LeaseExpiresAt <= now))
                .ToListAsync(ct);
        }
        // A reconnect grace that ran out ends like a dropped socket, with a SyncError (HUB-WS-11).
        foreach (var lapsed in due.Where(e => e.ReconnectBy <= now && !(e.LeaseExpiresAt <= now)))
            await syncErrors.GraceEndedAsync(lapsed.Topic, lapsed.Id);
        foreach (var topic in due.Select(e => e.Topic).Distinct())
        {
            await topics.AppendAsync(topic,
                (state, _, _) => Task.FromResult<Decision<object[]>>(TopicDecisions.Expire(state, policy, now)), ct, Security.Actor.Hub.Headers());
        }
    }
}
