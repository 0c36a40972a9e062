using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using ResourceReference = Hl7.Fhir.Model.ResourceReference;

namespace EventSourcedHub.Audit;

/// <summary>
/// AuditRecords that are not topic-stream events (rulings.md 11, 12): rejected requests and reads. They carry stream
/// version 0, never enter a topic's stream or hash chain, and are stored by <see cref="AuditWriter"/>.
/// </summary>
public static class OffStreamAudit
{
    /// <summary><see cref="AuditRecord.EventType"/> of a rejected request.</summary>
    public const string Rejected = "rejected";

    /// <summary><see cref="AuditRecord.EventType"/> of a read (get current context, audit queries).</summary>
    public const string Read = "read";

    public const string RejectedCategory = "rejected-request";
    public const string ReadCategory = "read";
    public const string ReadSystem = "urn:eventsourcedhub:read";

    private static readonly FhirJsonSerializer Serializer = new();

    /// <summary>The app as the request names it: its `subscriber.name`, else `anonymous`.</summary>
    public static string AgentName(string? subscriberName) => string.IsNullOrWhiteSpace(subscriberName) ? AuditEvents.Anonymous : subscriberName;

    /// <summary>How a read audit names the topic it read, in <see cref="AuditRecord.EntityRefs"/>.</summary>
    public static string TopicToken(string topic) => $"{AuditEvents.TopicSystem}|{topic}";

    public static string? Address(HttpContext http) => http.Connection.RemoteIpAddress?.ToString();

    /// <summary>A 4xx answer to a subscription request, an event request or a WebSocket upgrade.</summary>
    public static AuditRecord RejectedRequest(HttpContext http, int status, string subtype, string reason, string? topic, string? agent,
        AuditEvent.AuditEventAction action, string? eventName = null, string? endpointId = null, DateTimeOffset? at = null) =>
        Create(Rejected, RejectedCategory, AuditEvents.FhircastEventSystem, subtype, null, action, status >= 500 ? "8" : "4",
            $"{status}: {reason}", topic, AgentName(agent), Address(http), eventName, endpointId, at ?? DateTimeOffset.UtcNow, null);

    /// <summary>A read of session data or of the audit store. <paramref name="query"/> is the path and query string read.</summary>
    public static AuditRecord ReadRequest(HttpContext http, string subtype, string? display, string? topic, string? outcomeText,
        string outcome = "0", string? iheTransaction = null, string? iheDisplay = null) =>
        Create(Read, ReadCategory, ReadSystem, subtype, display, AuditEvent.AuditEventAction.R, outcome,
            outcomeText ?? $"{http.Request.Method} {http.Request.Path}{http.Request.QueryString}", topic, AuditEvents.Anonymous, Address(http),
            null, null, DateTimeOffset.UtcNow, iheTransaction is null ? null : new Coding(AuditEvents.IheTransactionSystem, iheTransaction, iheDisplay));

    private static AuditRecord Create(string eventType, string category, string subtypeSystem, string subtype, string? display,
        AuditEvent.AuditEventAction action, string outcome, string outcomeText, string? topic, string agent, string? address,
        string? eventName, string? endpointId, DateTimeOffset at, Coding? iheCoding)
    {
        var record = new AuditRecord
        {
            Id = Guid.CreateVersion7().ToString(),
            // A read does not belong to the session's record: it is found by the topic's entity token instead
            // (`entity=urn:eventsourcedhub:topic|<topic>`), so topic-scoped searches and paging see only the session.
            Topic = eventType == Read ? "" : topic ?? "",
            EntityRefs = eventType == Read && !string.IsNullOrEmpty(topic) ? [TopicToken(topic)] : [],
            StreamVersion = 0,
            Recorded = AuditEvents.Microseconds(at),
            EventType = eventType,
            EventName = eventName,
            Subtype = subtype,
            Action = action.ToString(),
            Outcome = outcome,
            Agent = agent,
            EndpointId = endpointId,
        };
        var audit = new AuditEvent
        {
            Id = record.Id,
            Type = new Coding(AuditEvents.TypeSystem, category),
            Subtype = [new Coding(subtypeSystem, subtype, display)],
            Action = action,
            Recorded = record.Recorded,
            Outcome = outcome switch
            {
                "4" => AuditEvent.AuditEventOutcome.N4,
                "8" => AuditEvent.AuditEventOutcome.N8,
                "12" => AuditEvent.AuditEventOutcome.N12,
                _ => AuditEvent.AuditEventOutcome.N0,
            },
            OutcomeDesc = outcomeText,
            Source = new AuditEvent.SourceComponent
            {
                Site = AuditEvents.HubName,
                Observer = new ResourceReference { Display = AuditEvents.HubName },
                Type = [new Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")],
            },
        };
        if (iheCoding is not null) audit.Subtype.Add(iheCoding);
        audit.Agent.Add(new AuditEvent.AgentComponent
        {
            Who = new ResourceReference
            {
                Display = agent,
                Identifier = endpointId is null ? null : new Identifier(AuditEvents.EndpointSystem, endpointId),
            },
            Name = agent,
            Requestor = true,
            Network = address is null ? null : new AuditEvent.NetworkComponent
            {
                Address = address,
                Type = AuditEvent.AuditEventAgentNetworkType.N2, // IP address
            },
        });
        if (!string.IsNullOrEmpty(topic))
            audit.Entity.Add(new AuditEvent.EntityComponent
            {
                What = new ResourceReference { Identifier = new Identifier(AuditEvents.TopicSystem, topic), Display = "FHIRcast topic" },
                Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "4", "Other"),
                Name = topic,
            });
        record.Json = Serializer.SerializeToString(audit);
        return record;
    }
}
