using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;

namespace EventSourcedHub.Observability;

/// <summary>
/// The hub's own counters and histograms (meter <see cref="MeterName"/>, exported at `/metrics`): one static meter, so
/// the code that measures needs one line and no injected service. The gauges that read a hub's state are in
/// <see cref="HubGauges"/>. docs/architecture.md, "Observability", lists every instrument.
/// </summary>
/// <remarks>
/// No instrument carries a topic, an id or any context: `/metrics` needs no token. Event names are the only values
/// that come from clients, so they are bounded (<see cref="EventTag"/>).
/// </remarks>
public static partial class HubMetrics
{
    public const string MeterName = "EventSourcedHub";

    /// <summary>Passed instead of a commit time for a notification committed by another hub process: counted, not timed.</summary>
    public const long CommitTimeUnknown = -1;

    /// <summary>The event-name tag of a name that is neither a FHIRcast event nor one of the first accepted other names.</summary>
    public const string OtherEventName = "other";

    /// <summary>The event-name tag of a rejected request whose event name the hub does not know.</summary>
    public const string UnknownEventName = "unknown";

    private const int MaxOtherEventNames = 64;

    private static readonly Meter Meter = new(MeterName);

    private static readonly Counter<long> Accepted = Meter.CreateCounter<long>("eventsourcedhub.events.accepted", "{event}",
        "Notification events committed to a topic's stream by this process");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>("eventsourcedhub.events.rejected", "{request}",
        "Event requests answered with an error (4xx or 5xx)");
    private static readonly Counter<long> Deliveries = Meter.CreateCounter<long>("eventsourcedhub.deliveries", "{notification}",
        "Notifications written to a subscriber's WebSocket as they were distributed");
    private static readonly Histogram<double> DeliveryLatency = Meter.CreateHistogram("eventsourcedhub.delivery.latency", "ms",
        "From the commit of an event in this process to the write of one notification of it to a subscriber's WebSocket",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] });
    private static readonly Counter<long> AckTimeouts = Meter.CreateCounter<long>("eventsourcedhub.ack.timeouts", "{notification}",
        "Notifications not acknowledged within Hub:AckTimeoutSeconds");
    private static readonly Counter<long> SyncErrors = Meter.CreateCounter<long>("eventsourcedhub.sync_errors", "{event}",
        "SyncErrors the hub raised and committed");
    private static readonly Histogram<int> CommitBatchSize = Meter.CreateHistogram("eventsourcedhub.commit.batch_size", "{append}",
        "Appends committed together in one group-commit transaction",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000] });
    private static readonly Histogram<double> NotifyCatchUp = Meter.CreateHistogram("eventsourcedhub.notify.catch_up", "ms",
        "From handling another process's commit notification (or a catch-up after a lost LISTEN session) to this process having distributed the topic up to it",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] });

    // FHIRcast's own event names get a series each; other names a client made up get one each only up to a cap.
    private static readonly ConcurrentDictionary<string, string> KnownEventNames = new(
        new[]
        {
            "Patient-open", "Patient-close", "ImagingStudy-open", "ImagingStudy-close", "Encounter-open", "Encounter-close",
            "DiagnosticReport-open", "DiagnosticReport-close", "DiagnosticReport-update", "DiagnosticReport-select",
            "Home-open", "SyncError", "heartbeat", "userLogout", "userHibernate",
        }.Select(name => KeyValuePair.Create(name, name)),
        StringComparer.OrdinalIgnoreCase);

    private static readonly int FhircastEventNames = KnownEventNames.Count;

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{0,62}(-[A-Za-z]{1,16})?$")]
    private static partial Regex PlausibleEventName();

    /// <summary>
    /// The tag value for an event name. An accepted name that is not FHIRcast's own is admitted as a value of its own
    /// while fewer than 64 are (then <see cref="OtherEventName"/>); a rejected request can only name a value already
    /// known, else <see cref="UnknownEventName"/>, so nothing a refused client sent appears in `/metrics`.
    /// </summary>
    public static string EventTag(string? name, bool accepted)
    {
        if (name is null) return UnknownEventName;
        if (KnownEventNames.TryGetValue(name, out var known)) return known;
        if (!accepted) return UnknownEventName;
        if (KnownEventNames.Count >= FhircastEventNames + MaxOtherEventNames || !PlausibleEventName().IsMatch(name)) return OtherEventName;
        return KnownEventNames.GetOrAdd(name, name);
    }

    public static void EventAccepted(string eventName) => Accepted.Add(1, new KeyValuePair<string, object?>("fhircast.event", EventTag(eventName, accepted: true)));

    /// <summary>
    /// Counts an event request answered with an error: the endpoints that take events are the ones whose refusals are
    /// audited as `rejected-event` (Http/RequestAudit); <paramref name="eventName"/> is the name the handler read, if any.
    /// </summary>
    public static void EventRequestAnswered(HttpContext http, string? eventName)
    {
        var status = http.Response.StatusCode;
        if (status < 400 || http.GetEndpoint()?.Metadata.GetMetadata<Http.AuditedRejections>() is not { Subtype: "rejected-event" }) return;
        Rejected.Add(1,
            new KeyValuePair<string, object?>("fhircast.event", EventTag(eventName, accepted: false)),
            new KeyValuePair<string, object?>("http.response.status_code", status));
    }

    /// <summary>A notification was written to a socket; <paramref name="committedAt"/> is <see cref="Storage.Appended.KnownAt"/> of its commit.</summary>
    public static void Delivered(long committedAt)
    {
        Deliveries.Add(1);
        if (committedAt > 0) DeliveryLatency.Record(Stopwatch.GetElapsedTime(committedAt).TotalMilliseconds);
    }

    public static void AckTimedOut() => AckTimeouts.Add(1);

    public static void SyncErrorRaised() => SyncErrors.Add(1);

    public static void CommitBatch(int appends) => CommitBatchSize.Record(appends);

    /// <summary>A dispatcher has distributed what another process's notification announced, handled at <paramref name="handledAt"/>.</summary>
    public static void CaughtUp(long handledAt) => NotifyCatchUp.Record(Stopwatch.GetElapsedTime(handledAt).TotalMilliseconds);
}
