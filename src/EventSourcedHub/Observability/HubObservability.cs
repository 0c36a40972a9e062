using System.Diagnostics;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EventSourcedHub.Observability;

/// <summary>`Hub:Telemetry`: where traces and metrics are pushed besides the `/metrics` scrape.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Hub:Telemetry";

    /// <summary>An OTLP collector (e.g. `http://127.0.0.1:4317`); empty (the default): no OTLP export.</summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary>`grpc` (default) or `http/protobuf`.</summary>
    public string OtlpProtocol { get; set; } = "grpc";
}

/// <summary>OpenTelemetry (metrics, traces), the Prometheus scrape endpoint and the health endpoints (rulings.md 37).</summary>
public static class HubObservability
{
    public const string MetricsPath = "/metrics";
    public const string LivePath = "/health/live";
    public const string ReadyPath = "/health/ready";

    public static void AddHubObservability(this IServiceCollection services, IConfiguration configuration)
    {
        var telemetry = configuration.GetSection(TelemetryOptions.Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var otlp = OtlpTarget(telemetry);

        services.AddSingleton<HubGauges>();
        services.AddHealthChecks()
            .AddTypeActivatedCheck<DatabaseHealthCheck>("postgresql", failureStatus: null, tags: ["ready"], timeout: DatabaseHealthCheck.ProbeTimeout,
                args: DatabaseHealthCheck.Probe.Reachable)
            .AddTypeActivatedCheck<DatabaseHealthCheck>("schema", failureStatus: null, tags: ["ready"], timeout: DatabaseHealthCheck.ProbeTimeout,
                args: DatabaseHealthCheck.Probe.Schema)
            .AddCheck<AuditQueueHealthCheck>("audit-queue", tags: ["ready"]);

        // The hub's trace sources, for whichever tracer provider exists: the OTLP one below, or one a test adds.
        services.ConfigureOpenTelemetryTracerProvider(tracing => tracing
            .AddSource(HubTracing.SourceName)
            .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsOperatorPath(http.Request.Path))
            .AddNpgsql()
            .SetSampler(new ParentBasedSampler(new RequestsAndHubWork())));

        var builder = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("eventsourcedhub"))
            .WithMetrics(metrics => metrics
                .AddMeter(HubMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddNpgsqlInstrumentation()
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        if (otlp is { } target)
        {
            builder.WithTracing(_ => { });
            builder.UseOtlpExporter(target.Protocol, target.Endpoint);
        }
    }

    /// <summary>
    /// `/metrics`, `/health/live` and `/health/ready`, answered before any of the hub's own steps: no token, no rate
    /// limit, no audit and no refusal while the audit queue is full (operators' probes must see the hub as it is), and
    /// not endpoints of the API (so not in its document). They show no patient data.
    /// </summary>
    public static void UseHubObservability(this WebApplication app)
    {
        // The gauges exist once they are resolved.
        app.Services.GetRequiredService<HubGauges>();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(MetricsPath);
        // Live: the process answers; nothing else is checked, so a database outage never restarts the hub.
        app.UseHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponse.WriteAsync });
        app.UseHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready"), ResponseWriter = HealthResponse.WriteAsync });
    }

    private static bool IsOperatorPath(PathString path) =>
        path.StartsWithSegments(MetricsPath) || path.StartsWithSegments("/health");

    private static (OtlpExportProtocol Protocol, Uri Endpoint)? OtlpTarget(TelemetryOptions telemetry)
    {
        if (string.IsNullOrWhiteSpace(telemetry.OtlpEndpoint)) return null;
        if (!Uri.TryCreate(telemetry.OtlpEndpoint, UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            throw new InvalidOperationException($"Invalid hub configuration: Hub:Telemetry:OtlpEndpoint must be an absolute http or https URL, not '{telemetry.OtlpEndpoint}'.");
        return telemetry.OtlpProtocol.ToLowerInvariant() switch
        {
            "grpc" => (OtlpExportProtocol.Grpc, endpoint),
            "http/protobuf" => (OtlpExportProtocol.HttpProtobuf, endpoint),
            _ => throw new InvalidOperationException($"Invalid hub configuration: Hub:Telemetry:OtlpProtocol must be grpc or http/protobuf, not '{telemetry.OtlpProtocol}'."),
        };
    }

    /// <summary>
    /// Traces start at a request or at the hub's own work (an expiry, an ack time-out, a group commit); a database
    /// command of a background loop (the cluster lock, the audit sweep) alone is not worth a trace.
    /// </summary>
    private sealed class RequestsAndHubWork : Sampler
    {
        public override SamplingResult ShouldSample(in SamplingParameters parameters) =>
            new(parameters.Kind == ActivityKind.Server || parameters.Name.StartsWith("hub.", StringComparison.Ordinal)
                ? SamplingDecision.RecordAndSample
                : SamplingDecision.Drop);
    }
}
