using EventSourcedHub.Domain;
using EventSourcedHub.Security;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using ResourceReference = Hl7.Fhir.Model.ResourceReference;

namespace EventSourcedHub.Audit;

/// <summary>
/// AuditRecords that are not topic-stream events (rulings.md 11, 12): rejected requests, reads and deliveries. They
/// carry stream version 0, never enter a topic's stream or hash chain, and are stored by <see cref="AuditWriter"/>. They
/// name the topic they concern, so a session's audit lists them (rulings.md 34). Their text is stored escaped where
/// PostgreSQL could not store it (rulings.md 30).
/// </summary>
public static class OffStreamAudit
{
    /// <summary><see cref="AuditRecord.EventType"/> of a rejected request.</summary>
    public const string Rejected = "rejected";

    /// <summary><see cref="AuditRecord.EventType"/> of a read (get current context, history, export, audit queries).</summary>
    public const string Read = "read";

    /// <summary><see cref="AuditRecord.EventType"/> of a notification written to a subscriber's socket (its receipt).</summary>
    public const string Delivery = "delivery";

    public const string RejectedCategory = "rejected-request";
    public const string ReadCategory = "read";
    public const string DeliveryCategory = "delivery";
    public const string ReadSystem = "urn:eventsourcedhub:read";
    public const string ClientSystem = "urn:eventsourcedhub:client";
    public const string DeliverySystem = "urn:eventsourcedhub:delivery";

    private static readonly FhirJsonSerializer Serializer = new();

    /// <summary>How a record names the topic it concerns, in <see cref="AuditRecord.EntityRefs"/>.</summary>
    public static string TopicToken(string topic) => $"{AuditEvents.TopicSystem}|{topic}";

    /// <summary>A 4xx answer to any request.</summary>
    public static AuditRecord RejectedRequest(int status, string subtype, string reason, string? topic, Actor actor,
        AuditEvent.AuditEventAction action, DateTimeOffset at, string? eventName = null, string? endpointId = null) =>
        Create(Rejected, RejectedCategory, AuditEvents.FhircastEventSystem, subtype, null, action, status >= 500 ? "8" : "4",
            $"{status}: {reason}", topic, actor, eventName, endpointId, at, null);

    /// <summary>A read of session data or of the audit store.</summary>
    public static AuditRecord ReadRequest(string subtype, string? display, string? topic, string outcomeText, Actor actor, DateTimeOffset at,
        string? iheTransaction = null, string? iheDisplay = null) =>
        Create(Read, ReadCategory, ReadSystem, subtype, display, AuditEvent.AuditEventAction.R, "0", outcomeText, topic, actor,
            null, null, at, iheTransaction is null ? null : new Coding(AuditEvents.IheTransactionSystem, iheTransaction, iheDisplay));

    /// <summary>The AuditEvent of a delivery receipt: the notification was written to the subscriber and acknowledged, or not.</summary>
    public static AuditRecord ForDelivery(DeliveryReceipt receipt)
    {
        var outcome = receipt.Status is >= 200 and < 300 ? "0" : "4";
        var text = receipt.Status is { } status ? $"ack status {status} after {receipt.LatencyMs} ms"
            : receipt.TimedOut ? "no ack within the ack timeout" : "the socket closed before an ack";
        // Subtype `delivery` (the event's name as its display): a search for an event name finds the notification, not its deliveries.
        var record = Create(Delivery, DeliveryCategory, DeliverySystem, Delivery, receipt.EventName, AuditEvent.AuditEventAction.E,
            outcome, $"{receipt.EventId} (stream version {receipt.StreamVersion}): {text}", receipt.Topic, Actor.Subscriber(receipt.SubscriberName),
            receipt.EventName, receipt.EndpointId, receipt.SentAt, null);
        record.EventId = receipt.EventId;
        return record;
    }

    private static AuditRecord Create(string eventType, string category, string subtypeSystem, string subtype, string? display,
        AuditEvent.AuditEventAction action, string outcome, string outcomeText, string? topic, Actor actor,
        string? eventName, string? endpointId, DateTimeOffset at, Coding? iheCoding)
    {
        topic = topic is null ? null : StorableText.Escape(topic);
        subtype = StorableText.Escape(subtype);
        outcomeText = StorableText.Escape(outcomeText);
        eventName = eventName is null ? null : StorableText.Escape(eventName);
        var agent = StorableText.Escape(actor.Name);
        var record = new AuditRecord
        {
            Id = Guid.CreateVersion7().ToString(),
            Topic = topic ?? "",
            EntityRefs = string.IsNullOrEmpty(topic) ? [] : [TopicToken(topic)],
            StreamVersion = 0,
            Recorded = AuditEvents.Microseconds(at),
            EventType = eventType,
            EventName = eventName,
            Subtype = subtype,
            Action = action.ToString(),
            Outcome = outcome,
            Agent = agent,
            EndpointId = endpointId is null ? null : StorableText.Escape(endpointId),
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
            Source = AuditEvents.Source(),
        };
        if (iheCoding is not null) audit.Subtype.Add(iheCoding);
        audit.Agent.Add(AuditEvents.Agent(actor, record.EndpointId, requestor: true));
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
