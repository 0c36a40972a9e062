using System.Text.Json;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace EventSourcedHub.Observability;

/// <summary>
/// Readiness checks on the hub's PostgreSQL. Each opens a connection of its own, outside the pool (so a probe never
/// waits behind the hub's work for a pooled connection, nor reuses one that broke), with short time-outs: an unreachable
/// database is reported within <see cref="ProbeTimeout"/>, never a hanging probe.
/// </summary>
public sealed class DatabaseHealthCheck(HubDatabase database, DatabaseHealthCheck.Probe probe) : IHealthCheck
{
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);

    /// <summary><see cref="Reachable"/>: the server answers a query. <see cref="Schema"/>: the hub's tables and the NOTIFY procedure exist.</summary>
    public enum Probe { Reachable, Schema }

    private const string SchemaQuery =
        $"select to_regclass('{HubStore.Schema}.mt_events') is not null and to_regclass('{HubStore.Schema}.mt_streams') is not null "
        + $"and to_regprocedure('{AppendListener.Procedure}(text)') is not null";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct)
    {
        var seconds = (int)ProbeTimeout.TotalSeconds;
        var connectionString = new NpgsqlConnectionStringBuilder(database.ConnectionString)
        {
            Pooling = false, Timeout = seconds, CommandTimeout = seconds, ApplicationName = "eventsourcedhub-health",
        }.ConnectionString;
        try
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand(probe == Probe.Reachable ? "select 1" : SchemaQuery, connection);
            var answer = await command.ExecuteScalarAsync(ct);
            return probe == Probe.Reachable || answer is true
                ? HealthCheckResult.Healthy(probe == Probe.Reachable ? "PostgreSQL answers." : "The hub's schema is in place.")
                : HealthCheckResult.Unhealthy($"The `{HubStore.Schema}` schema lacks the event tables or the NOTIFY procedure; restart the hub to create them.");
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            // The exception's message names the server, never data; the stack trace stays out of the body.
            return HealthCheckResult.Unhealthy($"PostgreSQL is unreachable: {e.GetType().Name}: {e.Message}");
        }
    }
}

/// <summary>
/// The audit writer's queue has room (`Hub:Limits:AuditQueueCapacity`). When it is full the hub refuses requests with
/// 503 until it drains, so the process is not ready for more.
/// </summary>
public sealed class AuditQueueHealthCheck(Audit.AuditWriter writer, Microsoft.Extensions.Options.IOptions<HubOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct) => Task.FromResult(writer.HasRoom
        ? HealthCheckResult.Healthy($"{writer.Waiting} audit documents waiting.")
        : HealthCheckResult.Unhealthy($"The audit queue is full ({writer.Waiting} documents waiting, Hub:Limits:AuditQueueCapacity {options.Value.Limits.AuditQueueCapacity}): requests get 503 until it drains."));
}

/// <summary>The JSON body of `/health/live` and `/health/ready`: the overall status and each check's status.</summary>
public static class HealthResponse
{
    public static Task WriteAsync(HttpContext http, HealthReport report)
    {
        var cluster = http.RequestServices.GetRequiredService<HubCluster>();
        http.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            node = cluster.NodeId,
            leader = cluster.IsLeader,
            checks = report.Entries.Select(entry => new
            {
                name = entry.Key,
                status = entry.Value.Status.ToString(),
                description = entry.Value.Description,
                durationMs = Math.Round(entry.Value.Duration.TotalMilliseconds, 1),
            }),
        };
        return http.Response.WriteAsync(JsonSerializer.Serialize(body));
    }
}
