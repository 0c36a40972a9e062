using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;

namespace EventSourcedHub.Http;

/// <summary>
/// Endpoint metadata: this endpoint is the form-encoded subscription interface, which answers errors as plain text for
/// developers (HUB-SUB-09, rulings.md 10). Every other endpoint answers errors as an OperationOutcome.
/// </summary>
public sealed class PlainTextErrors
{
    public static readonly PlainTextErrors Instance = new();

    public static bool On(HttpContext http) => http.GetEndpoint()?.Metadata.GetMetadata<PlainTextErrors>() is not null;
}

/// <summary>
/// An error answer. Its format comes from the endpoint's metadata (<see cref="PlainTextErrors"/>), never from the
/// request; its message is what the one audit point (<see cref="RequestAudit"/>) records as the reason.
/// </summary>
public sealed class ErrorAnswer(int status, OperationOutcome.IssueType code, string message) : IResult, IStatusCodeHttpResult
{
    public int? StatusCode => status;

    public Task ExecuteAsync(HttpContext http)
    {
        RequestAudit.Details(http).Reason ??= message;
        return (PlainTextErrors.On(http)
            ? Results.Text(message, "text/plain", System.Text.Encoding.UTF8, status)
            : Results.Content(OperationOutcomes.Json(code, message), OperationOutcomes.ContentType, statusCode: status)).ExecuteAsync(http);
    }
}

/// <summary>The one table from a refusal to its HTTP status and OperationOutcome issue code.</summary>
public static class Answers
{
    private static readonly Dictionary<RejectionKind, (int Status, OperationOutcome.IssueType Code)> Table = new()
    {
        [RejectionKind.Invalid] = (StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid),
        // IRA's "unknown session" is a 400 (rulings.md 5).
        [RejectionKind.UnknownTopic] = (StatusCodes.Status400BadRequest, OperationOutcome.IssueType.NotFound),
        [RejectionKind.Unauthenticated] = (StatusCodes.Status401Unauthorized, OperationOutcome.IssueType.Login),
        [RejectionKind.Forbidden] = (StatusCodes.Status403Forbidden, OperationOutcome.IssueType.Forbidden),
        [RejectionKind.NotFound] = (StatusCodes.Status404NotFound, OperationOutcome.IssueType.NotFound),
        [RejectionKind.Conflict] = (StatusCodes.Status409Conflict, OperationOutcome.IssueType.Conflict),
        [RejectionKind.TooLarge] = (StatusCodes.Status413PayloadTooLarge, OperationOutcome.IssueType.TooLong),
        [RejectionKind.UnsupportedMediaType] = (StatusCodes.Status415UnsupportedMediaType, OperationOutcome.IssueType.NotSupported),
        [RejectionKind.Throttled] = (StatusCodes.Status429TooManyRequests, OperationOutcome.IssueType.Throttled),
        [RejectionKind.Unavailable] = (StatusCodes.Status503ServiceUnavailable, OperationOutcome.IssueType.Transient),
    };

    public static ErrorAnswer For(Rejection rejection)
    {
        var (status, code) = Table[rejection.Kind];
        return new ErrorAnswer(status, code, rejection.Message);
    }

    /// <summary>An error with an issue code of its own (e.g. `not-supported` for an unknown search parameter).</summary>
    public static ErrorAnswer Error(int status, OperationOutcome.IssueType code, string message) => new(status, code, message);

    public static ErrorAnswer Invalid(string message) => For(Rejection.Invalid(message));
    public static ErrorAnswer NotFound(string message) => For(Rejection.NotFound(message));
    public static ErrorAnswer Conflict(string message) => For(Rejection.Conflict(message));
    public static ErrorAnswer Forbidden(string message) => For(Rejection.Forbidden(message));
}
