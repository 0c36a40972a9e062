namespace EventSourcedHub.Discovery;

/// <summary>The discovery document at `{hub}/.well-known/fhircast-configuration` (HUB-DISC-01..08). No `webhookSupport`: STU3 removed webhooks.</summary>
public static class FhircastConfiguration
{
    private static readonly string[] EventsSupported =
    [
        "Patient-open", "Patient-close", "Encounter-open", "Encounter-close", "ImagingStudy-open", "ImagingStudy-close",
        "DiagnosticReport-open", "DiagnosticReport-close", "DiagnosticReport-update", "DiagnosticReport-select",
        "SyncError", "UserLogout", "UserHibernate", "Home-open", "Heartbeat",
    ];

    public static IResult Handle() => Results.Json(new Dictionary<string, object>
    {
        ["eventsSupported"] = EventsSupported,
        ["websocketSupport"] = true,
        ["fhircastVersion"] = "3.0.0",
        ["getCurrentSupport"] = true,
        ["capabilities"] = new Dictionary<string, bool>
        {
            ["supportsGetCurrentContext"] = true,
            ["supportsNonCurrentContextUpdates"] = true,
        },
        // This hub's extensions (FHIRcast 2-8): a subscription may resume after the last event the app saw.
        ["extensions"] = new Dictionary<string, object>
        {
            ["resume.after"] = "Subscription form field: the id of the last event received; the hub then sends the missed events instead of the current-context opens.",
            ["eventsSince"] = "GET /api/sessions/{topic}/events?after={event id} or ?afterVersion={stream version}",
        },
    });
}
