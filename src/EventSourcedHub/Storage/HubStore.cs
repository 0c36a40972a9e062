using EventSourcedHub.Channels;
using EventSourcedHub.Domain;
using EventSourcedHub.Notifications;
using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;

namespace EventSourcedHub.Storage;

/// <summary>The Marten event store: one stream per topic, stable event type names, the inline projections.</summary>
public static class HubStore
{
    public const string Schema = "fhircast";

    public static IServiceCollection AddHubStore(this IServiceCollection services, string connectionString)
    {
        services.AddMarten(opts =>
            {
                opts.Connection(connectionString);
                opts.DatabaseSchemaName = Schema;
                opts.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
                opts.UseSystemTextJsonForSerialization();
                opts.Events.StreamIdentity = StreamIdentity.AsString;
                // Metadata columns cannot be added later without a migration; the audit store (issue 4) reads them.
                opts.Events.MetadataConfig.EnableAll();
                MapEvents(opts);

                opts.Projections.Add<TopicSessionProjection>(ProjectionLifecycle.Inline);
                opts.Projections.Add<ChannelEndpointProjection>(ProjectionLifecycle.Inline);
                opts.Projections.Add<AcceptedNotificationProjection>(ProjectionLifecycle.Inline);
                opts.Schema.For<ChannelEndpoint>().Index(x => x.Status);
            })
            .ApplyAllDatabaseChangesOnStartup()
            .UseLightweightSessions();
        return services;
    }

    /// <summary>Stable names in `mt_events.type`, independent of CLR type names (docs/architecture.md, "Event model").</summary>
    private static void MapEvents(StoreOptions opts)
    {
        opts.Events.MapEventType<Subscribed>("subscribed");
        opts.Events.MapEventType<SubscriptionRenewed>("subscription_renewed");
        opts.Events.MapEventType<SubscriptionConfirmed>("subscription_confirmed");
        opts.Events.MapEventType<Unsubscribed>("unsubscribed");
        opts.Events.MapEventType<LeaseExpired>("lease_expired");
        opts.Events.MapEventType<SubscriberDropped>("subscriber_dropped");
        opts.Events.MapEventType<SubscriptionAbandoned>("subscription_abandoned");
        opts.Events.MapEventType<ContextOpened>("context_opened");
        opts.Events.MapEventType<ContextClosed>("context_closed");
        opts.Events.MapEventType<HomeOpened>("home_opened");
        opts.Events.MapEventType<NotificationRelayed>("notification_relayed");
    }
}
