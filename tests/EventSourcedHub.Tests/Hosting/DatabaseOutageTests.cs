using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Hosting;

/// <summary>
/// PostgreSQL stopped and started again under a steady publisher (issue 12, rulings.md 31), on a cluster of this test's
/// own so the other test classes keep theirs.
/// </summary>
public sealed class DatabaseOutageTests : IAsyncLifetime
{
    private OwnPostgres _postgres = null!;

    public async Task InitializeAsync() => _postgres = await OwnPostgres.StartAsync();

    public async Task DisposeAsync() => await _postgres.DisposeAsync();

    [Fact]
    public async Task Rulings_31_while_postgresql_is_stopped_requests_get_503_with_retry_after_then_the_hub_recovers_and_loses_nothing_acknowledged()
    {
        await using var hub = await TestHub.StartAsync(connectionString: _postgres.ConnectionString);
        var topic = NewTopic();
        await hub.Client.SubscribeAsync(topic, "org.example.tick");
        // A subscriber whose socket breaks while the database is away: its drop is recorded once the database is back.
        await using var leaving = await hub.Client.SubscribeAndConnectAsync(topic, "org.example.none", name: "leaving app");

        var acknowledged = new List<string>();
        var statuses = new List<HttpStatusCode>();
        var unavailable = new List<(HttpResponseMessage Response, string Body)>();
        var next = 0;
        async Task PublishOneAsync()
        {
            var id = $"tick-{next++}";
            // The client's own time-out (30 s) fails the test if the hub hangs instead of answering.
            var response = await hub.Client.PublishJsonAsync(Custom(topic, "org.example.tick", id));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.Accepted) acknowledged.Add(id);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable) unavailable.Add((response, await response.Content.ReadAsStringAsync()));
            else response.Dispose();
        }

        for (var i = 0; i < 20; i++) await PublishOneAsync();
        Assert.Equal(20, acknowledged.Count);

        await _postgres.StopAsync();
        leaving.Abort();
        var outage = Stopwatch.StartNew();
        while (outage.Elapsed < TimeSpan.FromSeconds(3)) await PublishOneAsync();
        using (var read = await hub.Client.GetContextRawAsync(topic))
        {
            await HubClient.AssertOperationOutcome(read, HttpStatusCode.ServiceUnavailable, "transient");
            Assert.NotNull(read.Headers.RetryAfter);
        }

        await _postgres.StartAgainAsync();
        var recovered = false;
        for (var attempt = 0; attempt < 300 && !recovered; attempt++)
        {
            var before = acknowledged.Count;
            await PublishOneAsync();
            recovered = acknowledged.Count > before;
            if (!recovered) await Task.Delay(100);
        }
        Assert.True(recovered, "the hub did not recover after PostgreSQL came back");
        for (var i = 0; i < 10; i++) await PublishOneAsync();

        // While the database was away: 503s with Retry-After and an OperationOutcome; never a 500.
        Assert.DoesNotContain(HttpStatusCode.InternalServerError, statuses);
        Assert.NotEmpty(unavailable);
        foreach (var (response, body) in unavailable)
        {
            Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), body);
            Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
            var issue = JsonNode.Parse(body)!["issue"]![0]!;
            Assert.Equal("transient", (string?)issue["code"]);
            Assert.Equal("The hub's database cannot be reached right now; retry after the time in Retry-After (an event sent again with the same id is accepted once).",
                (string?)issue["diagnostics"]);
            response.Dispose();
        }
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Accepted or HttpStatusCode.ServiceUnavailable, $"status {(int)s}"));

        // Nothing acknowledged is lost, nothing is there twice.
        var events = JsonNode.Parse(await hub.Client.Http.GetStringAsync($"/api/sessions/{topic}/events?afterVersion=0&events=org.example.tick"))!.AsArray();
        var stored = events.Select(e => (string)e!["notification"]!["id"]!).ToList();
        Assert.Equal(stored.Distinct().Count(), stored.Count);
        Assert.Empty(acknowledged.Except(stored));

        // The drop that failed while the database was away was retried until it was stored; the audit trail caught up.
        JsonObject? verify = null;
        var dropped = false;
        for (var attempt = 0; attempt < 100 && !dropped; attempt++)
        {
            var timeline = JsonNode.Parse(await hub.Client.Http.GetStringAsync($"/api/sessions/{topic}/timeline"))!["events"]!.AsArray();
            dropped = timeline.Any(e => (string?)e!["step"] == "dropped" && (string?)e!["agent"] == "leaving app");
            if (!dropped) await Task.Delay(100);
        }
        Assert.True(dropped, "the dropped subscriber was not recorded after the outage");
        verify = JsonNode.Parse(await hub.Client.Http.GetStringAsync($"/api/sessions/{topic}/verify"))!.AsObject();
        Assert.True((bool)verify["valid"]!, verify.ToJsonString());
    }
}
