using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Channels;

/// <summary>
/// Ends subscriptions whose lease ran out (HUB-WS-06) or whose WebSocket never connected (HUB-WS-09). It reads the
/// endpoint documents, so it also covers subscriptions made before a hub restart.
/// </summary>
public sealed class SubscriptionExpiry(
    IDocumentStore store,
    TopicStream topics,
    IOptions<HubOptions> options,
    TimeProvider clock,
    ILogger<SubscriptionExpiry> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var policy = options.Value.SubscriptionPolicy();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.ExpiryCheckMilliseconds), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await ExpireDueAsync(policy, stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Checking subscription leases failed; trying again on the next tick");
            }
        }
    }

    private async Task ExpireDueAsync(SubscriptionPolicy policy, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var unconnectedBefore = now.AddSeconds(-policy.UnconnectedSubscriptionSeconds);
        IReadOnlyList<string> dueTopics;
        await using (var query = store.QuerySession())
        {
            dueTopics = await query.Query<ChannelEndpoint>()
                .Where(e => (e.Status == EndpointStatus.Requested && e.RequestedAt <= unconnectedBefore)
                            || (e.Status == EndpointStatus.Active && e.LeaseExpiresAt <= now))
                .Select(e => e.Topic)
                .Distinct()
                .ToListAsync(ct);
        }
        foreach (var topic in dueTopics)
        {
            await topics.AppendAsync(topic,
                (state, _, _) => Task.FromResult<Decision<object[]>>(TopicDecisions.Expire(state, policy, now)), ct);
        }
    }
}
