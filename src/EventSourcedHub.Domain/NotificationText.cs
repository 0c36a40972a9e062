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

    public static string Stamp(string json, string? versionId, string? priorVersionId)
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
                    WriteEvent(writer, property.Value, versionId, priorVersionId);
                else
                    writer.WriteRawValue(property.Value.GetRawText(), skipInputValidation: true);
            }
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteEvent(Utf8JsonWriter writer, JsonElement evt, string? versionId, string? priorVersionId)
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
}
