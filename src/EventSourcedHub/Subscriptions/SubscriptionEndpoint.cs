using System.Security.Cryptography;
using EventSourcedHub.Domain;
using EventSourcedHub.Http;
using EventSourcedHub.Notifications;
using EventSourcedHub.Security;
using Marten;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Subscriptions;

/// <summary>Subscribe and unsubscribe: form POSTs to `{hub}` (HUB-SUB-*, HUB-UNS-*). Errors are 4xx text/plain.</summary>
public sealed class SubscriptionEndpoint(TopicStream topics, Access access, IOptions<HubOptions> options, TimeProvider clock)
{
    public async Task<IResult> HandleAsync(HttpContext http)
    {
        // A body over the limit or an unreadable form throws here; Http/ErrorResponses answers it (413, 400).
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var fields = form.SelectMany(f => f.Value.Select(v => new KeyValuePair<string, string>(f.Key, v ?? ""))).ToList();
        Describe(http, fields);
        var parsed = SubscriptionRequest.Parse(fields);
        if (parsed.IsRejected) return Answers.For(parsed.Rejection!);
        if (access.Subscription(http, parsed.Value!.Topic) is { } denied) return denied;
        var actor = Actor.Of(http, (parsed.Value as SubscribeRequest)?.SubscriberName);

        var now = clock.GetUtcNow();
        var policy = options.Value.SubscriptionPolicy();
        if (parsed.Value is SubscribeRequest requested && options.Value.Auth.IsJwt)
        {
            // Grant only what the token may read (HUB-AUTH-03, AMB-25); the lease never outlives the token (HUB-SUB-10).
            var caller = access.Caller(http);
            var granted = caller.Scopes.Readable(requested.Events);
            if (granted.Length == 0)
                return Access.Forbidden("The token's `fhircast/<event>.read` scopes cover none of the requested events.");
            parsed = requested with { Events = granted, SubscriberName = requested.SubscriberName ?? (requested.EndpointId is null ? caller.ClientId : null) };
            if (caller.ExpiresAt is { } expires)
                policy = policy with { MaxLeaseSeconds = (int)Math.Clamp((expires - now).TotalSeconds, 1, policy.MaxLeaseSeconds) };
        }
        var appended = parsed.Value switch
        {
            SubscribeRequest subscribe => await topics.AppendAsync(subscribe.Topic, async (state, session, ct) =>
            {
                long? resumeAfterVersion = null;
                if (subscribe.ResumeAfter is { } eventId && state is not null)
                    resumeAfterVersion = (await session.LoadAsync<AcceptedNotification>(AcceptedNotification.KeyFor(subscribe.Topic, eventId), ct))?.StreamVersion;
                return TopicDecisions.Subscribe(state, subscribe, policy, now, NewEndpointId(), resumeAfterVersion);
            }, http.RequestAborted, actor.Headers()),
            UnsubscribeRequest unsubscribe => await topics.AppendAsync(unsubscribe.Topic,
                (state, _, _) => Task.FromResult(TopicDecisions.Unsubscribe(state, unsubscribe, now)), http.RequestAborted, actor.Headers()),
            _ => throw new InvalidOperationException("Unknown subscription request."),
        };
        if (appended.IsRejected) return Answers.For(appended.Rejection!);

        var endpointId = appended.Value!.Events.OfType<ISubscriptionEvent>().Single().EndpointId;
        return Results.Json(new Dictionary<string, string> { ["hub.channel.endpoint"] = EndpointUrl(http.Request, endpointId) },
            statusCode: StatusCodes.Status202Accepted);
    }

    /// <summary>Names the request for its audit, should it be refused (Http/RequestAudit; rulings.md 11).</summary>
    private static void Describe(HttpContext http, List<KeyValuePair<string, string>> fields)
    {
        string? Field(string name) => fields.FirstOrDefault(f => f.Key == name).Value;
        var mode = Field("hub.mode");
        var details = RequestAudit.Details(http);
        details.Subtype = mode is "subscribe" or "unsubscribe" ? $"rejected-{mode}" : "rejected-subscription-request";
        details.Action = mode == "unsubscribe" ? Hl7.Fhir.Model.AuditEvent.AuditEventAction.D : Hl7.Fhir.Model.AuditEvent.AuditEventAction.C;
        details.Topic = Field("hub.topic") is { Length: > 0 } topic ? topic : null;
        details.SubscriberName = Field("subscriber.name");
    }

    /// <summary>160 random bits from a CSPRNG: unguessable, never derived from the topic, never reused (HUB-SUB-08, HUB-WS-13).</summary>
    private static string NewEndpointId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));

    /// <summary>An absolute ws:// (wss:// behind TLS) URL on the host the request came to (rulings.md 4).</summary>
    public static string EndpointUrl(HttpRequest request, string endpointId) =>
        $"{(request.IsHttps ? "wss" : "ws")}://{request.Host}{request.PathBase}/api/hub/ws/{endpointId}";
}
