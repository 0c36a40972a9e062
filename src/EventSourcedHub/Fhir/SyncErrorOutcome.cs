using EventSourcedHub.Domain;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Hl7.Fhir.Utility;

namespace EventSourcedHub.Fhir;

/// <summary>The OperationOutcome of a hub-generated SyncError (HUB-SE-02): codings for event id, event name and subscriber, in that order.</summary>
public static class SyncErrorOutcome
{
    private static readonly FhirJsonSerializer Serializer = new();

    public static string Json(string severity, string failedEventId, string failedEventName, string subscriberName, string diagnostics)
    {
        var outcome = new OperationOutcome
        {
            Issue =
            [
                new OperationOutcome.IssueComponent
                {
                    Severity = EnumUtility.ParseLiteral<OperationOutcome.IssueSeverity>(severity) ?? OperationOutcome.IssueSeverity.Warning,
                    Code = OperationOutcome.IssueType.Processing,
                    Diagnostics = diagnostics,
                    Details = new CodeableConcept
                    {
                        Coding =
                        [
                            new Coding(SyncErrors.EventIdSystem, failedEventId),
                            new Coding(SyncErrors.EventNameSystem, failedEventName),
                            new Coding(SyncErrors.SubscriberNameSystem, subscriberName),
                        ],
                    },
                },
            ],
        };
        return Serializer.SerializeToString(outcome);
    }
}
