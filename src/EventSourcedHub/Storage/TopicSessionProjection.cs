using EventSourcedHub.Domain;
using Marten.Events.Aggregation;

namespace EventSourcedHub.Storage;

/// <summary>
/// Inline projection of a topic's stream into its <see cref="TopicSession"/>: what get-current-context and every decision read.
/// Each method only hands the event to the domain's one fold, <see cref="TopicSession.Evolve"/>.
/// </summary>
public sealed partial class TopicSessionProjection : SingleStreamProjection<TopicSession, string>
{
    public TopicSession Create(JasperFx.Events.IEvent<Subscribed> e) => TopicSession.Evolve(TopicSession.Start(e.StreamKey!), e.Data);

    public TopicSession Create(JasperFx.Events.IEvent<ReplayStarted> e) => TopicSession.Start(e.StreamKey!);

    public TopicSession Apply(Subscribed e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(ReplayStarted e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(SubscriptionRenewed e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(SubscriptionConfirmed e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(Unsubscribed e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(LeaseExpired e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(SubscriberDropped e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(SubscriberDisconnected e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(SubscriptionAbandoned e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(ContextOpened e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(ContextClosed e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(HomeOpened e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(NotificationRelayed e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(ContentUpdated e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(ContentSelected e, TopicSession s) => TopicSession.Evolve(s, e);
    public TopicSession Apply(SyncErrorRaised e, TopicSession s) => TopicSession.Evolve(s, e);
}
