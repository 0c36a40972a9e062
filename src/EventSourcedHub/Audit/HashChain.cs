using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace EventSourcedHub.Audit;

/// <summary>
/// The tamper-evidence chain over a topic's events. Link n = SHA-256(link n-1 + "\n" + content n), with link 0 = "",
/// and content = stream version, stored type name, timestamp (UTC, microseconds) and the event's JSON in a canonical
/// form (members sorted by name, no whitespace, strings re-escaped), so that the JSON as serialized when it was written
/// and the `jsonb` text PostgreSQL gives back (which reorders keys) yield the same hash.
/// </summary>
public static class HashChain
{
    public const string Genesis = "";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };

    public static string Content(long version, string typeName, DateTimeOffset timestamp, string json) =>
        string.Join('\n', version.ToString(CultureInfo.InvariantCulture), typeName,
            AuditEvents.Microseconds(timestamp).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture), Canonical(json));

    public static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    public static string ContentHash(long version, string typeName, DateTimeOffset timestamp, string json) =>
        Sha256(Content(version, typeName, timestamp, json));

    public static string Link(string previous, string contentHash) => Sha256(previous + "\n" + contentHash);

    public static string Canonical(string json)
    {
        using var document = JsonDocument.Parse(json);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions)) Write(document.RootElement, writer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Write(JsonElement element, Utf8JsonWriter writer)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(property.Value, writer);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) Write(item, writer);
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(element.GetString());
                break;
            case JsonValueKind.Number:
                writer.WriteRawValue(element.GetRawText(), skipInputValidation: true);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
