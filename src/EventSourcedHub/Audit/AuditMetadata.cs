using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace EventSourcedHub.Audit;

/// <summary>
/// `GET /fhir/metadata`: an R4 CapabilityStatement of the audit surface, advertising the FHIRcast hub with the
/// configuration extension on `rest[mode=server]` (HUB-DISC-09).
/// </summary>
public static class AuditMetadata
{
    public const string HubExtension = "http://fhircast.hl7.org/StructureDefinition/fhircast-configuration-extension";

    private static readonly FhirJsonSerializer Serializer = new();

    public static IResult Handle(HttpRequest request)
    {
        var baseUrl = AuditApi.BaseUrl(request);
        var statement = new CapabilityStatement
        {
            Status = PublicationStatus.Active,
            Date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
            Kind = CapabilityStatementKind.Instance,
            Name = "EventSourcedHubAudit",
            Title = "EventSourcedHub audit store",
            Software = new CapabilityStatement.SoftwareComponent { Name = AuditEvents.HubName },
            Implementation = new CapabilityStatement.ImplementationComponent { Description = "FHIRcast hub audit store (AuditEvent, Provenance)", Url = $"{baseUrl}/fhir" },
            FhirVersion = FHIRVersion.N4_0_1,
            Format = ["json"],
            Rest =
            [
                new CapabilityStatement.RestComponent
                {
                    Mode = CapabilityStatement.RestfulCapabilityMode.Server,
                    Extension =
                    [
                        new Extension { Url = HubExtension, Extension = [new Extension("hub.url", new FhirUrl($"{baseUrl}/api/hub"))] },
                    ],
                    Resource =
                    [
                        ResourceOf("AuditEvent", ("date", SearchParamType.Date), ("patient", SearchParamType.Reference), ("agent", SearchParamType.Reference),
                            ("subtype", SearchParamType.Token), ("outcome", SearchParamType.Token), ("entity", SearchParamType.Reference)),
                        ResourceOf("Provenance", ("target", SearchParamType.Reference), ("agent", SearchParamType.Reference), ("recorded", SearchParamType.Date)),
                    ],
                },
            ],
        };
        return Results.Content(Serializer.SerializeToString(statement), AuditApi.FhirJson);
    }

    private static CapabilityStatement.ResourceComponent ResourceOf(string type, params (string Name, SearchParamType Type)[] parameters) => new()
    {
        Type = type,
        Interaction =
        [
            new CapabilityStatement.ResourceInteractionComponent { Code = CapabilityStatement.TypeRestfulInteraction.Read },
            new CapabilityStatement.ResourceInteractionComponent { Code = CapabilityStatement.TypeRestfulInteraction.SearchType },
        ],
        SearchParam = parameters.Select(p => new CapabilityStatement.SearchParamComponent { Name = p.Name, Type = p.Type }).ToList(),
    };
}
