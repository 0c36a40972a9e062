using System.Text;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Storage;
using EventSourcedHub.Security;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Notifications;

/// <summary>
/// An event request: `POST {hub}` or `POST {hub}/{topic}` with a JSON body (HUB-EVT-*). The 202 is sent only after the
/// event is committed to the topic's stream, so an acknowledged event is never lost.
/// </summary>
public sealed class PublishNotification(TopicStream topics, Access access, IOptions<HubOptions> options)
{
    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public async Task<IResult> HandleAsync(HttpContext http, string? pathTopic)
    {
        if (access.Authenticate(http, plainText: false) is { } unauthenticated) return unauthenticated;
        string body;
        try
        {
            using var reader = new StreamReader(http.Request.Body, StrictUtf8);
            body = await reader.ReadToEndAsync(http.RequestAborted);
        }
        catch (DecoderFallbackException)
        {
            return OperationOutcomes.Invalid("The body is not valid UTF-8.");
        }

        var request = NotificationRequest.Parse(body, pathTopic);
        if (request.IsRejected) return OperationOutcomes.For(request.Rejection!);
        var notification = request.Value!;
        if (notification.Context.Count > options.Value.Limits.MaxContextEntries)
            return OperationOutcomes.For(Rejection.TooLarge($"The event has {notification.Context.Count} context entries; this hub accepts at most {options.Value.Limits.MaxContextEntries}."));
        if (access.Publish(http, notification.Topic, notification.EventName.Value) is { } denied) return denied;

        var policy = options.Value.ContentPolicy();
        var partial = false;
        var appended = await topics.AppendAsync(notification.Topic, async (state, session, ct) =>
        {
            // A retry of an accepted id gets the original answer and is not distributed again (HUB-EVT-06).
            if (state is not null && await session.LoadAsync<AcceptedNotification>(AcceptedNotification.KeyFor(notification.Topic, notification.Id), ct) is { } earlier)
            {
                partial = earlier.Partial;
                return Array.Empty<object>();
            }
            var decision = TopicDecisions.Publish(state, notification, () => Guid.NewGuid().ToString(), policy);
            if (decision.IsRejected) return decision.Rejection!;
            partial = decision.Value!.Partial;
            return decision.Value.Events;
        }, http.RequestAborted);

        if (appended.IsRejected) return OperationOutcomes.For(appended.Rejection!);
        // 206: a select named resources the hub does not know; they were left out (HUB-SEL-03).
        return Results.StatusCode(partial ? StatusCodes.Status206PartialContent : StatusCodes.Status202Accepted);
    }
}
