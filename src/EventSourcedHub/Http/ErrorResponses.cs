using EventSourcedHub.Fhir;
using EventSourcedHub.Storage;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Diagnostics;

namespace EventSourcedHub.Http;

/// <summary>
/// The one place where exceptions become responses. Limits enforced by Kestrel and the form reader (413, 400) surface as
/// BadHttpRequestException before any handler runs (rulings.md 27); nothing a client sends may turn into a 500.
/// </summary>
public sealed class ErrorResponses(ILogger<ErrorResponses> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
    {
        var (status, code, message) = exception switch
        {
            BadHttpRequestException e when e.StatusCode == StatusCodes.Status413PayloadTooLarge =>
                (e.StatusCode, OperationOutcome.IssueType.TooLong, "The request body is larger than this hub accepts."),
            BadHttpRequestException e => (e.StatusCode, OperationOutcome.IssueType.Invalid, e.Message),
            InvalidDataException e => (StatusCodes.Status400BadRequest, OperationOutcome.IssueType.Invalid, e.Message),
            TopicBusyException e => (StatusCodes.Status503ServiceUnavailable, OperationOutcome.IssueType.Transient, e.Message),
            _ => (StatusCodes.Status500InternalServerError, OperationOutcome.IssueType.Exception, "The hub failed to process the request; it has been logged."),
        };
        if (status >= 500 && exception is not TopicBusyException)
            logger.LogError(exception, "Unhandled error for {Method} {Path}", http.Request.Method, http.Request.Path);
        if (http.Response.HasStarted) return false;

        http.Response.Clear();
        if (status == StatusCodes.Status503ServiceUnavailable) http.Response.Headers.RetryAfter = "1";
        var result = PlainText.IsSubscriptionRequest(http.Request)
            ? PlainText.Error(status, message)
            : OperationOutcomes.Result(status, code, message);
        await result.ExecuteAsync(http);
        return true;
    }
}
