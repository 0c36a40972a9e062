using System.Globalization;
using System.Threading.RateLimiting;
using EventSourcedHub.Fhir;
using EventSourcedHub.Http;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.RateLimiting;

namespace EventSourcedHub.Security;

/// <summary>
/// Per-client request rate limits (ASP.NET Core's rate limiter, a token bucket per client): one noisy client gets 429
/// with Retry-After and cannot slow the hub down for the others.
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
                const string message = "Too many requests from this client; retry after the time in Retry-After.";
                var result = PlainText.IsSubscriptionRequest(http.Request)
                    ? PlainText.Error(StatusCodes.Status429TooManyRequests, message)
                    : OperationOutcomes.Result(StatusCodes.Status429TooManyRequests, OperationOutcome.IssueType.Throttled, message);
                return new ValueTask(result.ExecuteAsync(http));
            };
        });
    }

    /// <summary>The token's client when there is one, else the network address.</summary>
    private static string ClientOf(HttpContext http) =>
        http.User.FindFirst("client_id")?.Value ?? http.User.FindFirst("azp")?.Value
        ?? http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
