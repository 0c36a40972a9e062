using System.Text.Encodings.Web;
using System.Text.Json;

namespace EventSourcedHub.Domain;

/// <summary>What "current context" means to readers: the get-current-context body and the opens replayed to a new subscriber.</summary>
public static class CurrentContext
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };

    /// <summary>
    /// The get-current-context body (HUB-GCC-02/03): the current anchor's context exactly as opened, plus one `content`
    /// entry holding a collection Bundle (rulings.md 6); `{"context.type":"","context":[]}` when nothing is current.
    /// </summary>
    public static string Render(TopicSession state)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            var current = state.Current;
            writer.WriteString("context.type", current?.AnchorType ?? "");
            if (current is not null) writer.WriteString("context.versionId", current.VersionId);
            writer.WritePropertyName("context");
            writer.WriteStartArray();
            if (current is not null)
            {
                using var context = JsonDocument.Parse(current.Context);
                foreach (var entry in context.RootElement.EnumerateArray())
                    writer.WriteRawValue(entry.GetRawText(), skipInputValidation: true);
                writer.WriteStartObject();
                writer.WriteString("key", "content");
                writer.WriteStartObject("resource");
                writer.WriteString("resourceType", "Bundle");
                writer.WriteString("type", "collection");
                if (!current.Resources.IsEmpty)
                {
                    writer.WriteStartArray("entry");
                    foreach (var resource in current.Content)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("fullUrl", resource.Key);
                        writer.WritePropertyName("resource");
                        writer.WriteRawValue(resource.Json, skipInputValidation: true);
                        writer.WriteEndObject();
                    }
                    writer.WriteEndArray();
                }
                writer.WriteEndObject();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// The opens a new subscriber is sent right after its confirmation (HUB-WS-04): per anchor type the most recent open
    /// that was not closed, oldest first, only those it subscribed to, each with its anchor's current `context.versionId`.
    /// </summary>
    public static IEnumerable<string> OpensFor(TopicSession state, Subscription subscription)
    {
        var latestPerType = state.Anchors
            .Select((anchor, position) => (anchor, position))
            .GroupBy(a => a.anchor.AnchorType, StringComparer.OrdinalIgnoreCase)
            .Select(g => g.Last())
            .OrderBy(a => a.position);
        foreach (var (anchor, _) in latestPerType)
        {
            var openName = ReadEventName(anchor.OpenNotification);
            if (openName is not null && subscription.Events.Any(e => EventName.Comparer.Equals(e, openName)))
                yield return NotificationText.Stamp(anchor.OpenNotification, anchor.VersionId, null);
        }
    }

    private static string? ReadEventName(string notification)
    {
        using var doc = JsonDocument.Parse(notification);
        return doc.RootElement.TryGetProperty("event", out var evt) && evt.TryGetProperty("hub.event", out var name) ? name.GetString() : null;
    }
}
