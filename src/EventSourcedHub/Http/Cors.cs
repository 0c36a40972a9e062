namespace EventSourcedHub.Http;

/// <summary>
/// Browser apps on other origins (OHIF's FHIRcast extension, web viewers) call the hub with fetch and WebSocket
/// (rulings.md 35). ASP.NET Core's CORS middleware: any origin unless `Hub:Cors:AllowedOrigins` lists some, never with
/// credentials (apps send bearer tokens, not cookies).
/// </summary>
public static class Cors
{
    /// <summary>The headers a FHIRcast app sends: the token, JSON or form bodies, and `Prefer` (FHIR search's lenient handling).</summary>
    public static readonly string[] AllowedHeaders = ["Authorization", "Content-Type", "Accept", "Prefer"];

    public static readonly string[] AllowedMethods = ["GET", "POST", "DELETE", "OPTIONS"];

    /// <summary>Headers of the hub's answers that a browser app needs to read: when to retry (429, 503) and why a token failed (401).</summary>
    public static readonly string[] ExposedHeaders = ["Retry-After", "WWW-Authenticate"];

    public static IServiceCollection AddHubCors(this IServiceCollection services, HubCorsOptions options) =>
        services.AddCors(cors => cors.AddDefaultPolicy(policy =>
        {
            if (options.AllowedOrigins.Length == 0) policy.AllowAnyOrigin();
            else policy.WithOrigins(options.AllowedOrigins);
            policy.WithMethods(AllowedMethods).WithHeaders(AllowedHeaders).WithExposedHeaders(ExposedHeaders)
                .SetPreflightMaxAge(TimeSpan.FromHours(1));
        }));

    /// <summary>
    /// Placed before the error handlers, authentication and the rate limiter: a preflight is answered here without a token,
    /// and every other answer (401, 403, 404, 413, 429, 503, the exception handler's) gets the headers when it starts.
    /// </summary>
    public static IApplicationBuilder UseHubCors(this IApplicationBuilder app) => app.UseCors();

    /// <summary>
    /// `Hub:Cors:WebSocketOrigins`: a browser always sends `Origin` on a WebSocket upgrade, and CORS does not cover
    /// WebSockets. A request without `Origin` is not from a browser page and is not restricted.
    /// </summary>
    public static bool AllowsWebSocketOrigin(HttpRequest request, HubCorsOptions options) =>
        options.WebSocketOrigins.Length == 0
        || request.Headers.Origin.Count == 0
        || options.WebSocketOrigins.Contains(request.Headers.Origin.ToString().TrimEnd('/'), StringComparer.OrdinalIgnoreCase);
}
