using EventSourcedHub.Channels;
using EventSourcedHub.WebConsole;
using Microsoft.AspNetCore.Diagnostics;
using EventSourcedHub.Context;
using EventSourcedHub.Discovery;
using EventSourcedHub.Fhir;
using EventSourcedHub.Http;
using EventSourcedHub.Notifications;
using EventSourcedHub.OpenApi;
using EventSourcedHub.Observability;
using EventSourcedHub.Replay;
using EventSourcedHub.Security;
using EventSourcedHub.Storage;
using EventSourcedHub.Subscriptions;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Http.Metadata;
using AuditEventAction = Hl7.Fhir.Model.AuditEvent.AuditEventAction;

namespace EventSourcedHub;

/// <summary>Builds the hub: configuration, the event store (embedded PostgreSQL when no connection string is set), the endpoints.</summary>
public static class HubHost
{
    public const string DefaultUrl = "http://127.0.0.1:5080";

    /// <param name="maintenance">A command (`rebuild`) rather than the hub: it leaves an already running embedded PostgreSQL
    /// running (a hub may be using it) and does not run the async daemon beside one.</param>
    public static async Task<WebApplication> BuildAsync(string[] args, Action<WebApplicationBuilder>? configure = null, bool maintenance = false)
    {
        var builder = WebApplication.CreateBuilder(args);
        configure?.Invoke(builder);
        // Loopback unless told otherwise (--urls, ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS, ASPNETCORE_HTTPS_PORTS).
        if (new[] { "urls", "http_ports", "https_ports" }.All(key => string.IsNullOrEmpty(builder.Configuration[key])))
            builder.WebHost.UseUrls(DefaultUrl);

        var hub = HubOptionsValidator.ValidOrThrow(HubOptions.Bind(builder.Configuration.GetSection(HubOptions.Section)));
        builder.Services.Configure<HubOptions>(builder.Configuration.GetSection(HubOptions.Section));
        builder.Services.PostConfigure<HubOptions>(o => o.WithListsGivenAsText(builder.Configuration.GetSection(HubOptions.Section)));
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = hub.Limits.MaxRequestBodyBytes);
        builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(f => f.MultipartBodyLengthLimit = hub.Limits.MaxRequestBodyBytes);

        var urls = (builder.Configuration["urls"] ?? DefaultUrl).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Concat(string.IsNullOrEmpty(builder.Configuration["http_ports"]) && string.IsNullOrEmpty(builder.Configuration["https_ports"]) ? [] : new[] { "http://0.0.0.0" });
        HubAuthentication.RefuseOpenAnonymousHub(hub.Auth, urls);
        builder.Services.AddHubAuthentication(hub.Auth);
        builder.Services.AddSingleton<Access>();
        builder.Services.AddSingleton<AccessFilter>();
        builder.Services.AddHubRateLimits(hub.Limits.RequestsPerSecondPerClient);
        builder.Services.AddHubCors(hub.Cors);
        builder.Services.AddHubOpenApi(hub);
        // Before the embedded PostgreSQL starts: a Hub:Telemetry setting that cannot work stops the start first.
        builder.Services.AddHubObservability(builder.Configuration);

        var connectionString = builder.Configuration.GetConnectionString("Hub");
        EmbeddedPostgres? postgres = null;
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            using var loggers = LoggerFactory.Create(l => l.AddConsole());
            postgres = await EmbeddedPostgres.StartAsync(Path.GetFullPath(hub.DataDirectory, builder.Environment.ContentRootPath),
                loggers.CreateLogger<EmbeddedPostgres>(), CancellationToken.None);
            await postgres.EnsureDatabaseAsync("hub", CancellationToken.None);
            connectionString = postgres.ConnectionString("hub");
        }

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddHubStore(connectionString, hub.RunAsyncProjections && !maintenance);
        builder.Services.AddSingleton<ChannelRegistry>();
        builder.Services.AddSingleton<ISessionDocuments, ChannelEndpointDocuments>();
        builder.Services.AddSingleton<Distribution>();
        builder.Services.AddSingleton<ICommitObserver>(sp => sp.GetRequiredService<Distribution>());
        builder.Services.AddSingleton<IRemoteCommitObserver>(sp => sp.GetRequiredService<Distribution>());
        builder.Services.AddSingleton<IRemoteCommitObserver>(sp => sp.GetRequiredService<TopicStream>());
        builder.Services.AddSingleton<IRemoteCommitObserver>(sp => sp.GetRequiredService<Audit.AuditTrail>());
        builder.Services.AddHubConsole();
        builder.Services.AddSingleton<Audit.AuditTrail>();
        builder.Services.AddSingleton<ICommitObserver>(sp => sp.GetRequiredService<Audit.AuditTrail>());
        builder.Services.AddSingleton<ICommitObserver, Observability.EventMetrics>();
        // A maintenance command (rebuild) writes the audit records itself.
        if (!maintenance) builder.Services.AddHostedService(sp => sp.GetRequiredService<Audit.AuditTrail>());
        builder.Services.AddSingleton<GroupCommit>();
        builder.Services.AddSingleton<TopicStream>();
        builder.Services.AddSingleton<SubscriptionEndpoint>();
        builder.Services.AddSingleton<PublishNotification>();
        builder.Services.AddSingleton<Iid.InvokeImageDisplay>();
        builder.Services.AddSingleton<WebSocketChannelEndpoint>();
        builder.Services.AddSingleton<SyncErrorReporter>();
        builder.Services.AddSingleton<SessionArchive>();
        builder.Services.AddSingleton<SessionReplay>();
        // Registered before the other hosted services so that it stops after them and drains its queue last.
        builder.Services.AddSingleton<Audit.AuditWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Audit.AuditWriter>());
        // After the writer: stops (and flushes its counts) before the writer drains.
        builder.Services.AddSingleton<ThrottledRequests>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ThrottledRequests>());
        builder.Services.AddHostedService<SubscriptionExpiry>();
        builder.Services.AddHostedService<AckWatch>();
        builder.Services.AddHostedService<Heartbeat>();

        var app = builder.Build();
        // The schema is migrated once, here, before the upgrade below needs it and before anything starts.
        var store = app.Services.GetRequiredService<Marten.IDocumentStore>();
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        if (!maintenance)
        {
            var upgraded = await TopicDocuments.UpgradeAsync(store, app.Services.GetServices<ISessionDocuments>(), hub.SnapshotInterval, CancellationToken.None);
            if (upgraded > 0)
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HubHost)).LogWarning(
                    "Upgraded the stored state of {Count} topics recorded by an earlier release (issue 11)", upgraded);
        }
        // Stopped only after the server has drained its requests and every hosted service has stopped.
        if (postgres is not null && !(maintenance && postgres.Adopted))
            app.Lifetime.ApplicationStopped.Register(() => postgres.StopAsync().GetAwaiter().GetResult());
        app.UseHubObservability();
        // Behind a TLS-terminating proxy, X-Forwarded-Proto or Hub:PublicBaseUrl makes the issued endpoints wss:// (HUB-GEN-01).
        app.UseHubPublicUrl(hub);
        // Before everything that can answer, so that every answer carries the CORS headers, errors included (rulings.md 35).
        app.UseHubCors();
        // Routing first, so that every step below knows the endpoint: its error format, access rule and audit metadata.
        app.UseRouting();
        // Outermost of the hub's own steps: it sees every final status, whoever set it (rulings.md 11, 34).
        app.UseMiddleware<RequestAudit>();
        app.UseMiddleware<ErrorResponses>();
        app.UseStatusCodePages(BareStatus);
        // Before authentication, so that refused requests count too (rulings.md 32).
        app.UseRateLimiter();
        if (hub.Auth.IsJwt) app.UseAuthentication();
        app.UseWebSockets(new WebSocketOptions
        {
            KeepAliveInterval = TimeSpan.FromSeconds(hub.PingIntervalSeconds),
            KeepAliveTimeout = TimeSpan.FromSeconds(hub.PingIntervalSeconds),
        });
        app.UseHubConsole();
        MapEndpoints(app);
        app.MapHubOpenApi(hub);
        return app;
    }

    private static void MapEndpoints(WebApplication app)
    {
        // Every endpoint is in this group: one access check (from the route's own `topic`), one check of stored text.
        var all = app.MapGroup("").AddEndpointFilter<AccessFilter>().AddEndpointFilter<StorableFieldsFilter>();

        all.MapGet("/api/hub/.well-known/fhircast-configuration", FhircastConfiguration.Handle).Requires(AccessRule.Open);
        all.MapGet("/.well-known/fhircast-configuration", FhircastConfiguration.Handle).Requires(AccessRule.Open);

        // Form: subscribe / unsubscribe, answered in text (rulings.md 10). JSON: an event. The content type picks the endpoint.
        all.MapPost("/api/hub", (HttpContext http, SubscriptionEndpoint subscriptions) => subscriptions.HandleAsync(http))
            .WithMetadata(new AcceptsMetadata(["application/x-www-form-urlencoded"], typeof(IFormCollection)), PlainTextErrors.Instance,
                new AuditedRejections("rejected-subscription-request", AuditEventAction.C))
            .Requires(AccessRule.Authenticated).DisableAntiforgery();
        all.MapPost("/api/hub", (HttpContext http, PublishNotification publish) => publish.HandleAsync(http, null))
            .WithMetadata(new AcceptsMetadata(EventMediaTypes, typeof(System.Text.Json.JsonElement)), new AuditedRejections("rejected-event", AuditEventAction.E))
            .Requires(AccessRule.Authenticated).DisableAntiforgery();
        all.MapPost("/api/hub/{topic}", (HttpContext http, string topic, PublishNotification publish) => publish.HandleAsync(http, topic))
            .WithMetadata(new AcceptsMetadata(EventMediaTypes, typeof(System.Text.Json.JsonElement)), new AuditedRejections("rejected-event", AuditEventAction.E))
            .Requires(AccessRule.Authenticated).DisableAntiforgery();
        // A multipart form is a subscription request in the wrong encoding: 415, in the form's text (HUB-SUB-01).
        all.MapPost("/api/hub", (HttpContext http) => Unsupported(http))
            .WithMetadata(new AcceptsMetadata(["multipart/form-data"], typeof(IFormCollection)), PlainTextErrors.Instance,
                new AuditedRejections("rejected-subscription-request", AuditEventAction.C))
            .Requires(AccessRule.Open).DisableAntiforgery();
        // Any other content type (HUB-GEN-02): 415. Order 1: only when no endpoint above takes the request.
        all.MapPost("/api/hub", (HttpContext http) => Unsupported(http)).WithOrder(1)
            .WithMetadata(new AuditedRejections("rejected-event", AuditEventAction.E)).Requires(AccessRule.Open).DisableAntiforgery();
        all.MapPost("/api/hub/{topic}", (HttpContext http, string topic) => Unsupported(http)).WithOrder(1)
            .WithMetadata(new AuditedRejections("rejected-event", AuditEventAction.E)).Requires(AccessRule.Open).DisableAntiforgery();
        all.MapGet("/api/hub/{topic}", (HttpContext http, string topic, Marten.IQuerySession query) => GetCurrentContext.HandleAsync(http, topic, query))
            .WithMetadata(new AuditedRead("get-current-context", "Get current context", "RAD-153", "Get Current Context"))
            .Requires(AccessRule.ReadSession);
        all.Map("/api/hub/ws/{endpointId}", (HttpContext http, string endpointId, WebSocketChannelEndpoint channel) => channel.HandleAsync(http, endpointId))
            .WithMetadata(new AuditedRejections("rejected-connect", AuditEventAction.E)).Requires(AccessRule.Open);

        var sessions = all.MapGroup("/api/sessions/{topic}");
        sessions.MapGet("/events", (HttpContext http, string topic, Marten.IDocumentStore store) => EventsSince.HandleAsync(http, topic, store))
            .WithMetadata(new AuditedRead("events-since", "Events since")).Requires(AccessRule.ReadSession);
        sessions.MapGet("/context", (HttpContext http, string topic, Marten.IDocumentStore store) => ContextAsOf.HandleAsync(http, topic, store))
            .WithMetadata(new AuditedRead("context-as-of", "Context as of")).Requires(AccessRule.ReadSession);
        sessions.MapGet("/export", (HttpContext http, string topic, SessionArchive archive) => archive.ExportAsync(http, topic))
            .WithMetadata(new AuditedRead("export", "Export")).Requires(AccessRule.ReadSessionAudit);
        sessions.MapPost("/import", (HttpContext http, string topic, SessionArchive archive) => archive.ImportAsync(http, topic))
            .Requires(AccessRule.WriteSystem).DisableAntiforgery();
        sessions.MapPost("/replay", (HttpContext http, string topic, SessionReplay replays) => replays.StartAsync(http, topic))
            .Requires(AccessRule.ReadSessionAudit).DisableAntiforgery();

        all.MapGet("/api/sessions", (HttpContext http, Marten.IQuerySession query) => SessionSummaries.ListAsync(http, query))
            .WithMetadata(new AuditedRead("audit-query", "session-summaries")).Requires(AccessRule.ReadAudit);
        all.MapGet("/api/replays/{id}", (string id, SessionReplay replays) => replays.Get(id)).Requires(AccessRule.ReadAudit);
        all.MapDelete("/api/replays/{id}", (string id, SessionReplay replays) => replays.Cancel(id)).Requires(AccessRule.ReadAudit);
        all.MapConsoleFeed();
        Audit.AuditEndpoints.MapAudit(all, sessions);
        // The token's write scope is checked by the handler, once it knows which open the request stands for.
        all.MapGet(Iid.InvokeImageDisplay.Path, (HttpContext http, Iid.InvokeImageDisplay iid) => iid.HandleAsync(http))
            .WithMetadata(new AuditedRejections("rejected-iid", AuditEventAction.E)).Requires(AccessRule.Authenticated);
    }

    private static readonly string[] EventMediaTypes = ["application/json", "application/fhir+json"];

    private static RouteHandlerBuilder Requires(this RouteHandlerBuilder endpoint, AccessRule rule) => endpoint.WithMetadata(new RequiresAccess(rule));

    /// <summary>Event requests are JSON (HUB-GEN-02): `application/json` or `application/fhir+json`; anything else is 415.</summary>
    private static IResult Unsupported(HttpContext http)
    {
        var mediaType = http.Request.ContentType?.Split(';')[0].Trim();
        return Answers.For(Domain.Rejection.UnsupportedMediaType(
            $"'{mediaType}' is not taken here: send events as application/json or application/fhir+json, subscriptions as application/x-www-form-urlencoded."));
    }

    /// <summary>Responses the framework ends without a body (unknown path 404, wrong method 405) get the endpoint's error format too.</summary>
    private static Task BareStatus(StatusCodeContext context)
    {
        var http = context.HttpContext;
        var answer = http.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => Answers.NotFound($"No such endpoint: {http.Request.Path}."),
            StatusCodes.Status405MethodNotAllowed => Answers.Error(StatusCodes.Status405MethodNotAllowed, Hl7.Fhir.Model.OperationOutcome.IssueType.NotSupported,
                $"{http.Request.Method} is not supported on {http.Request.Path}."),
            var other => Answers.Error(other, Hl7.Fhir.Model.OperationOutcome.IssueType.Invalid, $"The request failed with status {other}."),
        };
        return answer.ExecuteAsync(http);
    }
}
