namespace EventSourcedHub.Domain;

/// <summary>Why the hub raises a SyncError about one subscriber (HUB-SE-03), with everything the notification needs.</summary>
/// <param name="OperationOutcome">The OperationOutcome resource as JSON (authored by the host with the FHIR R4 SDK).</param>
public sealed record SyncErrorCause(
    string EndpointId,
    string SubscriberName,
    string FailedEventId,
    string FailedEventName,
    string Diagnostics,
    string NewEventId,
    DateTimeOffset At,
    string OperationOutcome);

/// <summary>SyncError events: validating those subscribers send (HUB-SE-05) and writing those the hub raises (HUB-SE-02).</summary>
public static class SyncErrors
{
    public const string EventIdSystem = "https://fhircast.hl7.org/events/syncerror/eventid";
    public const string EventNameSystem = "https://fhircast.hl7.org/events/syncerror/eventname";
    public const string SubscriberNameSystem = "https://fhircast.hl7.org/events/syncerror/subscribername";

    /// <summary>The event name in the codings when no event triggered the error (a lost connection).</summary>
    public const string NoEvent = "syncerror";

    /// <summary>A subscriber's SyncError must carry exactly one `operationoutcome` entry holding an OperationOutcome.</summary>
    public static Rejection? Validate(NotificationRequest request)
    {
        var outcomes = request.Entries("operationoutcome").ToArray();
        if (outcomes.Length != 1 || outcomes[0].Reference is not null || outcomes[0].ResourceType != "OperationOutcome")
            return Rejection.Invalid("A SyncError must carry exactly one `operationoutcome` entry holding an OperationOutcome (HUB-SE-05).");
        return null;
    }

    public static string Notification(string topic, SyncErrorCause cause) =>
        NotificationText.Compose(
            cause.At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
            cause.NewEventId, topic, EventName.SyncError,
            [$$"""{"key":"operationoutcome","resource":{{cause.OperationOutcome}}}"""]);
}
