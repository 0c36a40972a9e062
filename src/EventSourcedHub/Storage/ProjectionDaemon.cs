using Marten;

namespace EventSourcedHub.Storage;

/// <summary>
/// Marten's async daemon (session summaries), in Solo mode, on the process that leads the cluster only, for as long as
/// it leads (rulings.md 14, issue 14): exactly one process runs the async projections, and another takes over when
/// the leader dies.
/// </summary>
public sealed class ProjectionDaemon(IDocumentStore store, HubCluster cluster, ILogger<ProjectionDaemon> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var term = await cluster.LeadershipAsync(stopping);
                using var leading = CancellationTokenSource.CreateLinkedTokenSource(stopping, term);
                using var daemon = await store.BuildProjectionDaemonAsync();
                await daemon.StartAllAsync();
                try
                {
                    await Task.Delay(Timeout.Infinite, leading.Token);
                }
                catch (OperationCanceledException)
                {
                    // No longer the leader, or the hub is stopping.
                }
                await daemon.StopAllAsync();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "The async projections failed; starting them again");
                await Task.Delay(HubCluster.CheckInterval, CancellationToken.None);
            }
        }
    }
}
