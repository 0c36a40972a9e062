using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Audit;

/// <summary>
/// An audit document PostgreSQL refused even alone (rulings.md 30: no record is dropped because another is bad): kept
/// here, escaped, for an operator (`GET /api/audit/dead-letters`, table `mt_doc_auditdeadletter`).
/// </summary>
public sealed class AuditDeadLetter
{
    public string Id { get; set; } = "";
    public DateTimeOffset At { get; set; }

    /// <summary>The document's type (`AuditRecord`, `DeliveryReceipt`).</summary>
    public string DocumentType { get; set; } = "";

    /// <summary>Why PostgreSQL refused it.</summary>
    public string Error { get; set; } = "";

    /// <summary>The document as JSON, with anything PostgreSQL cannot store written as an escape.</summary>
    public string Document { get; set; } = "";
}

/// <summary>
/// Stores the audit documents that are not topic-stream events (rulings.md 11 and 12): delivery receipts, rejected
/// requests and read audits. Callers only queue. While events are committed, the audit trail takes what is queued
/// into its own transaction (<see cref="TakeQueued"/>, issue 11: no transaction of their own); what it did not take
/// within the batch window (`Hub:AuditBatchMilliseconds`, 200 ms) this writer stores itself, at most
/// <see cref="MaxBatch"/> per transaction, so a queued document is durable within about a second.
/// </summary>
/// <remarks>
/// Nothing is dropped: while the database is away a batch is retried until it is stored; a batch PostgreSQL refuses is
/// split until the refused document is alone, the rest is stored and that one goes to <see cref="AuditDeadLetter"/>.
/// The queue is bounded: beyond `Hub:Limits:AuditQueueCapacity` waiting documents, new requests are refused with 503
/// (<see cref="HasRoom"/>, Http/RequestAudit) until it drains. On shutdown the queue is drained at once.
/// </remarks>
public sealed class AuditWriter(IDocumentStore store, IOptions<HubOptions> options, ILogger<AuditWriter> logger) : IHostedService
{
    public const int MaxBatch = 500;
    private static readonly object Wake = new();

    private readonly TimeSpan _window = TimeSpan.FromMilliseconds(options.Value.AuditBatchMilliseconds);
    private readonly int _capacity = options.Value.Limits.AuditQueueCapacity;
    private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly Channel<object> _queue = Channel.CreateUnbounded<object>(new UnboundedChannelOptions());
    // Documents the audit trail took but could not store: only this writer stores them, so a bad one cannot fail the trail twice.
    private readonly ConcurrentQueue<object> _returned = new();
    private long _waiting;
    private Task _loop = Task.CompletedTask;

    /// <summary>Whether the queue has room for the records of another request.</summary>
    public bool HasRoom => Interlocked.Read(ref _waiting) < _capacity;

    /// <summary>Documents queued and not stored yet.</summary>
    public long Waiting => Interlocked.Read(ref _waiting);

    /// <summary>Queues a document; never waits. After shutdown has drained the queue, documents are logged and dropped.</summary>
    public void Write(object document)
    {
        if (_queue.Writer.TryWrite(document)) Interlocked.Increment(ref _waiting);
        else logger.LogError("Audit document {Type} arrived after shutdown and was not stored", document.GetType().Name);
    }

    /// <summary>Hands up to <paramref name="max"/> queued documents to a caller that stores them in its own transaction.</summary>
    public List<object> TakeQueued(int max)
    {
        var taken = new List<object>();
        if (_stopping.Task.IsCompleted) return taken;
        while (taken.Count < max && _queue.Reader.TryRead(out var document))
        {
            if (document != Wake) taken.Add(document);
        }
        Interlocked.Add(ref _waiting, -taken.Count);
        return taken;
    }

    /// <summary>Documents a caller took but could not store: this writer stores them itself, never handing them out again.</summary>
    public void Return(List<object> documents)
    {
        foreach (var document in documents) _returned.Enqueue(document);
        Interlocked.Add(ref _waiting, documents.Count);
        _queue.Writer.TryWrite(Wake);
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
        while (await reader.WaitToReadAsync() || !_returned.IsEmpty)
        {
            // Gather for one window unless a full batch is already waiting or shutdown is draining.
            if (reader.Count < MaxBatch && !_stopping.Task.IsCompleted)
                await Task.WhenAny(Task.Delay(_window), _stopping.Task);
            while (reader.Count > 0 || !_returned.IsEmpty)
            {
                var batch = new List<object>(MaxBatch);
                while (batch.Count < MaxBatch && _returned.TryDequeue(out var returned)) batch.Add(returned);
                while (batch.Count < MaxBatch && reader.TryRead(out var document))
                {
                    if (document != Wake) batch.Add(document);
                }
                if (batch.Count == 0) continue;
                await SaveAsync(batch);
                Interlocked.Add(ref _waiting, -batch.Count);
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
            catch (Exception e) when (DatabaseFailures.IsUnavailable(e))
            {
                // Kept and retried until the database is back; meanwhile the queue fills and requests get 503.
                if (_stopping.Task.IsCompleted && attempt >= 10)
                {
                    logger.LogCritical(e, "Shutting down while the database cannot be reached: {Count} audit documents were not stored", batch.Count);
                    return;
                }
                if (attempt == 1 || attempt % 20 == 0)
                    logger.LogWarning("Storing {Count} audit documents failed (attempt {Attempt}): the database cannot be reached; retrying", batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * attempt)));
            }
            catch (Exception e) when (DatabaseFailures.IsBadData(e) || attempt >= 3)
            {
                if (batch.Count > 1)
                {
                    // Isolate what PostgreSQL refuses: store each half on its own.
                    var half = batch.Count / 2;
                    await SaveAsync(batch[..half]);
                    await SaveAsync(batch[half..]);
                    return;
                }
                if (e.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation }
                    || e is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation })
                    return; // Stored already (by a transaction whose outcome its writer could not learn).
                await DeadLetterAsync(batch[0], e);
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Storing {Count} audit documents failed (attempt {Attempt}); retrying", batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt));
            }
        }
    }

    private async Task DeadLetterAsync(object document, Exception error)
    {
        var letter = new AuditDeadLetter
        {
            Id = Guid.CreateVersion7().ToString(),
            At = DateTimeOffset.UtcNow,
            DocumentType = document.GetType().Name,
            Error = StorableText.Escape(error.InnerException?.Message ?? error.Message),
            Document = StorableText.Escape(JsonSerializer.Serialize(document, document.GetType())),
        };
        logger.LogError(error, "PostgreSQL refused a {Type} audit document; it is kept as dead letter {Id} (GET /api/audit/dead-letters)",
            letter.DocumentType, letter.Id);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var session = store.LightweightSession();
                session.Insert(letter);
                await session.SaveChangesAsync();
                return;
            }
            catch (Exception e) when (DatabaseFailures.IsUnavailable(e) && !(_stopping.Task.IsCompleted && attempt >= 10))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 100 * attempt)));
            }
            catch (Exception e)
            {
                logger.LogCritical(e, "Dead letter {Id} could not be stored either: {Document}", letter.Id, letter.Document);
                return;
            }
        }
    }
}
