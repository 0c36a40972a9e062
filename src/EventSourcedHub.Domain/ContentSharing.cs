using System.Text.Json;

namespace EventSourcedHub.Domain;

/// <summary>`*-update` and `*-select`: content shared within an open anchor context (FHIRcast 2-10, IRA RAD-150/151).</summary>
public static class ContentSharing
{
    private static readonly string[] IdentityKeys = ["patient", "study"];

    /// <summary>
    /// Applies an update bundle atomically against the anchor's current version (HUB-CS-03/04/05): all entries or none,
    /// a new versionId, the prior one named in the distributed event.
    /// </summary>
    public static Decision<object[]> Update(TopicSession state, NotificationRequest request, Func<string> newVersionId, ContentPolicy policy)
    {
        var leniency = new List<string>();
        var found = policy.LenientUpdates && !request.Entries(AnchorKeyOf(request)).Any()
            ? CurrentAnchorOfType(state, request, leniency)
            : OpenAnchorOf(state, request);
        if (found.IsRejected) return found.Rejection!;
        var anchor = found.Value!;

        if (policy.LenientUpdates && string.IsNullOrEmpty(request.VersionId))
        {
            leniency.Add($"without `context.versionId`, applied to its current version {anchor.VersionId}");
            request = request with { VersionId = anchor.VersionId };
        }
        if (string.IsNullOrEmpty(request.VersionId))
            return Rejection.Invalid("`context.versionId` is required in an update: the version the sender last saw (HUB-CS-03).");
        if (request.VersionId != anchor.VersionId)
            return Rejection.Invalid($"`context.versionId` '{request.VersionId}' is not the current version of {anchor.Identity}; get the current context and retry (HUB-CS-03).");

        var updates = request.Entries("updates").ToArray();
        if (updates.Length != 1)
            return Rejection.Invalid("An update must carry exactly one `updates` entry holding a Bundle (HUB-CS-06).");
        var changes = ReadBundle(updates[0].Json, policy);
        if (changes.IsRejected) return changes.Rejection!;

        var forbidden = CheckIdentityRules(anchor, changes.Value!);
        if (forbidden is not null) return forbidden;

        // Create versus update is decided here, where the anchor's content is at hand (for Provenance; no query later).
        var decided = changes.Value!.Select(c => c with
        {
            Activity = c.Method == ContentChange.Delete ? ContentChange.Delete : anchor.Shares($"{c.ResourceType}/{c.ResourceId}") ? ContentChange.Update : ContentChange.Create,
        }).ToArray();
        var versionId = newVersionId();
        var notification = NotificationText.Stamp(request.Json, versionId, anchor.VersionId);
        return new object[]
        {
            new ContentUpdated(request.Id, request.EventName.Value, anchor.AnchorType, anchor.AnchorId, versionId, anchor.VersionId, decided, notification,
                leniency.Count == 0 ? null : $"accepted leniently (Hub:Compatibility:LenientUpdates): {string.Join("; ", leniency)}"),
        };
    }

    private static string AnchorKeyOf(NotificationRequest request) => EventName.AnchorKeyFor(EventName.NormalizeType(request.EventName.AnchorType!));

    /// <summary>
    /// An update that names no anchor: the current anchor when it is of the update's type, else the most recently
    /// opened open anchor of that type (only this lenient path looks beyond the current one).
    /// </summary>
    private static Decision<OpenAnchor> CurrentAnchorOfType(TopicSession state, NotificationRequest request, List<string> leniency)
    {
        var type = EventName.NormalizeType(request.EventName.AnchorType!);
        bool OfType(OpenAnchor a) => string.Equals(a.AnchorType, type, StringComparison.OrdinalIgnoreCase);
        var anchor = state.Current is { } current && OfType(current) ? current : state.OpenAnchors.Values.Where(OfType).MaxBy(a => a.OpenOrder);
        if (anchor is null)
            return Rejection.Conflict($"`{request.EventName}` names no `{AnchorKeyOf(request)}` and no {type} context is open on this topic (HUB-CTX-05).");
        leniency.Add($"without a `{AnchorKeyOf(request)}` entry, applied to the current {anchor.Identity}");
        return anchor;
    }

    /// <summary>
    /// Replaces the anchor's selection (HUB-SEL-04). References the hub does not know are left out of the distributed event
    /// and make the answer 206; when none is known, nothing is distributed (HUB-SEL-03, AMB-07).
    /// </summary>
    public static Decision<Published> Select(TopicSession state, NotificationRequest request, Func<string> newVersionId, ContentPolicy policy)
    {
        var found = OpenAnchorOf(state, request);
        if (found.IsRejected) return found.Rejection!;
        var anchor = found.Value!;

        var selectEntries = request.Entries("select").ToArray();
        if (selectEntries.Length == 0)
            return Rejection.Invalid("A select must carry at least one `select` entry (HUB-SEL-02).");

        var parsed = new List<SelectEntry>();
        foreach (var entry in selectEntries)
        {
            var read = ReadSelectEntry(entry.Json);
            if (read.IsRejected) return read.Rejection!;
            parsed.Add(read.Value!);
        }

        var clear = parsed.Count == 1 && parsed[0].IsArray && parsed[0].Items.Count == 0;
        var known = KnownResources(anchor);
        var selected = parsed.SelectMany(p => p.Items).Where(i => known(i.Key)).Select(i => i.Key).Distinct().ToArray();
        var partial = parsed.SelectMany(p => p.Items).Any(i => !known(i.Key));
        if (!clear && selected.Length == 0) return new Published([], Partial: true);

        var versionId = policy.BumpVersionOnSelect ? newVersionId() : anchor.VersionId;
        var prior = policy.BumpVersionOnSelect ? anchor.VersionId : null;
        var context = partial ? KeepKnownSelections(request, known) : null;
        var notification = NotificationText.Stamp(request.Json, versionId, prior, context);
        return new Published(
            [new ContentSelected(request.Id, request.EventName.Value, anchor.AnchorType, anchor.AnchorId, selected, versionId, prior, partial, notification)],
            partial);
    }

    /// <summary>Update, select and close name an anchor that must be open (HUB-CTX-05: 409 otherwise).</summary>
    private static Decision<OpenAnchor> OpenAnchorOf(TopicSession state, NotificationRequest request)
    {
        var anchorEntry = TopicDecisions.FindAnchorEntry(request, requireResource: false);
        if (anchorEntry.IsRejected) return anchorEntry.Rejection!;
        var (type, id) = anchorEntry.Value;
        return state.FindAnchor(type, id) is { } anchor
            ? anchor
            : Rejection.Conflict($"{type}/{id} is not an open context of this topic (HUB-CTX-05).");
    }

    private static Decision<ContentChange[]> ReadBundle(string entryJson, ContentPolicy policy)
    {
        using var document = JsonDocument.Parse(entryJson);
        if (!document.RootElement.TryGetProperty("resource", out var bundle) || bundle.ValueKind != JsonValueKind.Object
            || Text(bundle, "resourceType") != "Bundle")
            return Rejection.Invalid("The `updates` entry must hold a Bundle resource (HUB-CS-06).");
        if (!bundle.TryGetProperty("entry", out var entries)) return Array.Empty<ContentChange>();
        if (entries.ValueKind != JsonValueKind.Array)
            return Rejection.Invalid("`Bundle.entry` must be an array.");
        if (entries.GetArrayLength() > policy.MaxBundleEntries)
            return Rejection.TooLarge($"The update bundle has {entries.GetArrayLength()} entries; this hub accepts at most {policy.MaxBundleEntries} (HUB-CS-14).");

        var changes = new List<ContentChange>();
        var seen = new HashSet<string>();
        foreach (var entry in entries.EnumerateArray())
        {
            var change = ReadBundleEntry(entry);
            if (change.IsRejected) return change.Rejection!;
            var key = $"{change.Value!.ResourceType}/{change.Value.ResourceId}";
            if (!seen.Add(key))
                return Rejection.Invalid($"{key} appears more than once in the update bundle (HUB-CS-07).");
            changes.Add(change.Value);
        }
        return changes.ToArray();
    }

    private static Decision<ContentChange> ReadBundleEntry(JsonElement entry)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            return Rejection.Invalid("Every bundle entry must be an object.");
        var request = entry.TryGetProperty("request", out var r) && r.ValueKind == JsonValueKind.Object ? r : default;
        var method = request.ValueKind == JsonValueKind.Object ? Text(request, "method")?.ToUpperInvariant() : null;
        switch (method)
        {
            case "PUT" or "POST":
                if (!entry.TryGetProperty("resource", out var resource) || resource.ValueKind != JsonValueKind.Object
                    || Text(resource, "resourceType") is not { Length: > 0 } type)
                    return Rejection.Invalid($"A {method} entry must hold a resource with a `resourceType` (HUB-CS-07).");
                // IRA's examples POST resources that carry their id: that is a PUT (AMB-04).
                if (Text(resource, "id") is not { Length: > 0 } id)
                    return Rejection.Invalid($"A {method} entry's resource must have an `id` (HUB-CS-07).");
                return new ContentChange(ContentChange.Put, type, id, resource.GetRawText());
            case "DELETE":
                // `request.url` first, then `fullUrl` (which may be absolute): the first that names `Type/id`.
                foreach (var target in new[] { request.ValueKind == JsonValueKind.Object ? Text(request, "url") : null, Text(entry, "fullUrl") })
                {
                    if (target is not null && ResourceReference.TryParse(target, out var deleteType, out var deleteId))
                        return new ContentChange(ContentChange.Delete, deleteType, deleteId, null);
                }
                return Rejection.Invalid("A DELETE entry must name `Type/id` in `request.url` or `fullUrl` (HUB-CS-07).");
            default:
                return Rejection.Invalid("Every bundle entry needs `request.method` PUT or DELETE (HUB-CS-07).");
        }
    }

    /// <summary>
    /// IRA RAD-150 (HUB-CS-09): the resources of the open context cannot be deleted, and the patient's and study's
    /// identifiers cannot be changed by an update.
    /// </summary>
    private static Rejection? CheckIdentityRules(OpenAnchor anchor, IEnumerable<ContentChange> changes)
    {
        using var context = JsonDocument.Parse(anchor.Context);
        var contextResources = ContextResources(context.RootElement).ToList();
        foreach (var change in changes)
        {
            var key = $"{change.ResourceType}/{change.ResourceId}";
            var inContext = contextResources.Where(c => c.Key == key).ToList();
            if (inContext.Count == 0) continue;
            if (change.Method == ContentChange.Delete)
                return Rejection.Invalid($"{key} is part of the open context and cannot be deleted (HUB-CS-09).");
            using var updated = JsonDocument.Parse(change.Resource!);
            foreach (var original in inContext.Where(c => IdentityKeys.Contains(c.ContextKey)))
            {
                var before = original.Resource.TryGetProperty("identifier", out var b) ? b : default;
                var after = updated.RootElement.TryGetProperty("identifier", out var a) ? a : default;
                if (before.ValueKind != after.ValueKind || (before.ValueKind != JsonValueKind.Undefined && !JsonElement.DeepEquals(before, after)))
                    return Rejection.Invalid($"The identifiers of the context's {original.ContextKey} ({key}) cannot be changed (HUB-CS-09).");
            }
        }
        return null;
    }

    private sealed record ContextResource(string ContextKey, string Key, JsonElement Resource);

    private static IEnumerable<ContextResource> ContextResources(JsonElement contextArray)
    {
        foreach (var entry in contextArray.EnumerateArray())
        {
            if (entry.TryGetProperty("resource", out var resource) && resource.ValueKind == JsonValueKind.Object
                && Text(resource, "resourceType") is { } type && Text(resource, "id") is { } id)
                yield return new ContextResource(Text(entry, "key") ?? "", $"{type}/{id}", resource);
        }
    }

    /// <summary>What a select may name: the resources (or references) of the anchor's open context, and its content.</summary>
    private static Func<string, bool> KnownResources(OpenAnchor anchor)
    {
        using var context = JsonDocument.Parse(anchor.Context);
        var known = ContextResources(context.RootElement).Select(r => r.Key).ToHashSet();
        foreach (var entry in context.RootElement.EnumerateArray())
        {
            if (entry.TryGetProperty("reference", out var r) && Text(r, "reference") is { } reference
                && ResourceReference.TryParse(reference, out var type, out var id))
                known.Add($"{type}/{id}");
        }
        return key => known.Contains(key) || anchor.Shares(key);
    }

    private sealed record SelectItem(string Key, string Json);

    /// <summary>One `select` entry: a single `reference`/`resource`, or (IRA's example form) an array of them.</summary>
    private sealed record SelectEntry(string ValueProperty, bool IsArray, IReadOnlyList<SelectItem> Items);

    private static Decision<SelectEntry> ReadSelectEntry(string entryJson)
    {
        using var document = JsonDocument.Parse(entryJson);
        foreach (var property in new[] { "reference", "resource" })
        {
            if (!document.RootElement.TryGetProperty(property, out var value)) continue;
            var isArray = value.ValueKind == JsonValueKind.Array;
            var items = new List<SelectItem>();
            foreach (var item in isArray ? value.EnumerateArray().ToArray() : [value])
            {
                var key = SelectedKey(property, item);
                if (key is null)
                    return Rejection.Invalid($"A `select` {property} must name a resource as `Type/id` (HUB-SEL-01).");
                items.Add(new SelectItem(key, item.GetRawText()));
            }
            return new SelectEntry(property, isArray, items);
        }
        return Rejection.Invalid("A `select` entry must hold a `reference` or a `resource` (HUB-SEL-01).");
    }

    private static string? SelectedKey(string property, JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object) return null;
        if (property == "resource")
            return Text(item, "resourceType") is { } type && Text(item, "id") is { } id ? $"{type}/{id}" : null;
        return Text(item, "reference") is { } reference && ResourceReference.TryParse(reference, out var t, out var i) ? $"{t}/{i}" : null;
    }

    /// <summary>The request's context entries with unknown selections left out; every other entry stays byte for byte.</summary>
    private static List<string> KeepKnownSelections(NotificationRequest request, Func<string, bool> known)
    {
        var kept = new List<string>();
        foreach (var entry in request.Context)
        {
            if (entry.Key != "select")
            {
                kept.Add(entry.Json);
                continue;
            }
            var select = ReadSelectEntry(entry.Json).Value!;
            var items = select.Items.Where(i => known(i.Key)).ToList();
            if (!select.IsArray)
            {
                if (items.Count == 1) kept.Add(entry.Json);
            }
            else if (items.Count > 0)
            {
                kept.Add($"{{\"key\":\"select\",\"{select.ValueProperty}\":[{string.Join(",", items.Select(i => i.Json))}]}}");
            }
        }
        return kept;
    }

    private static string? Text(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
