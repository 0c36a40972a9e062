using System.Threading.Channels;
using EventSourcedHub.Domain;
using JasperFx;
using Marten;
using Marten.Exceptions;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Storage;

/// <summary>
/// A decided append waiting for its commit: <see cref="Events"/> go to <see cref="Topic"/>'s stream right after
/// <see cref="ExpectedVersion"/> (0: the stream is new), with the session documents they change and the snapshots
/// they make due. Everything here was decided and built by the writer; the commit only writes it.
/// </summary>
public sealed class PendingAppend(string topic, long expectedVersion, object[] events, StateChanges state, TopicSessionSnapshot[] snapshots,
    IReadOnlyDictionary<string, object>? headers)
{
    public string Topic { get; } = topic;
    public long ExpectedVersion { get; } = expectedVersion;
    public object[] Events { get; } = events;
    public StateChanges State { get; } = state;
    public TopicSessionSnapshot[] Snapshots { get; } = snapshots;
    public IReadOnlyDictionary<string, object>? Headers { get; } = headers;
    internal System.Diagnostics.ActivityContext Trace { get; } = System.Diagnostics.Activity.Current?.Context ?? default;

    // Continuations run off the commit loop, so one slow request never holds up the next batch.
    internal TaskCompletionSource Committed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Group commit (issue 7): decided appends from concurrent writers, on any topics, share one transaction. One commit is
/// in flight at a time; whatever arrived meanwhile (up to <see cref="HubOptions.MaxCommitBatch"/>) forms the next batch.
/// There is no fixed wait: a lone append commits at once, and batches grow only when commits are the bottleneck.
/// </summary>
/// <remarks>
/// Each append keeps its own stream's expected-version check. If the shared transaction fails, every append of the
/// batch is committed again on its own, so a lost race on one topic fails that append alone (its writer decides again,
/// see <see cref="TopicStream"/>) and never the others.
/// </remarks>
public sealed class GroupCommit : IAsyncDisposable
{
    private readonly IDocumentStore _store;
    private readonly int _maxBatch;
    private readonly Channel<PendingAppend> _queue = Channel.CreateUnbounded<PendingAppend>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _loop;

    private readonly HubCluster _cluster;

    public GroupCommit(IDocumentStore store, HubCluster cluster, IOptions<HubOptions> options)
    {
        _store = store;
        _cluster = cluster;
        _maxBatch = options.Value.MaxCommitBatch;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Completes once <paramref name="append"/> is committed; throws what its commit threw (a lost race included).</summary>
    public Task CommitAsync(PendingAppend append)
    {
        if (!_queue.Writer.TryWrite(append)) append.Committed.TrySetException(new ObjectDisposedException(nameof(GroupCommit)));
        return append.Committed.Task;
    }

    private async Task RunAsync()
    {
        var batch = new List<PendingAppend>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var next)) batch.Add(next);
            await CommitBatchAsync(batch);
            batch.Clear();
        }
    }

    private async Task CommitBatchAsync(List<PendingAppend> batch)
    {
        using var tracing = Observability.HubTracing.StartCommitBatch(batch);
        Observability.HubMetrics.CommitBatch(batch.Count);
        try
        {
            await SaveAsync(batch);
            foreach (var append in batch) append.Committed.TrySetResult();
            return;
        }
        catch (Exception e) when (batch.Count == 1)
        {
            batch[0].Committed.TrySetException(e);
            return;
        }
        catch (Exception)
        {
            // Which append failed is not told reliably: commit each alone, so only the failing one fails.
        }
        foreach (var append in batch)
        {
            try
            {
                await SaveAsync([append]);
                append.Committed.TrySetResult();
            }
            catch (Exception e)
            {
                append.Committed.TrySetException(e);
            }
        }
    }

    private async Task SaveAsync(IReadOnlyList<PendingAppend> batch)
    {
        await using var session = _store.LightweightSession();
        foreach (var append in batch)
        {
            var action = append.ExpectedVersion == 0
                ? session.Events.StartStream<TopicSession>(append.Topic, append.Events)
                : session.Events.Append(append.Topic, append.ExpectedVersion + append.Events.Length, append.Events);
            foreach (var (key, value) in append.Headers ?? new Dictionary<string, object>())
            {
                foreach (var e in action.Events) e.SetHeader(key, value);
            }
            TopicDocuments.Write(session, append.State);
            AppendListener.Queue(session, _cluster.NodeId, append.Topic, append.ExpectedVersion + append.Events.Length);
            if (append.Snapshots.Length > 0) session.Store(append.Snapshots);
        }
        await session.SaveChangesAsync();
    }

    /// <summary>Another writer appended first (stale expected version) or created the stream first.</summary>
    public static bool IsLostRace(Exception e) =>
        e is ConcurrencyException or ExistingStreamIdCollisionException
        || e.InnerException is ConcurrencyException or ExistingStreamIdCollisionException;

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
    }
}
