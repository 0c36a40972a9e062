using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace EventSourcedHub.Http;

/// <summary>
/// The scheme, host and base path of the URLs the hub hands out (the WebSocket endpoint of a subscription, FHIR links,
/// `hub.url`), so that behind a reverse proxy they name the public address: `wss://` behind TLS (HUB-GEN-01, rulings.md 4).
/// </summary>
public static class PublicUrl
{
    /// <summary>
    /// X-Forwarded-For, -Proto and -Host are believed from loopback (a proxy on this machine, ASP.NET's default) and
    /// from `Hub:ForwardedHeaders:KnownProxies`/`KnownNetworks`, hop by hop through trusted proxies only.
    /// </summary>
    public static ForwardedHeadersOptions ForwardedHeaders(HubForwardedHeadersOptions trusted)
    {
        var options = new ForwardedHeadersOptions
        {
            ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor
                               | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedProto
                               | Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedHost,
            // Each further hop is applied only while the address it came from is a trusted proxy.
            ForwardLimit = null,
        };
        foreach (var proxy in trusted.KnownProxies) options.KnownProxies.Add(IPAddress.Parse(proxy));
        foreach (var network in trusted.KnownNetworks) options.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        return options;
    }

    /// <summary>Forwarded headers, then `Hub:PublicBaseUrl` over them when set: the operator's word beats any header.</summary>
    public static IApplicationBuilder UseHubPublicUrl(this IApplicationBuilder app, HubOptions hub)
    {
        app.UseForwardedHeaders(ForwardedHeaders(hub.ForwardedHeaders));
        if (hub.PublicBaseUrl is not { } configured) return app;
        var publicUrl = new Uri(configured);
        var host = publicUrl.IsDefaultPort ? new HostString(publicUrl.Host) : new HostString(publicUrl.Host, publicUrl.Port);
        // Only how the hub names itself: the proxy strips the base path before the request reaches the hub.
        var pathBase = PathString.FromUriComponent(publicUrl.AbsolutePath.TrimEnd('/'));
        return app.Use((http, next) =>
        {
            http.Request.Scheme = publicUrl.Scheme;
            http.Request.Host = host;
            http.Request.PathBase = pathBase;
            return next(http);
        });
    }
}
