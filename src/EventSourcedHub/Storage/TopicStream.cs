using EventSourcedHub.Channels;
using EventSourcedHub.Domain;
using JasperFx;
using Marten;
using Marten.Exceptions;

namespace EventSourcedHub.Storage;

/// <summary>Events appended to a topic's stream in one commit; the first has stream version <see cref="FirstVersion"/>.</summary>
public sealed record Appended(string Topic, long FirstVersion, IReadOnlyList<object> Events)
{
    public long LastVersion => FirstVersion + Events.Count - 1;
}

/// <summary>Too many writers raced on one topic; the client should retry (503 with Retry-After, rulings.md 8).</summary>
public sealed class TopicBusyException(string topic) : Exception($"Topic '{topic}' is busy; retry shortly.");

/// <summary>
/// The one write path of the hub: read the topic's state, decide, append with the stream version as the arbiter, commit,
/// and only then hand the committed events to distribution. A writer that loses a race reads again and decides again.
/// </summary>
/// <remarks>
/// Writers to one topic in this process take turns, so they do not starve each other with version conflicts; the
/// stream's expected version still decides between processes sharing the database.
/// </remarks>
public sealed class TopicStream(IDocumentStore store, Distribution distribution, Microsoft.Extensions.Options.IOptions<HubOptions> options)
{
    private const int OptimisticAttempts = 3;
    private const int MaxAttempts = 8;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _turns = new();

    public delegate Task<Decision<object[]>> Decide(TopicSession? state, IQuerySession session, CancellationToken ct);

    /// <param name="headers">Metadata stored with every appended event (e.g. the source event of a replayed one).</param>
    public async Task<Decision<Appended>> AppendAsync(string topic, Decide decide, CancellationToken ct, IReadOnlyDictionary<string, object>? headers = null)
    {
        var turn = _turns.GetOrAdd(topic, _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync(ct);
        try
        {
            return await AppendInTurnAsync(topic, decide, headers, ct);
        }
        finally
        {
            turn.Release();
        }
    }

    private async Task<Decision<Appended>> AppendInTurnAsync(string topic, Decide decide, IReadOnlyDictionary<string, object>? headers, CancellationToken ct)
    {
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
        {
            await using var session = store.LightweightSession();
            foreach (var (key, value) in headers ?? new Dictionary<string, object>()) session.SetHeader(key, value);
            // After a few lost races (other hub processes on the same topic), wait for the stream's row lock instead.
            var stream = attempt <= OptimisticAttempts
                ? await session.Events.FetchForWriting<TopicSession>(topic, ct)
                : await session.Events.FetchForExclusiveWriting<TopicSession>(topic, ct);
            var decision = await decide(stream.Aggregate, session, ct);
            if (decision.IsRejected) return decision.Rejection!;
            var events = decision.Value!;
            var appended = new Appended(topic, stream.CurrentVersion.GetValueOrDefault() + 1, events);
            if (events.Length == 0) return appended;

            stream.AppendMany(events);
            session.Store(TopicSnapshots.Due(topic, stream.Aggregate, appended.FirstVersion - 1, events, options.Value.SnapshotInterval).ToArray());
            try
            {
                await session.SaveChangesAsync(ct);
            }
            catch (Exception e) when (IsLostRace(e))
            {
                await Task.Delay(Random.Shared.Next(1, 5 * attempt), ct);
                continue;
            }

            distribution.Committed(appended);
            return appended;
        }
        throw new TopicBusyException(topic);
    }

    // Another writer appended first (stale expected version) or created the stream first.
    private static bool IsLostRace(Exception e) =>
        e is ConcurrencyException or ExistingStreamIdCollisionException
        || e.InnerException is ConcurrencyException or ExistingStreamIdCollisionException;
}
