using EventSourcedHub.Domain;
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

    public static IResult Result(int status, OperationOutcome.IssueType code, string diagnostics) =>
        Results.Content(Json(code, diagnostics), ContentType, statusCode: status);

    public static IResult Invalid(string diagnostics) => Result(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid, diagnostics);
    public static IResult NotFound(string diagnostics) => Result(StatusCodes.Status404NotFound, OperationOutcome.IssueType.NotFound, diagnostics);
    public static IResult Conflict(string diagnostics) => Result(StatusCodes.Status409Conflict, OperationOutcome.IssueType.Conflict, diagnostics);

    public static IResult For(Rejection rejection) => rejection.Kind switch
    {
        RejectionKind.Invalid => Invalid(rejection.Message),
        RejectionKind.UnknownTopic => Result(StatusCodes.Status400BadRequest, OperationOutcome.IssueType.NotFound, rejection.Message),
        RejectionKind.Conflict => Conflict(rejection.Message),
        RejectionKind.NotFound => NotFound(rejection.Message),
        RejectionKind.TooLarge => Result(StatusCodes.Status413PayloadTooLarge, OperationOutcome.IssueType.TooLong, rejection.Message),
        RejectionKind.Forbidden => Result(StatusCodes.Status403Forbidden, OperationOutcome.IssueType.Forbidden, rejection.Message),
        _ => throw new ArgumentOutOfRangeException(nameof(rejection)),
    };
}
