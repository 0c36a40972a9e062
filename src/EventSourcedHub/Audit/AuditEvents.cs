using EventSourcedHub.Domain;
using EventSourcedHub.Security;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using ResourceReference = Hl7.Fhir.Model.ResourceReference;

namespace EventSourcedHub.Audit;

/// <summary>Describes one topic-stream event as a FHIR R4 AuditEvent (in the spirit of IHE BALP) and its searchable record.</summary>
public static class AuditEvents
{
    public const string Anonymous = "anonymous";
    public const string HubName = "EventSourcedHub";
    public const string TypeSystem = "urn:eventsourcedhub:audit-event-type";
    public const string StepSystem = "urn:eventsourcedhub:subscription-step";
    public const string FhircastEventSystem = "urn:eventsourcedhub:fhircast-event";
    public const string IheTransactionSystem = "urn:ihe:event-type-code";
    public const string TopicSystem = "urn:eventsourcedhub:topic";
    public const string EndpointSystem = "urn:eventsourcedhub:endpoint";
    public const string NotificationSystem = "urn:eventsourcedhub:notification-id";
    private const string EntityTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
    private const string ObjectRoleSystem = "http://terminology.hl7.org/CodeSystem/object-role";

    private static readonly FhirJsonSerializer Serializer = new();

    /// <summary>Timestamps as PostgreSQL keeps them (microseconds), so records, cursors and the chain agree.</summary>
    public static DateTimeOffset Microseconds(DateTimeOffset t) => new(t.UtcTicks - t.UtcTicks % 10, TimeSpan.Zero);

    private sealed record Shape(string Category, string Subtype, string? Display, AuditEvent.AuditEventAction Action, string Outcome,
        bool SubscriberRequested, string? EndpointId, string? OutcomeText, string? IheTransaction, string? IheDisplay);

    /// <summary>
    /// The AuditEvent of one committed topic-stream event; <paramref name="subscriberName"/> names the app it is about,
    /// <paramref name="actor"/> who acted (recorded with the event; null for events recorded without one).
    /// </summary>
    public static AuditRecord Record(RecordedEvent e, string? subscriberName, Actor? actor = null)
    {
        var shape = ShapeOf(e.Data ?? throw new ArgumentException("An event of an unknown type has no AuditEvent.", nameof(e)));
        var notification = e.Data as INotificationEvent;
        var refs = notification is null ? NotificationReferences.None : NotificationReferences.Read(notification.Notification).Storable();
        var anchor = AnchorOf(e.Data);
        var entityRefs = refs.All.Concat(anchor is null ? [] : [anchor]).Distinct().ToArray();
        // A close the hub decided itself (an evicted suspended anchor) was not sent by any app.
        var acting = e.Data is ContextClosed { Reason: not null } ? Actor.Hub : actor;
        subscriberName = string.IsNullOrEmpty(subscriberName) ? null : subscriberName;
                // Without a token, a request about a subscription is named by that subscription's subscriber (rulings.md 33).
        if (acting is { ClientId: null, IsHub: false } && shape.EndpointId is not null && subscriberName is not null && acting.Name != subscriberName)
            acting = acting with { Name = subscriberName };
        var agent = acting?.Name ?? subscriberName ?? Anonymous;
        var recorded = Microseconds(e.Timestamp);
        var record = new AuditRecord
        {
            Id = e.Id.ToString(),
            Topic = e.Topic,
            StreamVersion = e.Version,
            Recorded = recorded,
            EventType = e.Type,
            EventId = notification?.EventId,
            EventName = notification?.EventName,
            Subtype = shape.Subtype,
            Action = shape.Action.ToString(),
            Outcome = shape.Outcome,
            Agent = agent,
            EndpointId = shape.EndpointId,
            PatientRefs = refs.Patients,
            EntityRefs = entityRefs,
        };
        record.Json = Serializer.SerializeToString(Resource(record, shape, refs, anchor, notification, acting, subscriberName));
        return record;
    }

    private static string? AnchorOf(object data) => data switch
    {
        ContextOpened o => $"{o.AnchorType}/{o.AnchorId}",
        ContextClosed c => $"{c.AnchorType}/{c.AnchorId}",
        ContentUpdated u => $"{u.AnchorType}/{u.AnchorId}",
        ContentSelected s => $"{s.AnchorType}/{s.AnchorId}",
        _ => null,
    };

    private static Shape ShapeOf(object data) => data switch
    {
        Subscribed s => new("subscription", "subscribe", "Subscribe", AuditEvent.AuditEventAction.C, "0", true, s.EndpointId,
            $"events: {string.Join(",", s.Events)}; lease {s.LeaseSeconds} s", "RAD-146", "Subscribe to Reporting Session"),
        SubscriptionRenewed r => new("subscription", "renew", "Renew subscription", AuditEvent.AuditEventAction.U, "0", true, r.EndpointId,
            $"events: {string.Join(",", r.Events)}; lease {r.LeaseSeconds} s", "RAD-146", "Subscribe to Reporting Session"),
        SubscriptionConfirmed c => new("subscription", "confirm", "WebSocket connected", AuditEvent.AuditEventAction.U, "0", true, c.EndpointId,
            $"lease expires {c.LeaseExpiresAt:O}", "RAD-147", "Connect to Notification Channel"),
        Unsubscribed u => new("subscription", "unsubscribe", "Unsubscribe", AuditEvent.AuditEventAction.D, "0", true, u.EndpointId,
            null, "RAD-152", "Unsubscribe Session"),
        LeaseExpired x => new("subscription", "lease-expired", "Lease expired", AuditEvent.AuditEventAction.D, "0", false, x.EndpointId,
            null, null, null),
        SubscriberDropped d => new("subscription", "dropped", "WebSocket closed", AuditEvent.AuditEventAction.D,
            d.CloseCode is 1000 or 1001 or 1005 ? "0" : "4", true, d.EndpointId, $"close code {d.CloseCode?.ToString() ?? "none"}: {d.Reason}", null, null),
        SubscriberDisconnected d => new("subscription", "disconnected", "WebSocket dropped; may reconnect", AuditEvent.AuditEventAction.U, "4", true, d.EndpointId,
            $"close code {d.CloseCode?.ToString() ?? "none"}: {d.Reason}; may reconnect until {d.ReconnectBy:O}", null, null),
        ReplayStarted r => new("replay", "replay-started", "Replay started", AuditEvent.AuditEventAction.C, "0", false, null,
            $"replay {r.ReplayId} of {r.SourceTopic} versions {r.FromVersion}..{r.ToVersion} at speed {r.Speed}", null, null),
        SubscriptionAbandoned a => new("subscription", "abandoned", "WebSocket never connected", AuditEvent.AuditEventAction.D, "4", false, a.EndpointId,
            null, null, null),
        SyncErrorRaised s => new("sync-error", s.EventName, null, AuditEvent.AuditEventAction.E, "4", false, s.EndpointId,
            $"{s.FailedEventName} {s.FailedEventId}: {s.Diagnostics}", null, null),
        ContentUpdated u => new("notification", u.EventName, null, AuditEvent.AuditEventAction.U, "0", false, null,
            u.Leniency is null ? $"{u.Changes.Length} change(s)" : $"{u.Changes.Length} change(s); {u.Leniency}", null, null),
        ContentSelected s => new("notification", s.EventName, null, AuditEvent.AuditEventAction.E, s.Partial ? "4" : "0", false, null,
            s.Partial ? "some selected resources were unknown" : null, null, null),
        ContextClosed { Reason: { } reason } c => new("notification", c.EventName, null, AuditEvent.AuditEventAction.D, "0", false, null, reason, null, null),
        INotificationEvent n => new("notification", n.EventName, null, AuditEvent.AuditEventAction.E, "0", false, null, null, null, null),
        _ => throw new ArgumentOutOfRangeException(nameof(data), data.GetType().Name, "not a topic event"),
    };

    public static AuditEvent.SourceComponent Source() => new()
    {
        Site = HubName,
        Observer = new ResourceReference { Display = HubName },
        Type = [new Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")],
    };

    /// <summary>An agent of an AuditEvent: the client (identified by its token's client id) or app, and its network address.</summary>
    public static AuditEvent.AgentComponent Agent(Actor actor, string? endpointId, bool requestor) => new()
    {
        Who = new ResourceReference
        {
            Display = actor.Display ?? actor.Name,
            Identifier = actor.ClientId is { } client ? new Identifier(OffStreamAudit.ClientSystem, client)
                : endpointId is null ? null : new Identifier(EndpointSystem, endpointId),
        },
        Name = actor.Name,
        Requestor = requestor,
        Network = actor.Address is null ? null : new AuditEvent.NetworkComponent
        {
            Address = actor.Address,
            Type = AuditEvent.AuditEventAgentNetworkType.N2, // IP address
        },
    };

    private static AuditEvent Resource(AuditRecord record, Shape shape, NotificationReferences refs, string? anchor, INotificationEvent? notification,
        Actor? acting, string? subscriberName)
    {
        var audit = new AuditEvent
        {
            Id = record.Id,
            Type = new Coding(TypeSystem, shape.Category),
            Subtype = [new Coding(shape.Category == "subscription" ? StepSystem : FhircastEventSystem, shape.Subtype, shape.Display)],
            Action = shape.Action,
            Recorded = record.Recorded,
            Outcome = record.Outcome switch
            {
                "4" => AuditEvent.AuditEventOutcome.N4,
                "8" => AuditEvent.AuditEventOutcome.N8,
                "12" => AuditEvent.AuditEventOutcome.N12,
                _ => AuditEvent.AuditEventOutcome.N0,
            },
            OutcomeDesc = shape.OutcomeText,
            Source = Source(),
        };
        if (shape.IheTransaction is not null) audit.Subtype.Add(new Coding(IheTransactionSystem, shape.IheTransaction, shape.IheDisplay));

        if (acting is not null)
        {
            // Who acted, then the subscriber the step is about when that is someone else (e.g. the hub ending it).
            var isSubscriber = acting.ClientId is null && acting.Name == subscriberName;
            audit.Agent.Add(Agent(acting, isSubscriber ? shape.EndpointId : null, requestor: true));
            if (shape.EndpointId is not null && !isSubscriber)
                audit.Agent.Add(Agent(Actor.Subscriber(subscriberName ?? Anonymous), shape.EndpointId, requestor: false));
        }
        else
        {
            // Recorded without its actor (an earlier release, an import): the app it is about, and the hub for its own steps.
            var app = Agent(Actor.Subscriber(record.Agent), shape.EndpointId, shape.SubscriberRequested || shape.Category == "notification");
            audit.Agent.Add(app);
            if (!app.Requestor.GetValueOrDefault()) audit.Agent.Add(Agent(Actor.Hub, null, requestor: true));
        }

        audit.Entity.Add(new AuditEvent.EntityComponent
        {
            What = new ResourceReference { Identifier = new Identifier(TopicSystem, record.Topic), Display = "FHIRcast topic" },
            Type = new Coding(EntityTypeSystem, "4", "Other"),
            Name = record.Topic,
        });
        if (notification is not null)
            audit.Entity.Add(new AuditEvent.EntityComponent
            {
                What = new ResourceReference { Identifier = new Identifier(NotificationSystem, notification.EventId), Display = notification.EventName },
                Type = new Coding(EntityTypeSystem, "4", "Other"),
                Name = notification.EventName,
                Description = $"stream version {record.StreamVersion}",
            });
        foreach (var patient in refs.Patients)
            audit.Entity.Add(new AuditEvent.EntityComponent
            {
                What = new ResourceReference(patient),
                Type = new Coding(EntityTypeSystem, "1", "Person"),
                Role = new Coding(ObjectRoleSystem, "1", "Patient"),
            });
        foreach (var other in refs.Studies.Concat(refs.Reports).Concat(refs.Others).Concat(anchor is null ? [] : [anchor]).Distinct())
        {
            if (refs.Patients.Contains(other)) continue;
            audit.Entity.Add(new AuditEvent.EntityComponent
            {
                What = new ResourceReference(other),
                Type = new Coding(EntityTypeSystem, "2", "System Object"),
                Role = other.StartsWith("DiagnosticReport/", StringComparison.Ordinal)
                    ? new Coding(ObjectRoleSystem, "3", "Report")
                    : new Coding(ObjectRoleSystem, "4", "Domain Resource"),
            });
        }
        return audit;
    }
}
