using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace EventSourcedHub.Fhir;

/// <summary>Every error the hub reports outside the form-encoded subscription interface is one of these (rulings.md 10).</summary>
public static class OperationOutcomes
{
    public const string ContentType = "application/fhir+json";

    private static readonly FhirJsonSerializer Serializer = new();

    public static string Json(OperationOutcome.IssueType code, string diagnostics, OperationOutcome.IssueSeverity severity = OperationOutcome.IssueSeverity.Error)
    {
        var outcome = new OperationOutcome
        {
            Issue = [new OperationOutcome.IssueComponent { Severity = severity, Code = code, Diagnostics = diagnostics }],
        };
        return Serializer.SerializeToString(outcome);
    }
}
