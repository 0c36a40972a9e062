using System.Text;
using EventSourcedHub.Audit;
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
public sealed class PublishNotification(TopicStream topics, Access access, IOptions<HubOptions> options, AuditWriter audit)
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
        catch (BadHttpRequestException e)
        {
            // Kestrel's body limit (413) or a broken body: audited, then answered as before by the exception handler.
            Audited(http, pathTopic, e.StatusCode, e.Message, Results.Empty);
            throw;
        }
        catch (DecoderFallbackException)
        {
            return Rejected(http, pathTopic, null, new Rejection(RejectionKind.Invalid, "The body is not valid UTF-8."));
        }

        var request = NotificationRequest.Parse(body, pathTopic);
        if (request.IsRejected) return Rejected(http, pathTopic, body, request.Rejection!);
        var notification = request.Value!;
        if (notification.Context.Count > options.Value.Limits.MaxContextEntries)
            return Rejected(http, notification.Topic, body,
                Rejection.TooLarge($"The event has {notification.Context.Count} context entries; this hub accepts at most {options.Value.Limits.MaxContextEntries}."));
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

        if (appended.IsRejected) return Rejected(http, notification.Topic, body, appended.Rejection!);
        // 206: a select named resources the hub does not know; they were left out (HUB-SEL-03).
        return Results.StatusCode(partial ? StatusCodes.Status206PartialContent : StatusCodes.Status202Accepted);
    }

    /// <summary>Audits a rejection answered outside <see cref="HandleAsync"/> (415 wrong media type) and returns its answer.</summary>
    public IResult Audited(HttpContext http, string? pathTopic, int status, string reason, IResult result)
    {
        Observability.HubMetrics.EventRejected(null, status);
        audit.Write(OffStreamAudit.RejectedRequest(http, status, "rejected-event", reason, string.IsNullOrEmpty(pathTopic) ? null : pathTopic, null,
            Hl7.Fhir.Model.AuditEvent.AuditEventAction.E));
        return result;
    }

    /// <summary>Every 4xx is audited off the topic's stream (rulings.md 11); the topic and event name are read leniently from the body.</summary>
    private IResult Rejected(HttpContext http, string? topic, string? body, Rejection rejection)
    {
        var result = OperationOutcomes.For(rejection);
        var status = (result as IStatusCodeHttpResult)?.StatusCode ?? StatusCodes.Status400BadRequest;
        var (bodyTopic, eventName) = Peek(body);
        topic ??= bodyTopic;
        Observability.HubMetrics.EventRejected(eventName, status);
        audit.Write(OffStreamAudit.RejectedRequest(http, status, eventName is null ? "rejected-event" : $"rejected-{eventName}", rejection.Message,
            string.IsNullOrEmpty(topic) ? null : topic, null, Hl7.Fhir.Model.AuditEvent.AuditEventAction.E, eventName));
        return result;
    }

    private static (string? Topic, string? EventName) Peek(string? body)
    {
        if (body is null) return (null, null);
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || !json.RootElement.TryGetProperty("event", out var e) || e.ValueKind != System.Text.Json.JsonValueKind.Object) return (null, null);
            static string? Text(System.Text.Json.JsonElement o, string name) =>
                o.TryGetProperty(name, out var v) && v.ValueKind == System.Text.Json.JsonValueKind.String ? v.GetString() : null;
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
