using System.Text.Json;
using EventSourcedHub.Domain;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using ResourceReference = Hl7.Fhir.Model.ResourceReference;

namespace EventSourcedHub.Audit;

/// <summary>One content change (a PUT or DELETE of an update bundle) as a FHIR R4 Provenance, with its searchable columns.</summary>
public sealed class ProvenanceRecord
{
    /// <summary>`{event id}-{index of the change in the bundle}`, also the Provenance's id.</summary>
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public long StreamVersion { get; set; }

    /// <summary>The change's index in the update bundle.</summary>
    public int Index { get; set; }
    public DateTimeOffset Recorded { get; set; }

    /// <summary>`Type/id` of the changed resource.</summary>
    public string Target { get; set; } = "";

    /// <summary>CREATE, UPDATE or DELETE (v3 DataOperation).</summary>
    public string Activity { get; set; } = "";
    public string Agent { get; set; } = "";

    /// <summary>The FHIRcast id of the update notification that carried the change.</summary>
    public string EventId { get; set; } = "";
    public string Anchor { get; set; } = "";
    public string Json { get; set; } = "";
}

/// <summary>
/// One <see cref="ProvenanceRecord"/> per change of a <see cref="ContentUpdated"/>. A PUT is a CREATE when the resource
/// was not in the anchor's content before the update (no earlier PUT of it since the anchor was opened, or it was deleted
/// since), else an UPDATE; a DELETE is a DELETE.
/// </summary>
public sealed partial class ProvenanceProjection : EventProjection
{
    public const string DataOperationSystem = "http://terminology.hl7.org/CodeSystem/v3-DataOperation";
    private static readonly FhirJsonSerializer Serializer = new();

    public async System.Threading.Tasks.Task Project(IEvent<ContentUpdated> e, IDocumentOperations ops)
    {
        var update = e.Data;
        var anchor = $"{update.AnchorType}/{update.AnchorId}";
        var inContent = new Dictionary<string, bool>();
        var recorded = AuditEvents.Microseconds(e.Timestamp);
        for (var i = 0; i < update.Changes.Length; i++)
        {
            var change = update.Changes[i];
            var target = $"{change.ResourceType}/{change.ResourceId}";
            if (!inContent.TryGetValue(target, out var present)) present = await WasSharedAsync(ops, e.StreamKey!, anchor, target);
            var activity = change.Method == ContentChange.Delete ? "DELETE" : present ? "UPDATE" : "CREATE";
            inContent[target] = change.Method != ContentChange.Delete;
            var record = new ProvenanceRecord
            {
                Id = $"{e.Id}-{i:D4}",
                Topic = e.StreamKey!,
                StreamVersion = e.Version,
                Index = i,
                Recorded = recorded,
                Target = target,
                Activity = activity,
                Agent = AuditEvents.Anonymous,
                EventId = update.EventId,
                Anchor = anchor,
            };
            record.Json = Serializer.SerializeToString(Resource(record, VersionOf(change.Resource)));
            ops.Store(record);
        }
    }

    /// <summary>
    /// Whether the resource is in the anchor's content before this event: its latest change (committed earlier) was a PUT
    /// and the anchor was not closed since (a close drops the content). Earlier commits only: each update is its own commit.
    /// </summary>
    private static async Task<bool> WasSharedAsync(IDocumentOperations ops, string topic, string anchor, string target)
    {
        var last = await ops.Query<ProvenanceRecord>()
            .Where(p => p.Topic == topic && p.Anchor == anchor && p.Target == target)
            .OrderByDescending(p => p.StreamVersion).ThenByDescending(p => p.Id)
            .FirstOrDefaultAsync();
        if (last is null || last.Activity == "DELETE") return false;
        var closedSince = await ops.Query<AuditRecord>()
            .AnyAsync(r => r.Topic == topic && r.EventType == "context_closed" && r.StreamVersion > last.StreamVersion && r.EntityRefs.Contains(anchor));
        return !closedSince;
    }

    private static Provenance Resource(ProvenanceRecord record, string? version) => new()
    {
        Id = record.Id,
        Target = [new ResourceReference(version is null ? record.Target : $"{record.Target}/_history/{version}")],
        Recorded = record.Recorded,
        Activity = new CodeableConcept(DataOperationSystem, record.Activity, record.Activity switch
        {
            "CREATE" => "create",
            "DELETE" => "delete",
            _ => "update",
        }),
        Agent =
        [
            new Provenance.AgentComponent
            {
                Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author"),
                Who = new ResourceReference { Display = record.Agent },
            },
        ],
        Entity =
        [
            new Provenance.EntityComponent
            {
                Role = Provenance.ProvenanceEntityRole.Source,
                What = new ResourceReference
                {
                    Identifier = new Identifier(AuditEvents.NotificationSystem, record.EventId),
                    Display = $"FHIRcast update {record.EventId} on topic {record.Topic} (anchor {record.Anchor})",
                },
            },
        ],
    };

    /// <summary>`meta.versionId` of the PUT resource, read with System.Text.Json (the resource may be R5).</summary>
    private static string? VersionOf(string? resource)
    {
        if (resource is null) return null;
        try
        {
            using var document = JsonDocument.Parse(resource);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("meta", out var meta) && meta.ValueKind == JsonValueKind.Object
                && meta.TryGetProperty("versionId", out var v) && v.ValueKind == JsonValueKind.String
                    ? v.GetString()
                    : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
