using System.Collections.Concurrent;
using EventSourcedHub.Audit;
using EventSourcedHub.Domain;
using EventSourcedHub.Security;
using Hl7.Fhir.Model;
using Task = System.Threading.Tasks.Task;

namespace EventSourcedHub.Http;

/// <summary>What the audit of a request needs beyond its status, filled in by the handler as it learns it.</summary>
public sealed class RequestAuditDetails
{
    /// <summary>The topic the request concerns (the route's, or the one named in the body).</summary>
    public string? Topic { get; set; }
    public string? EventName { get; set; }

    /// <summary>The audit subtype of a refusal, when the handler knows better than its endpoint (e.g. `rejected-unsubscribe`).</summary>
    public string? Subtype { get; set; }
    public AuditEvent.AuditEventAction? Action { get; set; }
    public string? SubscriberName { get; set; }
    public string? EndpointId { get; set; }

    /// <summary>The message the client got with a refusal.</summary>
    public string? Reason { get; set; }

    /// <summary>What a successful read returned, for its audit (e.g. the `context.versionId` read).</summary>
    public string? ReadOutcome { get; set; }
}

/// <summary>Endpoint metadata: each successful request to this endpoint is a read of session or audit data and is audited.</summary>
public sealed record AuditedRead(string Subtype, string? Display = null, string? IheTransaction = null, string? IheDisplay = null);

/// <summary>Endpoint metadata: how refusals of this endpoint are named in the audit.</summary>
public sealed record AuditedRejections(string Subtype, AuditEvent.AuditEventAction Action);

/// <summary>
/// The one place where requests are audited (rulings.md 11, 12, 34): every 4xx answer as a rejected request and every
/// successful read of session or audit data as a read, once each, off the topic streams. It also refuses new requests
/// with 503 while the audit queue is full, so audit records wait in bounded memory and are never dropped.
/// </summary>
public sealed class RequestAudit(RequestDelegate next, AuditWriter writer, ThrottledRequests throttled, TimeProvider clock)
{
    public static RequestAuditDetails Details(HttpContext http)
    {
        if (http.Features.Get<RequestAuditDetails>() is { } details) return details;
        details = new RequestAuditDetails();
        http.Features.Set(details);
        return details;
    }

    public async Task InvokeAsync(HttpContext http)
    {
        var details = Details(http);
        if (!writer.HasRoom)
        {
            http.Response.Headers.RetryAfter = "2";
            await Answers.For(Rejection.Unavailable("The hub is busy storing its audit records; retry after the time in Retry-After.")).ExecuteAsync(http);
            return;
        }
        var at = clock.GetUtcNow();
        await next(http);
        Observability.HubMetrics.EventRequestAnswered(http, details.EventName);
        Audit(http, details, at);
    }

    private void Audit(HttpContext http, RequestAuditDetails details, DateTimeOffset at)
    {
        var status = http.Response.StatusCode;
        var endpoint = http.GetEndpoint();
        var topic = details.Topic ?? http.GetRouteValue(AccessFilter.TopicRouteValue) as string;
        var actor = Actor.Of(http, details.SubscriberName);
        var request = $"{http.Request.Method} {http.Request.Path}{http.Request.QueryString}";
        if (status == StatusCodes.Status429TooManyRequests)
        {
            throttled.Count(actor, request, topic, at);
        }
        else if (status is >= 400 and < 500)
        {
            var rejections = endpoint?.Metadata.GetMetadata<AuditedRejections>();
            var subtype = status switch
            {
                StatusCodes.Status401Unauthorized => "unauthenticated",
                StatusCodes.Status403Forbidden => "forbidden",
                _ => details.Subtype ?? rejections?.Subtype ?? "rejected-request",
            };
            var reason = details.Reason ?? $"the request failed with status {status}";
            writer.Write(OffStreamAudit.RejectedRequest(status, subtype, rejections is null || status is 401 or 403 ? $"{request}: {reason}" : reason,
                topic, actor, details.Action ?? rejections?.Action ?? AuditEvent.AuditEventAction.E, at, details.EventName, details.EndpointId));
        }
        else if (status < 400 && endpoint?.Metadata.GetMetadata<AuditedRead>() is { } read)
        {
            writer.Write(OffStreamAudit.ReadRequest(read.Subtype, read.Display, topic, details.ReadOutcome ?? $"{request} -> {status}", actor, at,
                read.IheTransaction, read.IheDisplay));
        }
    }
}

/// <summary>
/// Requests refused by the rate limiter are audited per client and second, one record for all of them: a flood of
/// refused requests must not flood the audit queue it is meant to protect.
/// </summary>
public sealed class ThrottledRequests(AuditWriter writer) : IHostedService, IDisposable
{
    private sealed class Window(Actor actor, string request, string? topic, DateTimeOffset first)
    {
        public Actor Actor { get; } = actor;
        public string Request { get; } = request;
        public string? Topic { get; } = topic;
        public DateTimeOffset First { get; } = first;
        public int Count;
        public bool Closed;
    }

    private readonly ConcurrentDictionary<string, Window> _windows = new();
    private Timer? _timer;

    public void Count(Actor actor, string request, string? topic, DateTimeOffset at)
    {
        var key = actor.Address ?? actor.Name;
        while (true)
        {
            var window = _windows.GetOrAdd(key, _ => new Window(actor, request, topic, at));
            lock (window)
            {
                if (window.Closed) continue;
                window.Count++;
                return;
            }
        }
    }

    private void Flush()
    {
        foreach (var key in _windows.Keys)
        {
            if (!_windows.TryRemove(key, out var window)) continue;
            lock (window) window.Closed = true;
            writer.Write(OffStreamAudit.RejectedRequest(StatusCodes.Status429TooManyRequests, "throttled",
                $"{window.Count} request(s) refused by the rate limit (Hub:Limits:RequestsPerSecondPerClient) within a second; the first: {window.Request}",
                window.Topic, window.Actor, AuditEvent.AuditEventAction.E, window.First));
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = new Timer(_ => Flush(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_timer is not null) await _timer.DisposeAsync();
        Flush();
    }

    public void Dispose() => _timer?.Dispose();
}
