using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;

namespace EventSourcedHub.Http;

/// <summary>
/// The one place where exceptions become responses. Limits enforced by Kestrel and the form reader (413, 400) surface as
/// BadHttpRequestException before any handler runs (rulings.md 27); a database that cannot be reached is a 503 with
/// Retry-After (rulings.md 31); nothing a client sends may turn into a 500. The format is the endpoint's
/// (<see cref="ErrorAnswer"/>), so the subscription form gets text here too.
/// </summary>
public sealed class ErrorResponses(RequestDelegate next, ILogger<ErrorResponses> logger)
{
    /// <summary>Seconds a client is asked to wait when the database is away or a topic is busy.</summary>
    public const int RetryAfterSeconds = 2;

    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (Exception e)
        {
            var answer = AnswerFor(e);
            if (answer.StatusCode >= 500 && !DatabaseFailures.IsUnavailable(e) && e is not TopicBusyException)
                logger.LogError(e, "Unhandled error for {Method} {Path}", http.Request.Method, http.Request.Path);
            else if (answer.StatusCode == StatusCodes.Status503ServiceUnavailable && e is not TopicBusyException)
                logger.LogWarning("The database cannot be reached: {Method} {Path} answered 503 ({Error})", http.Request.Method, http.Request.Path, e.Message);
            if (http.Response.HasStarted)
            {
                // Part of the answer is out: all that is left is to cut the connection so the client sees it failed.
                http.Abort();
                return;
            }
            http.Response.Clear();
            if (answer.StatusCode == StatusCodes.Status503ServiceUnavailable) http.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
            await answer.ExecuteAsync(http);
        }
    }

    public static ErrorAnswer AnswerFor(Exception exception) => exception switch
    {
        BadHttpRequestException e when e.StatusCode == StatusCodes.Status413PayloadTooLarge =>
            Answers.For(Rejection.TooLarge("The request body is larger than this hub accepts.")),
        BadHttpRequestException e => Answers.Error(e.StatusCode, OperationOutcome.IssueType.Invalid, e.Message),
        InvalidDataException e => Answers.Invalid(e.Message),
        TopicBusyException e => Answers.For(Rejection.Unavailable(e.Message)),
        _ when DatabaseFailures.IsUnavailable(exception) => Answers.For(Rejection.Unavailable(
            "The hub's database cannot be reached right now; retry after the time in Retry-After (an event sent again with the same id is accepted once).")),
        _ => Answers.Error(StatusCodes.Status500InternalServerError, OperationOutcome.IssueType.Exception, "The hub failed to process the request; it has been logged."),
    };
}
