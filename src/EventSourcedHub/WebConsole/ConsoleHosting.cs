using EventSourcedHub.Http;
using EventSourcedHub.Security;
using EventSourcedHub.Storage;
using Microsoft.Extensions.FileProviders;

namespace EventSourcedHub.WebConsole;

/// <summary>
/// The web console (issue 15, rulings.md 37): plain HTML, CSS and ES modules embedded in the hub's assembly and served at
/// `/` by the static-file middleware, so the hub needs nothing from a CDN or a build step; and its live feed of commits,
/// mapped with the other endpoints (behind the one access check).
/// </summary>
public static class ConsoleHosting
{
    public const string EventsPattern = "/api/console/events";

    /// <summary>Where the files sit among the assembly's resources (the folder `WebConsole/wwwroot`).</summary>
    private const string ResourceNamespace = "EventSourcedHub.WebConsole.wwwroot";

    public static IServiceCollection AddHubConsole(this IServiceCollection services)
    {
        services.AddSingleton<ConsoleFeed>();
        services.AddSingleton<ICommitObserver>(sp => sp.GetRequiredService<ConsoleFeed>());
        services.AddSingleton<IRemoteCommitObserver>(sp => sp.GetRequiredService<ConsoleFeed>());
        return services;
    }

    public static void UseHubConsole(this WebApplication app)
    {
        var files = new EmbeddedFileProvider(typeof(ConsoleHosting).Assembly, ResourceNamespace);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            // The files change with the hub: the browser revalidates instead of running an older console against a newer hub.
            OnPrepareResponse = file => file.Context.Response.Headers.CacheControl = "no-cache",
        });
    }

    /// <summary>
    /// `GET /api/console/events`. The feed names every topic, so it needs what the session list needs: the audit read
    /// scope on a token bound to no topic; opening it is audited as a read of the audit data, like the list.
    /// </summary>
    public static void MapConsoleFeed(this RouteGroupBuilder endpoints) =>
        endpoints.MapGet(EventsPattern, (HttpContext http, ConsoleFeed feed, IHostApplicationLifetime lifetime) => feed.StreamAsync(http, lifetime))
            .WithMetadata(new RequiresAccess(AccessRule.ReadAudit), new AuditedRead("audit-query", "console-feed"));
}
