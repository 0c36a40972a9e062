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
        services.AddMarten(opts => Configure(opts, connectionString))
            .ApplyAllDatabaseChangesOnStartup()
            .UseLightweightSessions();
        return services;
    }

    public static void Configure(StoreOptions opts, string connectionString)
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
        Audit.AuditStore.Configure(opts);
    }

    /// <summary>db/fhircast.sql of the repository around the current folder (`dotnet run` runs in the project folder).</summary>
    public static string DefaultSchemaPath()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EventSourcedHub.sln"))) return Path.Combine(dir.FullName, "db", "fhircast.sql");
        }
        return Path.Combine("db", "fhircast.sql");
    }

    /// <summary>Writes the DDL of the whole store (tables, functions) without touching a database: `-- schema db/fhircast.sql`.</summary>
    public static async Task WriteSchemaAsync(string path)
    {
        using var store = DocumentStore.For(opts => Configure(opts, "Host=127.0.0.1;Database=unused"));
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await store.Storage.WriteCreationScriptToFile(path);
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
        opts.Events.MapEventType<ContentUpdated>("content_updated");
        opts.Events.MapEventType<ContentSelected>("content_selected");
        opts.Events.MapEventType<SyncErrorRaised>("sync_error_raised");
    }
}
