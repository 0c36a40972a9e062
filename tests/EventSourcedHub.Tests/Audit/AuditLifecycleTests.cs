using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>The rarer stream events (renewal, SyncError, Home-open, relayed and derived opens, drops) are audited and chained too.</summary>
public sealed class AuditLifecycleTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonNode> GetJsonAsync(string url)
    {
        using var response = await _hub.Http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!;
    }

    [Fact]
    public async Task renewals_syncerrors_home_opens_relayed_events_and_drops_are_audited_and_the_chain_stays_valid()
    {
        var topic = NewTopic();
        await using var acme = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,SyncError", "Acme Viewer");
        var reporting = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,SyncError", "Reporting");

        // Renewal of a live subscription: a fresh confirmation on the same socket.
        using (var renew = await _hub.SubscribeRawAsync(topic, "Patient-open,SyncError", "Acme Viewer", endpoint: acme.Endpoint))
            Assert.Equal(HttpStatusCode.Accepted, renew.StatusCode);
        await acme.ReceiveAsync();

        // Acme refuses the open: the hub raises a SyncError about Acme.
        await _hub.PublishAsync(PatientOpen(topic, "pat-life", id: "open-life"));
        await acme.ReceiveAsync();
        await acme.SendAsync("""{"id":"open-life","status":409}""");
        await reporting.ReceiveAndAckAsync();
        Assert.Equal("SyncError", (string?)(await reporting.ReceiveAsync())["event"]!["hub.event"]);

        // A report open implies a Patient-open for both (a derived open is stored with the event).
        await _hub.PublishAsync(ReportOpen(topic, "rpt-life", "pat-life-2"));
        await acme.ReceiveAndAckAsync();
        await reporting.ReceiveAndAckAsync();
        await _hub.PublishAsync(HomeOpen(topic));
        await _hub.PublishAsync(Custom(topic, "org.example.audit"));

        // Reporting's connection breaks.
        reporting.Abort();
        await reporting.DisposeAsync();
        JsonArray timeline = [];
        for (var attempt = 0; attempt < 100; attempt++)
        {
            // The session's own stream events; the timeline lists this test's reads among them too (rulings.md 34).
            timeline = new JsonArray((await GetJsonAsync($"/api/sessions/{topic}/timeline"))["events"]!.AsArray()
                .Where(e => e!["version"] is not null).Select(e => e!.DeepClone()).ToArray());
            if (timeline.Any(e => (string?)e!["step"] == "dropped") && timeline.Count(e => (string?)e!["event"] == "SyncError") == 2) break;
            await Task.Delay(100);
        }

        var steps = timeline.Select(e => (string?)e!["step"] ?? (string?)e!["event"]).ToList();
        Assert.Equal(["subscribe", "confirm", "subscribe", "confirm", "renew", "Patient-open", "SyncError", "DiagnosticReport-open", "Home-open", "org.example.audit"],
            steps.Take(10));
        Assert.Contains("dropped", steps);

        var audit = (await GetJsonAsync($"/api/sessions/{topic}/audit"))["entry"]!.AsArray().Select(e => e!["resource"]!).ToList();
        // Two SyncErrors: Acme's refusal and Reporting's abnormal close (rulings.md 3).
        var syncErrors = audit.Where(a => (string?)a["type"]!["code"] == "sync-error").ToList();
        Assert.Equal(["Acme Viewer", "Reporting"], syncErrors.Select(a => (string?)a["agent"]![0]!["who"]!["display"]).Order());
        var syncError = syncErrors.Single(a => (string?)a["agent"]![0]!["who"]!["display"] == "Acme Viewer");
        Assert.Equal("4", (string?)syncError["outcome"]);
        // Acme refused the notification: the app acted, so it is the requestor (rulings.md 33).
        Assert.Equal("Acme Viewer", (string?)syncError["agent"]![0]!["who"]!["display"]);
        Assert.True((bool)syncError["agent"]![0]!["requestor"]!);
        var dropped = audit.Single(a => (string?)a["subtype"]![0]!["code"] == "dropped");
        Assert.Equal("4", (string?)dropped["outcome"]);
        Assert.Equal("Reporting", (string?)dropped["agent"]![0]!["who"]!["display"]);
        var renewed = audit.Single(a => (string?)a["subtype"]![0]!["code"] == "renew");
        Assert.Equal("U", (string?)renewed["action"]);

        var failures = (await GetJsonAsync($"/fhir/AuditEvent?entity={topic}&outcome=4"))["entry"]!.AsArray();
        Assert.Contains(failures, e => (string?)e!["resource"]!["id"] == (string?)syncError["id"]);
        Assert.Contains(failures, e => (string?)e!["resource"]!["id"] == (string?)dropped["id"]);

        var verify = await GetJsonAsync($"/api/sessions/{topic}/verify");
        Assert.True((bool)verify["valid"]!, verify.ToJsonString());
        Assert.Equal(timeline.Count, (int)verify["events"]!);
    }
}
