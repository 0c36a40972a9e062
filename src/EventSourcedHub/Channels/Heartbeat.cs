using EventSourcedHub.Domain;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Channels;

/// <summary>
/// Sends the `heartbeat` event every ping interval to the subscribers that subscribed to it (HUB-HB-02). Liveness itself
/// is the WebSocket ping (HUB-HB-01); heartbeats are not logged and never cause SyncErrors.
/// </summary>
public sealed class Heartbeat(ChannelRegistry channels, IOptions<HubOptions> options, TimeProvider clock) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = options.Value.PingIntervalSeconds;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(period), clock);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var channel in channels.All.Where(c => c.WantsHeartbeat))
                channel.Send(ChannelMessages.Heartbeat(channel.Topic, Guid.NewGuid().ToString(), clock.GetUtcNow(), period));
        }
    }
}
