using System.Text.Json.Nodes;

namespace FhircastSamples;

/// <summary>Reading and writing FHIRcast context entries.</summary>
public static class Context
{
    /// <summary>The resource of an entry (`resource`), or null.</summary>
    public static JsonObject? Resource(JsonArray context, string key) =>
        context.OfType<JsonObject>().FirstOrDefault(e => (string?)e["key"] == key)?["resource"] as JsonObject;

    /// <summary>`Type/id` of an entry, whether it holds the resource or a reference.</summary>
    public static string? Reference(JsonArray context, string key)
    {
        var entry = context.OfType<JsonObject>().FirstOrDefault(e => (string?)e["key"] == key);
        if (entry?["resource"] is JsonObject resource) return $"{(string?)resource["resourceType"]}/{(string?)resource["id"]}";
        return (string?)entry?["reference"]?["reference"];
    }

    public static JsonObject ReferenceEntry(string key, string reference) => new() { ["key"] = key, ["reference"] = new JsonObject { ["reference"] = reference } };

    /// <summary>A `*-update` context: the anchor's reference and one transaction Bundle that PUTs each resource.</summary>
    public static JsonArray Update(string anchorReference, params JsonObject[] resources) =>
    [
        ReferenceEntry("report", anchorReference),
        new JsonObject
        {
            ["key"] = "updates",
            ["resource"] = new JsonObject
            {
                ["resourceType"] = "Bundle",
                ["id"] = Guid.NewGuid().ToString(),
                ["type"] = "transaction",
                ["entry"] = new JsonArray(resources.Select(r => (JsonNode)new JsonObject
                {
                    ["request"] = new JsonObject { ["method"] = "PUT", ["url"] = $"{(string?)r["resourceType"]}/{(string?)r["id"]}" },
                    ["resource"] = r.DeepClone(),
                }).ToArray()),
            },
        },
    ];

    /// <summary>The resources an update's Bundle PUTs.</summary>
    public static IEnumerable<JsonObject> UpdatedResources(JsonArray context) =>
        (Resource(context, "updates")?["entry"] as JsonArray ?? []).OfType<JsonObject>().Select(e => e["resource"]).OfType<JsonObject>();
}
