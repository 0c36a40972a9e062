using System.Threading.Channels;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Audit;

/// <summary>
/// Stores the audit documents that are not topic-stream events (rulings.md 11 and 12): delivery receipts, rejected
/// requests and read audits. Callers only queue. While events are committed, the audit trail takes what is queued
/// into its own transaction (<see cref="TakeQueued"/>, issue 11: no transaction of their own); what it did not take
/// within the batch window (`Hub:AuditBatchMilliseconds`, 200 ms) this writer stores itself, at most
/// <see cref="MaxBatch"/> per transaction, so a queued document is durable within about a second. On shutdown the
/// queue is drained at once, before the store goes away.
/// </summary>
public sealed class AuditWriter(IDocumentStore store, IOptions<HubOptions> options, ILogger<AuditWriter> logger) : IHostedService
{
    public const int MaxBatch = 500;

    private readonly TimeSpan _window = TimeSpan.FromMilliseconds(options.Value.AuditBatchMilliseconds);
    private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions());
    private Task _loop = Task.CompletedTask;

    /// <summary>Documents queued and not stored yet.</summary>
    public long Waiting => _queue.Reader.Count;

    /// <summary>Queues a document; never waits. After shutdown has drained the queue, documents are logged and dropped.</summary>
    public void Write(object document)
    {
        if (!_queue.Writer.TryWrite(document))
            logger.LogWarning("Audit document {Type} arrived after shutdown and was not stored", document.GetType().Name);
    }

    /// <summary>Hands up to <paramref name="max"/> queued documents to a caller that stores them in its own transaction.</summary>
    public List<object> TakeQueued(int max)
    {
        var taken = new List<object>();
        if (_stopping.Task.IsCompleted) return taken;
        while (taken.Count < max && _queue.Reader.TryRead(out var document)) taken.Add(document);
        return taken;
    }

    /// <summary>Documents a caller took but could not store: this writer stores them itself.</summary>
    public async Task StoreAsync(List<object> documents)
    {
        foreach (var batch in documents.Chunk(MaxBatch)) await SaveAsync(batch.ToList());
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.TrySetResult();
        _queue.Writer.TryComplete();
        await _loop.WaitAsync(cancellationToken);
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            // Gather for one window unless a full batch is already waiting or shutdown is draining.
            if (reader.Count < MaxBatch && !_stopping.Task.IsCompleted)
                await Task.WhenAny(Task.Delay(_window), _stopping.Task);
            while (reader.Count > 0)
            {
                var batch = new List<object>(Math.Min(reader.Count, MaxBatch));
                while (batch.Count < MaxBatch && reader.TryRead(out var document)) batch.Add(document);
                await SaveAsync(batch);
            }
        }
    }

    private async Task SaveAsync(List<object> batch)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // COPY instead of one INSERT per document: far less work for PostgreSQL (issue 7). The documents are
                // new (fresh ids), so plain inserts are right.
                await store.BulkInsertDocumentsAsync(batch, Weasel.Core.BulkInsertMode.InsertsOnly);
                return;
            }
            catch (Exception e) when (attempt < 3)
            {
                logger.LogWarning(e, "Storing {Count} audit documents failed (attempt {Attempt}); retrying", batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt));
            }
            catch (Exception e)
            {
                logger.LogError(e, "Could not store {Count} audit documents (receipts, rejected requests, read audits)", batch.Count);
                return;
            }
        }
    }
}
