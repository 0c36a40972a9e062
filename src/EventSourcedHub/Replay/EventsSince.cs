using EventSourcedHub.Http;
using System.Text.Encodings.Web;
using System.Text.Json;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Notifications;
using Marten;

namespace EventSourcedHub.Replay;

/// <summary>
/// `GET /api/sessions/{topic}/events?after={event id}|afterVersion={n}[&amp;events=a,b]`: the notifications of a session in
/// stream order, exactly as they were distributed, for an app that lost sync (rulings.md 17).
/// </summary>
public static class EventsSince
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    public static async Task<IResult> HandleAsync(HttpContext http, string topic, IDocumentStore store)
    {
        var query = http.Request.Query;
        if (query["after"].Count > 1 || query["afterVersion"].Count > 1 || query["events"].Count > 1)
            return Answers.Invalid("`after`, `afterVersion` and `events` may each be given once.");
        if (query.ContainsKey("after") && query.ContainsKey("afterVersion"))
            return Answers.Invalid("Give either `after` (an event id) or `afterVersion` (a stream version), not both.");
        long afterVersion = 0;
        if (query.TryGetValue("afterVersion", out var versionText) && (!long.TryParse(versionText, out afterVersion) || afterVersion < 0))
            return Answers.Invalid("`afterVersion` must be a whole number, 0 or more.");
        var filter = query.TryGetValue("events", out var events) ? SubscriptionRequest.ParseEvents(events) : [];

        await using var session = store.QuerySession();
        if (!await Storage.TopicDocuments.ExistsAsync(session, topic, http.RequestAborted))
            return Answers.NotFound($"Unknown topic '{topic}'.");
        if (query.TryGetValue("after", out var eventId))
        {
            if (NotificationRequest.HasControlCharacters(eventId.ToString()))
                return Answers.Invalid("`after` must not contain control characters.");
            var accepted = await session.LoadAsync<AcceptedNotification>(AcceptedNotification.KeyFor(topic, eventId.ToString()), http.RequestAborted);
            if (accepted is null)
                return Answers.Invalid($"`after`: no event with id '{eventId}' was accepted on this topic.");
            afterVersion = accepted.StreamVersion;
        }

        var recorded = await session.Events.FetchStreamAsync(topic, fromVersion: afterVersion + 1, token: http.RequestAborted);
        http.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(http.Response.Body, WriterOptions);
        writer.WriteStartArray();
        foreach (var e in recorded)
        {
            if (e.Data is not INotificationEvent notification) continue;
            if (filter.Length > 0 && !filter.Any(f => EventName.Comparer.Equals(f, notification.EventName))) continue;
            writer.WriteStartObject();
            writer.WriteNumber("version", e.Version);
            writer.WriteString("recorded", e.Timestamp);
            writer.WritePropertyName("notification");
            writer.WriteRawValue(notification.Notification, skipInputValidation: true);
            writer.WriteEndObject();
            await writer.FlushAsync(http.RequestAborted);
        }
        writer.WriteEndArray();
        await writer.FlushAsync(http.RequestAborted);
        return Results.Empty;
    }
}
