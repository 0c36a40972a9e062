using System.Text.Json;

namespace EventSourcedHub.Audit;

/// <summary>
/// The patient, study and report a notification is about, read from its stored text with System.Text.Json only
/// (subscriber content may be R5: it is never parsed with the FHIR SDK, rulings.md 9).
/// </summary>
public sealed record NotificationReferences(string[] Patients, string[] Studies, string[] Reports, string[] Others)
{
    public static readonly NotificationReferences None = new([], [], [], []);

    public IEnumerable<string> All => Patients.Concat(Studies).Concat(Reports).Concat(Others);

    /// <summary>
    /// The references with anything PostgreSQL cannot store escaped: an event recorded before such text was refused at
    /// the door must not stop its topic's audit trail.
    /// </summary>
    public NotificationReferences Storable()
    {
        static string[] Escaped(string[] refs) => refs.All(Domain.StorableText.IsStorable) ? refs : refs.Select(Domain.StorableText.Escape).ToArray();
        return new NotificationReferences(Escaped(Patients), Escaped(Studies), Escaped(Reports), Escaped(Others));
    }

    /// <summary>`Type/id` of every `context` entry that carries a `resource` (with an id) or a `reference`; SyncError bodies and bundles are skipped.</summary>
    public static NotificationReferences Read(string notification)
    {
        try
        {
            using var document = JsonDocument.Parse(notification);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("event", out var evt) || evt.ValueKind != JsonValueKind.Object
                || !evt.TryGetProperty("context", out var context) || context.ValueKind != JsonValueKind.Array)
                return None;

            List<string> patients = [], studies = [], reports = [], others = [];
            foreach (var entry in context.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object) continue;
                var key = entry.TryGetProperty("key", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
                var reference = ReferenceOf(entry);
                if (key is null || reference is null) continue;
                var list = key switch
                {
                    "patient" => patients,
                    "study" => studies,
                    "report" => reports,
                    "updates" or "operationoutcome" or "content" => null,
                    _ => others,
                };
                if (list is not null && !list.Contains(reference)) list.Add(reference);
            }
            return new NotificationReferences([.. patients], [.. studies], [.. reports], [.. others]);
        }
        catch (JsonException)
        {
            return None;
        }
    }

    private static string? ReferenceOf(JsonElement entry)
    {
        if (entry.TryGetProperty("resource", out var resource) && resource.ValueKind == JsonValueKind.Object
            && resource.TryGetProperty("resourceType", out var type) && type.ValueKind == JsonValueKind.String
            && resource.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
            return $"{type.GetString()}/{id.GetString()}";
        if (entry.TryGetProperty("reference", out var reference) && reference.ValueKind == JsonValueKind.Object
            && reference.TryGetProperty("reference", out var text) && text.ValueKind == JsonValueKind.String)
            return Normalise(text.GetString()!);
        return null;
    }

    /// <summary>`Type/id` of a relative or absolute reference (`http://x/fhir/Patient/p1/_history/2` gives `Patient/p1`).</summary>
    public static string Normalise(string reference)
    {
        var parts = reference.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var history = Array.IndexOf(parts, "_history");
        if (history >= 2) parts = parts[..history];
        return parts.Length >= 2 ? $"{parts[^2]}/{parts[^1]}" : reference;
    }
}
