using System.Text.Json;

namespace EventSourcedHub.Domain;

/// <summary>One entry of an event's `context` array. The hub reads only what it needs; <see cref="Json"/> is forwarded as received.</summary>
public sealed record ContextEntry(string Key, string Json, string? ResourceType, string? ResourceId, string? Reference);

/// <summary>An event request (HUB-EVT-01) as the hub understands it, with the original JSON text kept for forwarding (rulings.md 9).</summary>
public sealed record NotificationRequest(
    string Json,
    string Id,
    string Timestamp,
    string Topic,
    EventName EventName,
    IReadOnlyList<ContextEntry> Context,
    string ContextJson,
    string? VersionId)
{
    public IEnumerable<ContextEntry> Entries(string key) => Context.Where(e => e.Key == key);

    /// <summary>Parses an event request body. <paramref name="pathTopic"/> is the `{topic}` of `POST {hub}/{topic}`, if any.</summary>
    public static Decision<NotificationRequest> Parse(string json, string? pathTopic)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            return Rejection.Invalid($"The body is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return Rejection.Invalid("The body must be a JSON object with `timestamp`, `id` and `event`.");
            // Anything the hub stores or derives records from must be storable: refuse it here, not in the database.
            if (StorableText.FindUnstorable(root) is { } unstorable)
                return StorableText.Refused($"`{unstorable}`");
            if (!TryNonEmptyString(root, "id", out var id))
                return Rejection.Invalid("`id` is required and must be a non-empty string.");
            if (HasControlCharacters(id))
                return Rejection.Invalid("`id` must not contain control characters.");
            if (!TryNonEmptyString(root, "timestamp", out var timestamp))
                return Rejection.Invalid("`timestamp` is required and must be a non-empty string.");
            if (!IsInstant(timestamp))
                return Rejection.Invalid("`timestamp` must be an ISO 8601 date-time with seconds and a time zone, e.g. 2025-03-01T14:58:45.988Z.");
            if (!root.TryGetProperty("event", out var evt) || evt.ValueKind != JsonValueKind.Object)
                return Rejection.Invalid("`event` is required and must be an object.");
            if (!TryNonEmptyString(evt, "hub.topic", out var topic))
                return Rejection.Invalid("`event.hub.topic` is required and must be a non-empty string.");
            if (HasControlCharacters(topic))
                return Rejection.Invalid("`event.hub.topic` must not contain control characters.");
            if (pathTopic is not null && pathTopic != topic)
                return Rejection.Invalid($"The topic in the path ('{pathTopic}') differs from `event.hub.topic` ('{topic}').");
            if (!TryNonEmptyString(evt, "hub.event", out var eventName))
                return Rejection.Invalid("`event.hub.event` is required and must be a non-empty string.");
            if (HasControlCharacters(eventName))
                return Rejection.Invalid("`event.hub.event` must not contain control characters.");
            if (eventName.Contains('*'))
                return Rejection.Invalid("Wildcards are not event names (HUB-GEN-06).");
            if (!evt.TryGetProperty("context", out var context) || context.ValueKind != JsonValueKind.Array)
                return Rejection.Invalid("`event.context` is required and must be an array.");

            var entries = new List<ContextEntry>();
            foreach (var item in context.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !TryNonEmptyString(item, "key", out var key))
                    return Rejection.Invalid("Every `event.context` entry must be an object with a non-empty string `key`.");
                entries.Add(ReadEntry(key, item));
            }

            string? versionId = null;
            foreach (var name in new[] { "context.versionId", "versionId" })
            {
                if (!evt.TryGetProperty(name, out var v)) continue;
                if (v.ValueKind != JsonValueKind.String)
                    return Rejection.Invalid($"`event.{name}` must be a string.");
                versionId = v.GetString();
                break;
            }

            return new NotificationRequest(json, id, timestamp, topic, new EventName(eventName), entries, context.GetRawText(), versionId);
        }
    }

    private static ContextEntry ReadEntry(string key, JsonElement item)
    {
        string? type = null, resourceId = null, reference = null;
        if (item.TryGetProperty("resource", out var resource) && resource.ValueKind == JsonValueKind.Object)
        {
            type = StringOrNull(resource, "resourceType");
            resourceId = StringOrNull(resource, "id");
        }
        else if (item.TryGetProperty("reference", out var r) && r.ValueKind == JsonValueKind.Object)
        {
            reference = StringOrNull(r, "reference");
            if (reference is not null && ResourceReference.TryParse(reference, out var refType, out var refId))
            {
                type = refType;
                resourceId = refId;
            }
        }
        return new ContextEntry(key, item.GetRawText(), type, resourceId, reference);
    }

    private static readonly System.Text.RegularExpressions.Regex Instant = new(
        @"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>A FHIR instant: date, time with seconds, and a zone (FHIRcast's `timestamp` is ISO 8601 UTC).</summary>
    private static bool IsInstant(string text) =>
        Instant.IsMatch(text) && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out _);

    /// <summary>Topics, ids and event names become keys and columns in the store, where control characters (NUL) cannot go.</summary>
    public static bool HasControlCharacters(string text) => text.Any(char.IsControl);

    private static string? StringOrNull(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool TryNonEmptyString(JsonElement obj, string name, out string value)
    {
        value = "";
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String) return false;
        value = v.GetString() ?? "";
        return value.Trim().Length > 0;
    }
}

/// <summary>FHIR references of the form `Type/id`, relative or absolute.</summary>
public static class ResourceReference
{
    public static bool TryParse(string reference, out string type, out string id)
    {
        type = id = "";
        var path = reference.Split('?', '#')[0].TrimEnd('/');
        var parts = path.Split('/');
        // `.../Type/id/_history/v` names a version of Type/id.
        if (parts.Length >= 4 && parts[^2] == "_history") parts = parts[..^2];
        if (parts.Length < 2) return false;
        type = parts[^2];
        id = parts[^1];
        return type.Length > 0 && id.Length > 0 && char.IsUpper(type[0]);
    }
}
