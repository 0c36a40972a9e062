using EventSourcedHub.Http;
using System.Text.Json.Nodes;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Storage;
using Marten;
using Npgsql;

namespace EventSourcedHub.Audit;

/// <summary>
/// `GET /api/sessions/{topic}/verify`: recomputes the topic's hash chain from the stored event rows (`mt_events`) and
/// compares it with the links written when the events were appended. Any edited, deleted or inserted row breaks it.
/// </summary>
public static class VerifyChain
{
    public sealed record StoredEvent(long Version, string Type, DateTimeOffset Timestamp, string Json);

    public static async Task<IResult> HandleAsync(string topic, IDocumentStore store, CancellationToken ct)
    {
        await using var query = store.QuerySession();
        var stream = await query.Events.FetchStreamStateAsync(topic, ct);
        if (stream is null) return Answers.NotFound($"Unknown topic '{topic}'.");
        var links = await query.Query<ChainLink>().Where(l => l.Topic == topic).OrderBy(l => l.StreamVersion).ToListAsync(ct);
        var rows = await ReadEventsAsync(store, topic, ct);
        var progress = await query.LoadAsync<AuditProgress>(topic, ct);
        return Results.Text(Verify(stream.Version, rows, links, progress).ToJsonString(), "application/json");
    }

    public static JsonObject Verify(long expectedEvents, IReadOnlyList<StoredEvent> rows, IReadOnlyList<ChainLink> links, AuditProgress? progress = null)
    {
        var byVersion = rows.GroupBy(r => r.Version).ToDictionary(g => g.Key, g => g.ToList());
        var linkByVersion = links.GroupBy(l => l.StreamVersion).ToDictionary(g => g.Key, g => g.First());
        var last = Math.Max(expectedEvents, Math.Max(rows.Count == 0 ? 0 : rows.Max(r => r.Version), links.Count == 0 ? 0 : links.Max(l => l.StreamVersion)));
        var previous = HashChain.Genesis;
        for (long version = 1; version <= last; version++)
        {
            string? problem = null;
            byVersion.TryGetValue(version, out var found);
            linkByVersion.TryGetValue(version, out var link);
            if (found is null) problem = "the stored event is missing";
            else if (found.Count > 1) problem = "the stream holds more than one event with this version";
            else if (link is null) problem = "no chain link was recorded for this event";
            else if (version > expectedEvents) problem = "the event is beyond the session's recorded version";
            else
            {
                var row = found[0];
                var contentHash = HashChain.ContentHash(row.Version, row.Type, row.Timestamp, row.Json);
                if (contentHash != link.ContentHash) problem = "the stored event differs from the event as it was recorded";
                else
                {
                    var hash = HashChain.Link(previous, contentHash);
                    if (hash != link.Hash) problem = "the chain link does not follow from the previous one";
                    previous = hash;
                }
            }
            if (problem is null && progress?.BrokenAt == version) problem = $"the audit trail found the chain broken here: {progress.BrokenReason}";
            if (problem is not null)
                return new JsonObject { ["valid"] = false, ["events"] = rows.Count, ["firstBrokenVersion"] = version, ["reason"] = problem };
        }
        return new JsonObject { ["valid"] = true, ["events"] = rows.Count, ["head"] = previous };
    }

    public static async Task<List<StoredEvent>> ReadEventsAsync(IDocumentStore store, string topic, CancellationToken ct)
    {
        await using var connection = store.Storage.Database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(
            $"select version, type, timestamp, data::text from {HubStore.Schema}.mt_events where stream_id = @topic order by version, seq_id", connection);
        command.Parameters.AddWithValue("topic", topic);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<StoredEvent>();
        while (await reader.ReadAsync(ct))
            rows.Add(new StoredEvent(reader.GetInt64(0), reader.GetString(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3)));
        return rows;
    }
}
