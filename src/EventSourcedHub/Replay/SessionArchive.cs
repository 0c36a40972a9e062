using EventSourcedHub.Http;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSourcedHub.Channels;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Storage;
using Marten;
using Marten.Exceptions;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Replay;

/// <summary>
/// A session's log as NDJSON, one recorded event per line (`topic`, `version`, `recorded`, `type`, `data`): exported from
/// one hub and imported into another under the same topic (the stored notifications name it). Types are the stable stored
/// names (HubStore.EventTypes).
/// </summary>
public sealed class SessionArchive(IDocumentStore store, IOptions<HubOptions> options, IEnumerable<ICommitObserver> observers, IEnumerable<ISessionDocuments> slices,
    HubCluster cluster)
{
    public const string MediaType = "application/x-ndjson";

    /// <summary>`GET /api/sessions/{topic}/export`: streamed, so a long session needs no memory of its own size.</summary>
    public async Task<IResult> ExportAsync(HttpContext http, string topic)
    {
        await using var session = store.QuerySession();
        var state = await session.Events.FetchStreamStateAsync(topic, http.RequestAborted);
        if (state is null) return Answers.NotFound($"Unknown topic '{topic}'.");

        var names = HubStore.EventTypes.ToDictionary(kv => kv.Value, kv => kv.Key);
        var serializer = store.Options.Serializer();
        http.Response.ContentType = MediaType;
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"{Uri.EscapeDataString(topic)}.ndjson\"";
        const int page = 500;
        for (long from = 1; from <= state.Version; from += page)
        {
            var events = await session.Events.FetchStreamAsync(topic, version: Math.Min(from + page - 1, state.Version), fromVersion: from, token: http.RequestAborted);
            var lines = new StringBuilder();
            foreach (var e in events)
            {
                var line = new JsonObject
                {
                    ["topic"] = topic,
                    ["version"] = e.Version,
                    ["recorded"] = e.Timestamp,
                    ["type"] = names[e.EventType],
                    ["data"] = JsonNode.Parse(serializer.ToJson(e.Data)),
                };
                lines.Append(line.ToJsonString()).Append('\n');
            }
            await http.Response.WriteAsync(lines.ToString(), http.RequestAborted);
        }
        return Results.Empty;
    }

    /// <summary>
    /// `POST /api/sessions/{topic}/import`: appends an exported log as a new topic in one transaction. The topic and the
    /// subscription endpoints in the log must be new to this hub (409 otherwise); the original recorded times are not
    /// kept (the log's order is).
    /// </summary>
    public async Task<IResult> ImportAsync(HttpContext http, string topic)
    {
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = options.Value.Limits.MaxImportBytes;
        var mediaType = http.Request.ContentType?.Split(';')[0].Trim();
        if (!string.Equals(mediaType, MediaType, StringComparison.OrdinalIgnoreCase))
            return Answers.Error(StatusCodes.Status415UnsupportedMediaType, Hl7.Fhir.Model.OperationOutcome.IssueType.NotSupported,
                $"Send the export as {MediaType}.");

        var serializer = store.Options.Serializer();
        var events = new List<object>();
        using (var reader = new StreamReader(http.Request.Body, new UTF8Encoding(false, throwOnInvalidBytes: true)))
        {
            string? line;
            var number = 0;
            try
            {
                while ((line = await reader.ReadLineAsync(http.RequestAborted)) is not null)
                {
                    number++;
                    if (line.Trim().Length == 0) continue;
                    var parsed = ParseLine(line, topic, events.Count + 1, serializer);
                    if (parsed.IsRejected) return Answers.Invalid($"Line {number}: {parsed.Rejection!.Message}");
                    events.Add(parsed.Value!);
                }
            }
            catch (DecoderFallbackException)
            {
                return Answers.Invalid($"Line {number + 1}: not valid UTF-8.");
            }
        }
        if (events.Count == 0) return Answers.Invalid("The body holds no events.");

        await using var session = store.LightweightSession();
        if (await session.Events.FetchStreamStateAsync(topic, http.RequestAborted) is not null)
            return Answers.Conflict($"Topic '{topic}' already exists on this hub; import into a new topic.");
        var endpoints = events.OfType<ISubscriptionEvent>().Select(e => e.EndpointId).Distinct().ToArray();
        if (endpoints.Length > 0 && (await session.LoadManyAsync<ChannelEndpoint>(http.RequestAborted, endpoints)).Count > 0)
            return Answers.Conflict("The log names WebSocket endpoints this hub already issued; it was imported here before.");

        session.Events.StartStream<TopicSession>(topic, events.ToArray());
        session.StoreObjects(TopicDocuments.FromLog(topic, events, slices));
        session.Store(TopicSnapshots.Advance(topic, null, 0, events, options.Value.SnapshotInterval).Due);
        AppendListener.Queue(session, cluster.NodeId, topic, events.Count);
        try
        {
            await session.SaveChangesAsync(http.RequestAborted);
        }
        catch (ExistingStreamIdCollisionException)
        {
            return Answers.Conflict($"Topic '{topic}' already exists on this hub; import into a new topic.");
        }
        foreach (var observer in observers) observer.Committed(new Appended(topic, 1, events));
        return Results.Json(new { topic, events = events.Count }, statusCode: StatusCodes.Status201Created);
    }

    private static readonly System.Reflection.NullabilityInfoContext Nullability = new();

    /// <summary>The first non-nullable member an imported event lacks (the store and every reader rely on them).</summary>
    private static string? MissingMember(object e)
    {
        foreach (var property in e.GetType().GetProperties())
        {
            var value = property.GetValue(e);
            var required = property.PropertyType.IsValueType
                ? Nullable.GetUnderlyingType(property.PropertyType) is null && value is DateTimeOffset offset && offset == default
                : Nullability.Create(property).ReadState == System.Reflection.NullabilityState.NotNull && value is null;
            if (required) return char.ToLowerInvariant(property.Name[0]) + property.Name[1..];
        }
        return null;
    }

    private static Decision<object> ParseLine(string line, string topic, long expectedVersion, ISerializer serializer)
    {
        JsonObject? record;
        try
        {
            record = JsonNode.Parse(line) as JsonObject;
        }
        catch (JsonException e)
        {
            return Rejection.Invalid($"not JSON ({e.Message}).");
        }
        if (record is null) return Rejection.Invalid("each line must be a JSON object.");
        using (var document = JsonDocument.Parse(line))
        {
            // Imported events go to the store as they are, so their text must be storable (rulings.md 30).
            if (StorableText.FindUnstorable(document.RootElement) is { } unstorable) return StorableText.Refused($"`{unstorable}`");
        }
        if (record["topic"] is not JsonValue from || !from.TryGetValue<string>(out var recordedTopic) || recordedTopic != topic)
            return Rejection.Invalid($"`topic` must be '{topic}': a log is imported under the topic it was recorded in (use a replay to copy it to another topic).");
        if (record["version"] is not JsonValue v || !v.TryGetValue<long>(out var version) || version != expectedVersion)
            return Rejection.Invalid($"`version` must be {expectedVersion}: lines are the stream in order, from 1, without gaps.");
        if (record["type"] is not JsonValue t || !t.TryGetValue<string>(out var type) || !HubStore.EventTypes.TryGetValue(type, out var clrType))
            return Rejection.Invalid($"`type` must be one of: {string.Join(", ", HubStore.EventTypes.Keys)}.");
        if (record["data"] is not JsonObject data) return Rejection.Invalid("`data` must be an object.");
        try
        {
            using var stream = new MemoryStream(Encoding.UTF8.GetBytes(data.ToJsonString()));
            var parsed = serializer.FromJson(clrType, stream);
            if (MissingMember(parsed) is { } missing) return Rejection.Invalid($"`data.{missing}` is required for a {type} event.");
            return parsed;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            return Rejection.Invalid($"`data` is not a valid {type} event ({e.Message}).");
        }
    }
}
