namespace EventSourcedHub.Audit;

/// <summary>
/// One recorded topic-stream event, as a compliance officer searches it: the searchable columns plus the FHIR R4
/// AuditEvent that describes it (<see cref="Json"/>). Written by <see cref="AuditTrail"/> from the committed event.
/// </summary>
public sealed class AuditRecord
{
    /// <summary>The event's id in the store (`mt_events.id`), also the AuditEvent's id.</summary>
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public long StreamVersion { get; set; }

    /// <summary>When the hub recorded the event (the event's timestamp, to the microsecond).</summary>
    public DateTimeOffset Recorded { get; set; }

    /// <summary>The stored event type name (`subscribed`, `context_opened`, ...).</summary>
    public string EventType { get; set; } = "";

    /// <summary>The FHIRcast notification id and name, for notifications.</summary>
    public string? EventId { get; set; }
    public string? EventName { get; set; }

    /// <summary>The FHIRcast event name for notifications (`DiagnosticReport-open`), the lifecycle step otherwise (`subscribe`).</summary>
    public string Subtype { get; set; } = "";

    /// <summary>AuditEvent.action: C, R, U, D or E.</summary>
    public string Action { get; set; } = "";

    /// <summary>AuditEvent.outcome: 0 (success), 4 (minor failure), 8, 12.</summary>
    public string Outcome { get; set; } = "0";

    /// <summary>The app the event is about or came from: its `subscriber.name`, or `anonymous` when the hub cannot tell.</summary>
    public string Agent { get; set; } = "";
    public string? EndpointId { get; set; }

    /// <summary>`Patient/id` references of the notification's context.</summary>
    public string[] PatientRefs { get; set; } = [];

    /// <summary>Every `Type/id` the event is about (patient, study, report, other context resources).</summary>
    public string[] EntityRefs { get; set; } = [];

    /// <summary>The AuditEvent resource (FHIR R4 JSON).</summary>
    public string Json { get; set; } = "";
}
