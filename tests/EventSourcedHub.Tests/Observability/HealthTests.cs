using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Tests.Security;
using Npgsql;

namespace EventSourcedHub.Tests.Observability;

public sealed class HealthTests
{
    [Fact]
    public async Task Rulings_37_live_and_ready_answer_200_with_each_checks_status()
    {
        await using var hub = await TestHub.StartAsync();
        // Leadership is taken in the background right after the start; a lone hub takes it on its first attempt.
        await hub.Services.GetRequiredService<EventSourcedHub.Storage.HubCluster>().FirstAttempt.WaitAsync(TimeSpan.FromSeconds(10));

        var live = await HealthAsync(hub, "/health/live", HttpStatusCode.OK);
        Assert.Equal("Healthy", (string?)live["status"]);
        Assert.Empty(live["checks"]!.AsArray());

        var ready = await HealthAsync(hub, "/health/ready", HttpStatusCode.OK);
        Assert.Equal("Healthy", (string?)ready["status"]);
        Assert.True((bool)ready["leader"]!);
        Assert.Equal(["audit-queue", "postgresql", "schema"], ready["checks"]!.AsArray().Select(c => (string)c!["name"]!).Order());
        Assert.All(ready["checks"]!.AsArray(), check => Assert.Equal("Healthy", (string?)check!["status"]));
    }

    [Fact]
    public async Task Rulings_31_ready_answers_503_within_seconds_while_postgresql_is_silent_or_refuses_and_200_once_it_is_back()
    {
        var database = await TestPostgres.CreateDatabaseAsync("health");
        await using var relay = TcpRelay.To(database);
        await using var hub = await TestHub.StartAsync(connectionString: relay.Through(database));
        await HealthAsync(hub, "/health/ready", HttpStatusCode.OK);

        // Connections are accepted and never answered: the probe's own time-outs must end it. The client gives up
        // after 10 s, so a readiness probe that hangs fails here.
        relay.Silence();
        var silent = await HealthAsync(hub, "/health/ready", HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Unhealthy", (string?)silent["status"]);
        Assert.Equal("Unhealthy", Checks(silent)["postgresql"]);
        Assert.Equal("Unhealthy", Checks(silent)["schema"]);

        await relay.StopAsync();
        var refused = await HealthAsync(hub, "/health/ready", HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Unhealthy", Checks(refused)["postgresql"]);
        Assert.Equal("Unhealthy", Checks(refused)["schema"]);
        await HealthAsync(hub, "/health/live", HttpStatusCode.OK);

        relay.Start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpStatusCode status;
        do
        {
            using var response = await Probe(hub).GetAsync("/health/ready");
            status = response.StatusCode;
            if (status != HttpStatusCode.OK) await Task.Delay(200);
        } while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task ready_answers_503_naming_the_schema_when_the_hubs_schema_is_incomplete()
    {
        await using var hub = await TestHub.StartAsync();
        await using (var connection = new NpgsqlConnection(hub.ConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand("DROP PROCEDURE fhircast.notify_appended(text)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        var checks = Checks(await HealthAsync(hub, "/health/ready", HttpStatusCode.ServiceUnavailable));
        Assert.Equal("Healthy", checks["postgresql"]);
        Assert.Equal("Unhealthy", checks["schema"]);
    }

    internal static Dictionary<string, string?> Checks(JsonObject health) =>
        health["checks"]!.AsArray().ToDictionary(c => (string)c!["name"]!, c => (string?)c!["status"]);

    [Fact]
    public async Task with_jwt_health_and_metrics_need_no_token_and_show_no_patient_data()
    {
        using var issuer = new TokenIssuer();
        await using var hub = await TestHub.StartAsync(issuer.HubSettings());
        var topic = FhircastEvents.NewTopic();
        hub.Client.Http.DefaultRequestHeaders.Authorization = new("Bearer", issuer.Token("fhircast/Patient-open.write fhircast/Patient-open.read"));
        await using var subscriber = await hub.Client.SubscribeAndConnectAsync(topic, "Patient-open");
        await hub.Client.PublishAsync(FhircastEvents.PatientOpen(topic, "patient-secret-0815"));
        await subscriber.ReceiveAndAckAsync();

        using var anonymous = Probe(hub);
        using (var unauthorised = await anonymous.GetAsync($"/api/hub/{topic}"))
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorised.StatusCode);
        foreach (var path in new[] { "/health/live", "/health/ready", "/metrics" })
        {
            using var response = await anonymous.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {body}");
            Assert.DoesNotContain(topic, body);
            Assert.DoesNotContain("patient-secret-0815", body);
        }
    }

    internal static HttpClient Probe(TestHub hub) => new() { BaseAddress = hub.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };

    internal static async Task<JsonObject> HealthAsync(TestHub hub, string path, HttpStatusCode expected)
    {
        using var probe = Probe(hub);
        using var response = await probe.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{path}: expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(body)!.AsObject();
    }
}

/// <summary>Reads a gauge, so it runs with the other exact metric readings (every hub's gauges are exported by every hub of the process).</summary>
[Collection(MetricsCollection.Name)]
public sealed class AuditQueueHealthTests
{
    [Fact]
    public async Task while_the_audit_queue_is_full_ready_is_503_and_live_and_metrics_still_answer()
    {
        // One waiting document fills the queue; the writer waits a minute before storing, so it stays full.
        await using var hub = await TestHub.StartAsync(new Dictionary<string, string?>
        {
            ["Hub:Limits:AuditQueueCapacity"] = "1", ["Hub:AuditBatchMilliseconds"] = "60000",
        });
        Assert.Equal("Healthy", HealthTests.Checks(await HealthTests.HealthAsync(hub, "/health/ready", HttpStatusCode.OK))["audit-queue"]);
        using (var unknown = await hub.Client.GetContextRawAsync(FhircastEvents.NewTopic()))
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using (var refused = await hub.Client.GetContextRawAsync(FhircastEvents.NewTopic()))
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);

        var checks = HealthTests.Checks(await HealthTests.HealthAsync(hub, "/health/ready", HttpStatusCode.ServiceUnavailable));
        Assert.Equal("Unhealthy", checks["audit-queue"]);
        Assert.Equal("Healthy", checks["postgresql"]);
        await HealthTests.HealthAsync(hub, "/health/live", HttpStatusCode.OK);
        var metrics = await PrometheusText.ScrapeAsync(HealthTests.Probe(hub));
        Assert.Equal(1, metrics.Value("eventsourcedhub_audit_queue_depth"));
    }
}
