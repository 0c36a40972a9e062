using System.Globalization;
using System.Threading.RateLimiting;
using EventSourcedHub.Domain;
using EventSourcedHub.Http;
using Microsoft.AspNetCore.RateLimiting;

namespace EventSourcedHub.Security;

/// <summary>
/// Per-client request rate limits (ASP.NET Core's rate limiter, a token bucket per network address). They run before
/// authentication (rulings.md 32), so refused requests count too: a flood of requests without a valid token gets 429s
/// instead of reaching the token checks and the audit.
/// </summary>
public static class RateLimits
{
    public static void AddHubRateLimits(this IServiceCollection services, int requestsPerSecond)
    {
        services.AddRateLimiter(options =>
        {
            options.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                RateLimitPartition.GetTokenBucketLimiter(ClientOf(http), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = requestsPerSecond * 2,
                    TokensPerPeriod = requestsPerSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                }));
            options.OnRejected = (context, _) =>
            {
                var http = context.HttpContext;
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
                http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                return new ValueTask(Answers.For(Rejection.Throttled("Too many requests from this client; retry after the time in Retry-After.")).ExecuteAsync(http));
            };
        });
    }

    /// <summary>The network address (after forwarded headers): known before any token is read, and not chosen by the client.</summary>
    private static string ClientOf(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
