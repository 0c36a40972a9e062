using System.Text;
using EventSourcedHub.Domain;
using EventSourcedHub.Http;
using EventSourcedHub.Storage;
using EventSourcedHub.Security;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Notifications;

/// <summary>
/// An event request: `POST {hub}` or `POST {hub}/{topic}` with a JSON body (HUB-EVT-*). The 202 is sent only after the
/// event is committed to the topic's stream, so an acknowledged event is never lost. The token was checked by the
/// access filter; the event's write scope is checked here, once the body names the event.
/// </summary>
public sealed class PublishNotification(TopicStream topics, Access access, IOptions<HubOptions> options)
{
    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public async Task<IResult> HandleAsync(HttpContext http, string? pathTopic)
    {
        string body;
        try
        {
            using var reader = new StreamReader(http.Request.Body, StrictUtf8);
            body = await reader.ReadToEndAsync(http.RequestAborted);
        }
        catch (DecoderFallbackException)
        {
            return Answers.Invalid("The body is not valid UTF-8.");
        }

        var request = NotificationRequest.Parse(body, pathTopic);
        if (request.IsRejected) return Rejected(http, body, request.Rejection!);
        var notification = request.Value!;
        if (notification.Context.Count > options.Value.Limits.MaxContextEntries)
            return Rejected(http, body,
                Rejection.TooLarge($"The event has {notification.Context.Count} context entries; this hub accepts at most {options.Value.Limits.MaxContextEntries}."));
        if (access.Publish(http, notification.Topic, notification.EventName.Value) is { } denied) return Rejected(http, body, denied);

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
        }, http.RequestAborted, Actor.Of(http).Headers());

        if (appended.IsRejected) return Rejected(http, body, Answers.For(appended.Rejection!));
        // 206: a select named resources the hub does not know; they were left out (HUB-SEL-03).
        return Results.StatusCode(partial ? StatusCodes.Status206PartialContent : StatusCodes.Status202Accepted);
    }

    private static IResult Rejected(HttpContext http, string body, Rejection rejection) => Rejected(http, body, Answers.For(rejection));

    /// <summary>Names the refused event for its audit (Http/RequestAudit): topic and event name read leniently from the body.</summary>
    private static IResult Rejected(HttpContext http, string body, ErrorAnswer answer)
    {
        var (topic, eventName) = Peek(body);
        var details = RequestAudit.Details(http);
        details.Topic ??= string.IsNullOrEmpty(topic) ? null : topic;
        details.EventName = eventName;
        details.Subtype = eventName is null ? "rejected-event" : $"rejected-{eventName}";
        return answer;
    }

    private static (string? Topic, string? EventName) Peek(string body)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || !json.RootElement.TryGetProperty("event", out var e) || e.ValueKind != System.Text.Json.JsonValueKind.Object) return (null, null);
            static string? Text(System.Text.Json.JsonElement o, string name)
            {
                if (!o.TryGetProperty(name, out var v) || v.ValueKind != System.Text.Json.JsonValueKind.String) return null;
                try
                {
                    return v.GetString();
                }
                catch (InvalidOperationException)
                {
                    return null; // A lone surrogate: nothing to name it by.
                }
            }
            var name = Text(e, "hub.event");
            // Only a plausible event name goes into the subtype.
            if (name is not null && (name.Length > 100 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))) name = null;
            return (Text(e, "hub.topic"), name);
        }
        catch (System.Text.Json.JsonException)
        {
            return (null, null);
        }
    }
}
