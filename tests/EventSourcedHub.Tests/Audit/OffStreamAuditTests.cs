using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>
/// Audit records that are not topic-stream events (rulings.md 11, 12): rejected requests and reads. They are written
/// in batches, so every check polls for a few seconds.
/// </summary>
public sealed class OffStreamAuditTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonObject> GetJsonAsync(string url)
    {
        using var response = await _hub.Http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static List<JsonObject> Resources(JsonObject bundle) =>
        bundle["entry"]?.AsArray().Select(e => e!["resource"]!.AsObject()).ToList() ?? [];

    /// <summary>Searches until at least <paramref name="expected"/> AuditEvents match, or the patience runs out.</summary>
    private async Task<List<JsonObject>> SearchAsync(string query, int expected = 1)
    {
        var until = DateTime.UtcNow + Patience;
        while (true)
        {
            var found = Resources(await GetJsonAsync($"/fhir/AuditEvent?{query}"));
            if (found.Count >= expected || DateTime.UtcNow > until) return found;
            await Task.Delay(100);
        }
    }

    private async Task<int> StreamEventsAsync(string topic) => (int)(await GetJsonAsync($"/api/sessions/{topic}/verify"))["events"]!;

    [Fact]
    public async Task a_rejected_subscribe_and_rejected_events_are_audited_without_touching_the_topic_stream()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open", "Good App");
        var before = await StreamEventsAsync(topic);

        using (var badLease = await _hub.SubscribeRawAsync(topic, "Patient-open", "Bad App", lease: -5))
            Assert.Equal(HttpStatusCode.BadRequest, badLease.StatusCode);
        var noContext = JsonNode.Parse(PatientOpen(topic, "pat-rejected", id: "rejected-open"))!;
        noContext["event"]!["context"] = new JsonArray();
        using (var badEvent = await _hub.PublishJsonAsync(noContext.ToJsonString()))
            Assert.Equal(HttpStatusCode.BadRequest, badEvent.StatusCode);

        var rejected = await SearchAsync($"outcome=4&entity={topic}", expected: 2);
        var subscribe = Assert.Single(rejected, e => (string?)e["subtype"]![0]!["code"] == "rejected-subscribe");
        Assert.Equal("Bad App", (string?)subscribe["agent"]![0]!["name"]);
        Assert.Equal("127.0.0.1", (string?)subscribe["agent"]![0]!["network"]!["address"]);
        Assert.StartsWith("400: ", (string?)subscribe["outcomeDesc"]);
        Assert.Contains("lease", (string?)subscribe["outcomeDesc"], StringComparison.OrdinalIgnoreCase);
        var publish = Assert.Single(rejected, e => (string?)e["subtype"]![0]!["code"] == "rejected-Patient-open");
        // Without tokens an event request is named by its network address (rulings.md 33).
        Assert.Equal("127.0.0.1", (string?)publish["agent"]![0]!["name"]);
        Assert.Equal("4", (string?)publish["outcome"]);

        // The topic's stream and its chain did not move; the session's timeline and audit list the rejections among
        // the events, in the order they happened (rulings.md 34).
        Assert.Equal(before, await StreamEventsAsync(topic));
        Assert.True((bool)(await GetJsonAsync($"/api/sessions/{topic}/verify"))["valid"]!);
        var timeline = (await GetJsonAsync($"/api/sessions/{topic}/timeline"))["events"]!.AsArray();
        Assert.Equal(before, timeline.Count(e => e!["version"] is not null));
        Assert.Equal(2, timeline.Count(e => (string?)e!["type"] == "rejected"));
        var sessionAudit = Resources(await GetJsonAsync($"/api/sessions/{topic}/audit"));
        Assert.Equal(["rejected-subscribe", "rejected-Patient-open"], sessionAudit.Where(e => (string?)e["type"]!["code"] == "rejected-request")
            .Select(e => (string)e["subtype"]![0]!["code"]!));
        Assert.Equal(before, sessionAudit.Count(e => (string?)e["type"]!["code"] == "subscription"));
        var recorded = sessionAudit.Select(e => DateTimeOffset.Parse((string)e["recorded"]!)).ToList();
        Assert.Equal(recorded.Order(), recorded);
    }

    [Fact]
    public async Task a_rejected_request_for_an_unknown_topic_is_audited_and_the_topic_stays_unknown()
    {
        var topic = NewTopic();
        using (var response = await _hub.PublishJsonAsync(PatientOpen(topic, "pat-unknown")))
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using (var response = await _hub.UnsubscribeAsync(topic, "ws://127.0.0.1/api/hub/ws/0000"))
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);

        var rejected = await SearchAsync($"outcome=4&entity={topic}", expected: 2);
        Assert.Equal(["rejected-Patient-open", "rejected-unsubscribe"],
            rejected.Select(e => (string)e["subtype"]![0]!["code"]!).Order(StringComparer.Ordinal));
        using (var context = await _hub.GetContextRawAsync(topic))
            Assert.Equal(HttpStatusCode.NotFound, context.StatusCode);
        using (var audit = await _hub.Http.GetAsync($"/api/sessions/{topic}/audit"))
            Assert.Equal(HttpStatusCode.NotFound, audit.StatusCode);
    }

    [Fact]
    public async Task a_wrong_media_type_and_a_body_over_the_limit_are_audited()
    {
        var topic = NewTopic();
        using (var plain = await _hub.PublishJsonAsync(PatientOpen(topic, "pat-media"), pathTopic: topic, mediaType: "text/plain"))
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, plain.StatusCode);
        // Expect: 100-continue lets the hub refuse before the client writes the whole body.
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{HubClient.HubPath}/{topic}")
        {
            Content = new StringContent(new string(' ', 1_100_000) + PatientOpen(topic, "pat-huge"), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.ExpectContinue = true;
        using (var huge = await _hub.Http.SendAsync(request))
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);

        var rejected = await SearchAsync($"outcome=4&entity={topic}", expected: 2);
        Assert.Equal(["413", "415"], rejected.Select(e => ((string)e["outcomeDesc"]!)[..3]).Order(StringComparer.Ordinal));
        using var context = await _hub.GetContextRawAsync(topic);
        Assert.Equal(HttpStatusCode.NotFound, context.StatusCode);
    }

    [Fact]
    public async Task a_refused_websocket_upgrade_is_audited()
    {
        var endpointId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        using var socket = new ClientWebSocket();
        await Assert.ThrowsAsync<WebSocketException>(() =>
            socket.ConnectAsync(new Uri(new Uri(_hub.Http.BaseAddress!.ToString().Replace("http", "ws", StringComparison.Ordinal)), $"/api/hub/ws/{endpointId}"),
                CancellationToken.None));

        var rejected = Assert.Single(await SearchAsync($"agent={endpointId}"));
        Assert.Equal("rejected-connect", (string?)rejected["subtype"]![0]!["code"]);
        Assert.StartsWith("404: ", (string?)rejected["outcomeDesc"]);
    }

    [Fact]
    public async Task get_current_context_and_audit_queries_leave_read_audits()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var before = await StreamEventsAsync(topic);
        await _hub.GetContextAsync(topic);

        var read = Assert.Single(await SearchAsync($"entity={Uri.EscapeDataString("urn:eventsourcedhub:topic|" + topic)}&subtype=get-current-context"));
        Assert.Equal("R", (string?)read["action"]);
        Assert.Equal("0", (string?)read["outcome"]);
        Assert.Contains(read["subtype"]!.AsArray(), c => (string?)c!["code"] == "RAD-153");
        Assert.Equal("read", (string?)read["type"]!["code"]);

        await GetJsonAsync($"/api/sessions/{topic}/timeline");
        var queries = await SearchAsync($"entity={Uri.EscapeDataString("urn:eventsourcedhub:topic|" + topic)}&subtype=audit-query", expected: 2);
        Assert.Contains(queries, q => ((string?)q["outcomeDesc"])!.Contains("/timeline", StringComparison.Ordinal));
        Assert.Equal(before, await StreamEventsAsync(topic));

        // Reads are part of the session's audit and found by the topic (rulings.md 34), in time order.
        var sessionAudit = Resources(await GetJsonAsync($"/api/sessions/{topic}/audit"));
        Assert.Contains(sessionAudit, e => (string?)e["action"] == "R" && (string?)e["subtype"]![0]!["code"] == "get-current-context");
        var recorded = sessionAudit.Select(e => DateTimeOffset.Parse((string)e["recorded"]!)).ToList();
        Assert.Equal(recorded.Order(), recorded);
        Assert.Contains(Resources(await GetJsonAsync($"/fhir/AuditEvent?entity={topic}&subtype=get-current-context")), e => (string?)e["action"] == "R");
        var timeline = (await GetJsonAsync($"/api/sessions/{topic}/timeline"))["events"]!.AsArray();
        Assert.Contains(timeline, e => (string?)e!["type"] == "read" && (string?)e!["subtype"] == "get-current-context");
    }
}
