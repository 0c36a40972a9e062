using System.Text.Json;
using EventSourcedHub.Domain;
using EventSourcedHub.Security;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
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
/// One <see cref="ProvenanceRecord"/> per change of a <see cref="ContentUpdated"/>, with the activity the domain decided
/// when it applied the update (CREATE: the resource was not in the anchor's content before; UPDATE; DELETE).
/// </summary>
public static class ProvenanceRecords
{
    public const string DataOperationSystem = "http://terminology.hl7.org/CodeSystem/v3-DataOperation";
    private static readonly FhirJsonSerializer Serializer = new();

    public static IEnumerable<ProvenanceRecord> For(RecordedEvent e, ContentUpdated update, Actor agent)
    {
        var anchor = $"{update.AnchorType}/{update.AnchorId}";
        var recorded = AuditEvents.Microseconds(e.Timestamp);
        for (var i = 0; i < update.Changes.Length; i++)
        {
            var change = update.Changes[i];
            var record = new ProvenanceRecord
            {
                Id = $"{e.Id}-{i:D4}",
                Topic = e.Topic,
                StreamVersion = e.Version,
                Index = i,
                Recorded = recorded,
                Target = $"{change.ResourceType}/{change.ResourceId}",
                Activity = change.ActivityCode,
                Agent = agent.Name,
                EventId = update.EventId,
                Anchor = anchor,
            };
            record.Json = Serializer.SerializeToString(Resource(record, agent, VersionOf(change.Resource)));
            yield return record;
        }
    }

    private static Provenance Resource(ProvenanceRecord record, Actor agent, string? version) => new()
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
                Who = new ResourceReference
                {
                    Display = agent.Display ?? agent.Name,
                    Identifier = agent.ClientId is { } client ? new Identifier(OffStreamAudit.ClientSystem, client) : null,
                },
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
