using System.Text.Encodings.Web;
using System.Text.Json;

namespace EventSourcedHub.Domain;

/// <summary>
/// Builds the text the hub distributes from the text the sender posted: every value is copied as raw JSON
/// (byte for byte, HUB-EVT-04); only the hub-managed `context.versionId` / `context.priorVersionId` keys are set.
/// </summary>
public static class NotificationText
{
    public const string VersionIdKey = "context.versionId";
    public const string PriorVersionIdKey = "context.priorVersionId";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Keep non-ASCII text in property names as the sender wrote it rather than \u-escaping it.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// <param name="context">Raw JSON entries that replace the `context` array (a select whose unknown references were
    /// removed, HUB-SEL-03); null keeps the array exactly as received.</param>
    public static string Stamp(string json, string? versionId, string? priorVersionId, IReadOnlyList<string>? context = null)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        var buffer = new System.IO.MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                writer.WritePropertyName(property.Name);
                if (property.Name == "event" && property.Value.ValueKind == JsonValueKind.Object)
                    WriteEvent(writer, property.Value, versionId, priorVersionId, context);
                else
                    writer.WriteRawValue(property.Value.GetRawText(), skipInputValidation: true);
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteEvent(Utf8JsonWriter writer, JsonElement evt, string? versionId, string? priorVersionId, IReadOnlyList<string>? context)
    {
        writer.WriteStartObject();
        var stamped = false;
        foreach (var property in evt.EnumerateObject())
        {
            if (property.Name is VersionIdKey or PriorVersionIdKey) continue;
            if (property.Name == "context" && !stamped)
            {
                WriteVersions(writer, versionId, priorVersionId);
                stamped = true;
            }
            writer.WritePropertyName(property.Name);
            if (property.Name == "context" && context is not null)
                writer.WriteRawValue("[" + string.Join(",", context) + "]", skipInputValidation: true);
            else
                writer.WriteRawValue(property.Value.GetRawText(), skipInputValidation: true);
        }
        if (!stamped) WriteVersions(writer, versionId, priorVersionId);
        writer.WriteEndObject();
    }

    private static void WriteVersions(Utf8JsonWriter writer, string? versionId, string? priorVersionId)
    {
        if (versionId is not null) writer.WriteString(VersionIdKey, versionId);
        if (priorVersionId is not null) writer.WriteString(PriorVersionIdKey, priorVersionId);
    }

    /// <summary>A notification the hub originates, around context entries kept as raw JSON.</summary>
    public static string Compose(string timestamp, string id, string topic, string eventName, IEnumerable<string> context)
    {
        var buffer = new System.IO.MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("timestamp", timestamp);
            writer.WriteString("id", id);
            writer.WriteStartObject("event");
            writer.WriteString("hub.topic", topic);
            writer.WriteString("hub.event", eventName);
            writer.WriteStartArray("context");
            foreach (var entry in context) writer.WriteRawValue(entry, skipInputValidation: true);
            writer.WriteEndArray();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// The same request under a new `id` and for another topic, every other value copied raw: how a replay re-publishes a
    /// recorded notification (the hub-managed version keys are set again by the target topic's decisions).
    /// </summary>
    public static string Retarget(string json, string newId, string newTopic)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        var buffer = new System.IO.MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "id")
                {
                    writer.WriteString("id", newId);
                    continue;
                }
                writer.WritePropertyName(property.Name);
                if (property.Name != "event" || property.Value.ValueKind != JsonValueKind.Object)
                {
                    writer.WriteRawValue(property.Value.GetRawText(), skipInputValidation: true);
                    continue;
                }
                writer.WriteStartObject();
                foreach (var member in property.Value.EnumerateObject())
                {
                    if (member.Name is VersionIdKey or PriorVersionIdKey) continue;
                    if (member.Name == "hub.topic")
                    {
                        writer.WriteString("hub.topic", newTopic);
                        continue;
                    }
                    writer.WritePropertyName(member.Name);
                    writer.WriteRawValue(member.Value.GetRawText(), skipInputValidation: true);
                }
                writer.WriteEndObject();
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
