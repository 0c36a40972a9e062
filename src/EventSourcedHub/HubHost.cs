using EventSourcedHub.Channels;
using EventSourcedHub.WebConsole;
using Microsoft.AspNetCore.Diagnostics;
using EventSourcedHub.Context;
using EventSourcedHub.Discovery;
using EventSourcedHub.Fhir;
using EventSourcedHub.Http;
using EventSourcedHub.Notifications;
using EventSourcedHub.OpenApi;
using EventSourcedHub.Replay;
using EventSourcedHub.Security;
using EventSourcedHub.Storage;
using EventSourcedHub.Subscriptions;
using Microsoft.Extensions.Options;

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
        builder.Services.AddHubRateLimits(hub.Limits.RequestsPerSecondPerClient);
        builder.Services.AddHubCors(hub.Cors);
        builder.Services.AddHubOpenApi(hub);

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
        // A maintenance command (rebuild) writes the audit records itself.
        if (!maintenance) builder.Services.AddHostedService(sp => sp.GetRequiredService<Audit.AuditTrail>());
        builder.Services.AddSingleton<GroupCommit>();
        builder.Services.AddSingleton<TopicStream>();
        builder.Services.AddSingleton<SubscriptionEndpoint>();
        builder.Services.AddSingleton<PublishNotification>();
        builder.Services.AddSingleton<WebSocketChannelEndpoint>();
        builder.Services.AddSingleton<SyncErrorReporter>();
        builder.Services.AddSingleton<SessionArchive>();
        builder.Services.AddSingleton<SessionReplay>();
        // Registered before the other hosted services so that it stops after them and drains its queue last.
        builder.Services.AddSingleton<Audit.AuditWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Audit.AuditWriter>());
        builder.Services.AddHostedService<SubscriptionExpiry>();
        builder.Services.AddHostedService<AckWatch>();
        builder.Services.AddHostedService<Heartbeat>();
        builder.Services.AddExceptionHandler<ErrorResponses>();
        builder.Services.AddProblemDetails();

        var app = builder.Build();
        if (!maintenance)
        {
            var upgraded = await TopicDocuments.UpgradeAsync(app.Services.GetRequiredService<Marten.IDocumentStore>(),
                app.Services.GetServices<ISessionDocuments>(), hub.SnapshotInterval, CancellationToken.None);
            if (upgraded > 0)
                app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(HubHost)).LogWarning(
                    "Upgraded the stored state of {Count} topics recorded by an earlier release (issue 11)", upgraded);
        }
        // Stopped only after the server has drained its requests and every hosted service has stopped.
        if (postgres is not null && !(maintenance && postgres.Adopted))
            app.Lifetime.ApplicationStopped.Register(() => postgres.StopAsync().GetAwaiter().GetResult());
        // Behind a TLS-terminating proxy, X-Forwarded-Proto or Hub:PublicBaseUrl makes the issued endpoints wss:// (HUB-GEN-01).
        app.UseHubPublicUrl(hub);
        app.UseHubCors();
        app.UseExceptionHandler();
        app.UseStatusCodePages(BareStatusAsOperationOutcome);
        if (hub.Auth.IsJwt)
        {
            app.UseAuthentication();
            app.Use(async (http, next) =>
            {
                if (http.RequestServices.GetRequiredService<Access>().ForPath(http) is { } denied) await denied.ExecuteAsync(http);
                else await next(http);
            });
        }
        app.UseRateLimiter();
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
        app.MapGet("/api/hub/.well-known/fhircast-configuration", FhircastConfiguration.Handle);
        app.MapGet("/.well-known/fhircast-configuration", FhircastConfiguration.Handle);

        app.MapPost("/api/hub", (HttpContext http, SubscriptionEndpoint subscriptions, PublishNotification publish) =>
            IsUrlEncodedForm(http.Request)
                ? subscriptions.HandleAsync(http)
                : PublishOrUnsupported(http, publish, pathTopic: null)).DisableAntiforgery();
        app.MapPost("/api/hub/{topic}", (HttpContext http, string topic, PublishNotification publish) =>
            PublishOrUnsupported(http, publish, topic)).DisableAntiforgery();

        app.MapGet("/api/hub/{topic}", (HttpContext http, string topic, Marten.IQuerySession query, Access access, Audit.AuditWriter audit) =>
            GetCurrentContext.HandleAsync(http, topic, query, access, audit));
        app.Map("/api/hub/ws/{endpointId}", (HttpContext http, string endpointId, WebSocketChannelEndpoint channel) => channel.HandleAsync(http, endpointId));

        app.MapGet("/api/sessions/{topic}/events", (HttpContext http, string topic, Marten.IDocumentStore store) => EventsSince.HandleAsync(http, topic, store));
        app.MapGet("/api/sessions/{topic}/export", (HttpContext http, string topic, SessionArchive archive) => archive.ExportAsync(http, topic));
        app.MapPost("/api/sessions/{topic}/import", (HttpContext http, string topic, SessionArchive archive) => archive.ImportAsync(http, topic)).DisableAntiforgery();
        app.MapPost("/api/sessions/{topic}/replay", (HttpContext http, string topic, SessionReplay replays) => replays.StartAsync(http, topic)).DisableAntiforgery();
        app.MapGet("/api/sessions", (HttpContext http, Marten.IQuerySession query) => SessionSummaries.ListAsync(http, query));
        app.MapGet("/api/replays/{id}", (string id, SessionReplay replays) => replays.Get(id));
        app.MapDelete("/api/replays/{id}", (string id, SessionReplay replays) => replays.Cancel(id));
        app.MapGet("/api/sessions/{topic}/context", (HttpContext http, string topic, Marten.IDocumentStore store) => ContextAsOf.HandleAsync(http, topic, store));
        Audit.AuditEndpoints.MapAudit(app);
    }

    /// <summary>Responses the framework ends without a body (unknown path 404, wrong method 405) get an OperationOutcome too.</summary>
    private static Task BareStatusAsOperationOutcome(StatusCodeContext context)
    {
        var http = context.HttpContext;
        var (code, message) = http.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => (Hl7.Fhir.Model.OperationOutcome.IssueType.NotFound, $"No such endpoint: {http.Request.Path}."),
            StatusCodes.Status405MethodNotAllowed => (Hl7.Fhir.Model.OperationOutcome.IssueType.NotSupported, $"{http.Request.Method} is not supported on {http.Request.Path}."),
            var other => (Hl7.Fhir.Model.OperationOutcome.IssueType.Invalid, $"The request failed with status {other}."),
        };
        http.Response.ContentType = OperationOutcomes.ContentType;
        return http.Response.WriteAsync(OperationOutcomes.Json(code, message));
    }

    private static bool IsUrlEncodedForm(HttpRequest request) =>
        string.Equals(request.ContentType?.Split(';')[0].Trim(), "application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase);

    /// <summary>Event requests are JSON (HUB-GEN-02): `application/json` or `application/fhir+json`; anything else is 415.</summary>
    private static Task<IResult> PublishOrUnsupported(HttpContext http, PublishNotification publish, string? pathTopic)
    {
        var mediaType = http.Request.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is "application/json" or "application/fhir+json") return publish.HandleAsync(http, pathTopic);
        return Task.FromResult(publish.Audited(http, pathTopic, StatusCodes.Status415UnsupportedMediaType, $"unsupported media type '{mediaType}'", http.Request.HasFormContentType
            ? PlainText.Error(StatusCodes.Status415UnsupportedMediaType, "Subscription requests go to the hub URL itself, as application/x-www-form-urlencoded.")
            : OperationOutcomes.Result(StatusCodes.Status415UnsupportedMediaType, Hl7.Fhir.Model.OperationOutcome.IssueType.NotSupported,
                "Send events as application/json or application/fhir+json; subscriptions as application/x-www-form-urlencoded.")));
    }
}
