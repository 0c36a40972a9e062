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

    /// <param name="runAsyncProjections">Run the async daemon here (Solo mode: exactly one node may, rulings.md 14).</param>
    public static IServiceCollection AddHubStore(this IServiceCollection services, string connectionString, bool runAsyncProjections)
    {
        // The schema is migrated by HubHost before the host starts (and before the start-up upgrade), not again by Marten.
        services.AddMarten(opts => Configure(opts, connectionString))
            .UseLightweightSessions();
        services.AddSingleton(new HubDatabase(Tuned(connectionString)));
        services.AddSingleton(new ClusterRole(runAsyncProjections));
        services.AddSingleton<HubCluster>();
        services.AddHostedService(sp => sp.GetRequiredService<HubCluster>());
        services.AddHostedService<AppendListener>();
        // Not Marten's HotCold mode (its distributed lock fails with the shim package): the daemon runs, in Solo mode,
        // on the process that leads the cluster (docs/architecture.md).
        if (runAsyncProjections) services.AddHostedService<ProjectionDaemon>();
        return services;
    }

    public static void Configure(StoreOptions opts, string connectionString)
    {
        opts.Connection(Tuned(connectionString));
        opts.DatabaseSchemaName = Schema;
        opts.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
        opts.UseSystemTextJsonForSerialization();
        opts.Events.StreamIdentity = StreamIdentity.AsString;
        // Metadata columns cannot be added later without a migration; the audit store (issue 4) reads them.
        opts.Events.MetadataConfig.EnableAll();
        MapEvents(opts);

        // Live only: time travel and the dispatcher fold events with it; the write path stores the session's documents
        // itself (TopicDocuments), so no projection loads them inside a commit (issue 11).
        opts.Projections.Add<TopicSessionProjection>(ProjectionLifecycle.Live);
        opts.Projections.Add<AcceptedNotificationProjection>(ProjectionLifecycle.Inline);
        opts.Projections.Add<Replay.SessionSummaryProjection>(ProjectionLifecycle.Async);
        opts.Schema.For<ChannelEndpoint>().Index(x => x.Status);
        opts.Schema.For<TopicSessionSnapshot>().Duplicate(x => x.Topic).Duplicate(x => x.Version);
        opts.Schema.For<TopicHead>();
        opts.Schema.For<StoredAnchor>().Duplicate(x => x.Topic);
        opts.Schema.For<Replay.SessionSummary>().Index(x => x.Start).Index(x => x.End);
        Audit.AuditStore.Configure(opts);
        // NOTIFY from inside a commit: a CALL returns no result set, so it can be queued in Marten's batch.
#pragma warning disable CS0618 // the identifier-usage overload is not documented in this Weasel version; this one works
        opts.Storage.ExtendedSchemaObjects.Add(new Weasel.Postgresql.Procedures.StoredProcedure(
            new Weasel.Postgresql.PostgresqlObjectName(Schema, "notify_appended"),
            $"CREATE OR REPLACE PROCEDURE {AppendListener.Procedure}(payload text) LANGUAGE sql AS $$ SELECT pg_notify('{AppendListener.ChannelName}', payload) $$;"));
#pragma warning restore CS0618
    }

    /// <summary>
    /// The hub's connection defaults (issue 7): every event runs the same few statements, so Npgsql prepares them once per
    /// connection instead of parsing them each time, and a pooled connection is not reset with `DISCARD ALL` on return
    /// (the hub keeps no session state on connections), and opening a connection gives up after 5 s. Values set in the
    /// connection string win.
    /// </summary>
    public static string Tuned(string connectionString)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        // Npgsql takes "Max Auto Prepare" as well as "MaxAutoPrepare": compare keys without spaces.
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.Keys.Cast<string>()
            .Select(k => k.Replace(" ", "")).ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (!given.Contains("MaxAutoPrepare")) builder.MaxAutoPrepare = 64;
        if (!given.Contains("NoResetOnClose")) builder.NoResetOnClose = true;
        // A database that does not answer is a 503 within seconds (rulings.md 31), not a request hanging 15 s per connect.
        if (!given.Contains("Timeout")) builder.Timeout = 5;
        return builder.ConnectionString;
    }

    /// <summary>Every topic (stream) in the store, without Marten's filler stream for failed transactions.</summary>
    public static async Task<IReadOnlyList<string>> TopicsAsync(IDocumentStore store, CancellationToken ct)
    {
        await using var connection = store.Storage.Database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var command = new Npgsql.NpgsqlCommand($"select id from {Schema}.mt_streams where id <> 'mt_tombstone' order by id", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var topics = new List<string>();
        while (await reader.ReadAsync(ct)) topics.Add(reader.GetString(0));
        return topics;
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

    /// <summary>
    /// Stable names in `mt_events.type`, independent of CLR type names (docs/architecture.md, "Event model"); exports
    /// and imports use the same names.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, Type> EventTypes = new Dictionary<string, Type>
    {
        ["subscribed"] = typeof(Subscribed),
        ["subscription_renewed"] = typeof(SubscriptionRenewed),
        ["subscription_confirmed"] = typeof(SubscriptionConfirmed),
        ["unsubscribed"] = typeof(Unsubscribed),
        ["lease_expired"] = typeof(LeaseExpired),
        ["subscriber_dropped"] = typeof(SubscriberDropped),
        ["subscription_abandoned"] = typeof(SubscriptionAbandoned),
        ["context_opened"] = typeof(ContextOpened),
        ["context_closed"] = typeof(ContextClosed),
        ["home_opened"] = typeof(HomeOpened),
        ["notification_relayed"] = typeof(NotificationRelayed),
        ["content_updated"] = typeof(ContentUpdated),
        ["content_selected"] = typeof(ContentSelected),
        ["sync_error_raised"] = typeof(SyncErrorRaised),
        ["replay_started"] = typeof(ReplayStarted),
        ["subscriber_disconnected"] = typeof(SubscriberDisconnected),
    };

    private static void MapEvents(StoreOptions opts)
    {
        foreach (var (name, type) in EventTypes) opts.Events.MapEventType(type, name);
    }
}
