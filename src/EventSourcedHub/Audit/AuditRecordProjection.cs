using EventSourcedHub.Channels;
using EventSourcedHub.Domain;
using JasperFx.Events;
using Marten;
using Marten.Events.Projections;

namespace EventSourcedHub.Audit;

/// <summary>One <see cref="AuditRecord"/> per topic-stream event, written inline (in the event's transaction).</summary>
public sealed partial class AuditRecordProjection : EventProjection
{
    public AuditRecord Create(IEvent<Subscribed> e) => AuditEvents.Record(e, e.Data.SubscriberName);
    public AuditRecord Create(IEvent<SubscriptionRenewed> e) => AuditEvents.Record(e, e.Data.SubscriberName);
    public AuditRecord Create(IEvent<SyncErrorRaised> e) => AuditEvents.Record(e, e.Data.SubscriberName);
    public AuditRecord Create(IEvent<ContextOpened> e) => AuditEvents.Record(e, null);
    public AuditRecord Create(IEvent<ContextClosed> e) => AuditEvents.Record(e, null);
    public AuditRecord Create(IEvent<HomeOpened> e) => AuditEvents.Record(e, null);
    public AuditRecord Create(IEvent<NotificationRelayed> e) => AuditEvents.Record(e, null);
    public AuditRecord Create(IEvent<ContentUpdated> e) => AuditEvents.Record(e, null);
    public AuditRecord Create(IEvent<ContentSelected> e) => AuditEvents.Record(e, null);
    public AuditRecord Create(IEvent<ReplayStarted> e) => AuditEvents.Record(e, null);

    // These carry only the endpoint id: the subscriber's name comes from its ChannelEndpoint document, written when
    // the subscription was made (always an earlier commit than these events).
    public async Task Project(IEvent<SubscriptionConfirmed> e, IDocumentOperations ops) => ops.Store(await RecordAsync(e, e.Data.EndpointId, ops));
    public async Task Project(IEvent<Unsubscribed> e, IDocumentOperations ops) => ops.Store(await RecordAsync(e, e.Data.EndpointId, ops));
    public async Task Project(IEvent<LeaseExpired> e, IDocumentOperations ops) => ops.Store(await RecordAsync(e, e.Data.EndpointId, ops));
    public async Task Project(IEvent<SubscriberDropped> e, IDocumentOperations ops) => ops.Store(await RecordAsync(e, e.Data.EndpointId, ops));
    public async Task Project(IEvent<SubscriptionAbandoned> e, IDocumentOperations ops) => ops.Store(await RecordAsync(e, e.Data.EndpointId, ops));
    public async Task Project(IEvent<SubscriberDisconnected> e, IDocumentOperations ops) => ops.Store(await RecordAsync(e, e.Data.EndpointId, ops));

    private static async Task<AuditRecord> RecordAsync(IEvent e, string endpointId, IDocumentOperations ops)
    {
        var endpoint = await ops.LoadAsync<ChannelEndpoint>(endpointId);
        return AuditEvents.Record(e, endpoint?.SubscriberName);
    }
}
