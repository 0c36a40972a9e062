using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Replay;

/// <summary>An app that lost sync gets back exactly what it missed: events since a point, and resume on re-subscribe.</summary>
public sealed class RecoverTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonArray> EventsAsync(string topic, string query)
    {
        using var response = await _hub.Http.GetAsync($"/api/sessions/{topic}/events?{query}");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(body)!.AsArray();
    }

    private Task<HttpResponseMessage> ResumeAsync(string topic, string events, string after, string? endpoint = null)
    {
        var fields = new List<(string, string)>
        {
            ("hub.channel.type", "websocket"), ("hub.mode", "subscribe"), ("hub.topic", topic), ("hub.events", events), ("subscriber.name", "resuming"),
            ("resume.after", after),
        };
        if (endpoint is not null) fields.Add(("hub.channel.endpoint", endpoint));
        return _hub.PostFormAsync(fields.ToArray());
    }

    [Fact]
    public async Task events_after_an_event_id_are_the_later_notifications_exactly_as_distributed()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update,org.example.x");
        await _hub.PublishAsync(ReportOpen(topic, "r1", id: "e1"));
        var open = await subscriber.ReceiveTextAsync();
        await _hub.PublishAsync(Custom(topic, "org.example.x", id: "e2"));
        var custom = await subscriber.ReceiveTextAsync();
        var version = (string)(await _hub.GetContextAsync(topic))["context.versionId"]!;
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1")], id: "e3"));
        var update = await subscriber.ReceiveTextAsync();

        var all = await EventsAsync(topic, "afterVersion=0");
        Assert.Equal(new[] { open, custom, update }.Select(t => HubClient.Canonical(JsonNode.Parse(t!))), all.Select(e => HubClient.Canonical(e!["notification"])));
        Assert.Equal(all.Select(e => (long)e!["version"]!).Order(), all.Select(e => (long)e!["version"]!));
        Assert.All(all, e => Assert.True(DateTimeOffset.TryParse((string?)e!["recorded"], out _)));

        var afterFirst = await EventsAsync(topic, "after=e1");
        Assert.Equal(["e2", "e3"], afterFirst.Select(e => (string?)e!["notification"]!["id"]));
        var filtered = await EventsAsync(topic, "after=e1&events=diagnosticreport-update");
        Assert.Equal(["e3"], filtered.Select(e => (string?)e!["notification"]!["id"]));
        Assert.Empty(await EventsAsync(topic, "after=e3"));
    }

    [Theory]
    [InlineData("after=never-seen", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("after=e1&afterVersion=1", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("afterVersion=-1", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("afterVersion=abc", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("after=e1&after=e1", HttpStatusCode.BadRequest, "invalid")]
    public async Task events_since_with_bad_parameters_is_400(string query, HttpStatusCode status, string code)
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p", id: "e1"));
        using var response = await _hub.Http.GetAsync($"/api/sessions/{topic}/events?{query}");
        await HubClient.AssertOperationOutcome(response, status, code);
    }

    [Fact]
    public async Task events_since_of_an_unknown_topic_is_404()
    {
        using var response = await _hub.Http.GetAsync($"/api/sessions/{NewTopic()}/events?afterVersion=0");
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task a_resuming_subscriber_gets_exactly_the_missed_subscribed_events_instead_of_the_current_context()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1", id: "seen"));
        await _hub.PublishAsync(PatientOpen(topic, "p2", id: "missed-1"));
        await _hub.PublishAsync(Custom(topic, "org.example.other", id: "not-subscribed"));
        await _hub.PublishAsync(PatientClose(topic, "p2", id: "missed-2"));

        using var response = await ResumeAsync(topic, "Patient-open,Patient-close", "seen");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await using var subscriber = await TestSubscriber.ConnectAsync(await HubClient.EndpointOf(response));
        Assert.Equal("subscribe", (string?)(await subscriber.ReceiveAsync())["hub.mode"]);
        Assert.Equal("missed-1", (string?)(await subscriber.ReceiveAndAckAsync())["id"]);
        Assert.Equal("missed-2", (string?)(await subscriber.ReceiveAndAckAsync())["id"]);
        await _hub.PublishAsync(PatientOpen(topic, "p3", id: "live"));
        Assert.Equal("live", (string?)(await subscriber.ReceiveAndAckAsync())["id"]);
    }

    [Fact]
    public async Task resume_after_an_unknown_event_or_together_with_an_endpoint_is_400_text()
    {
        var topic = NewTopic();
        var endpoint = await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1", id: "seen"));
        using var unknown = await ResumeAsync(topic, "Patient-open", "never-seen");
        Assert.Contains("never-seen", await HubClient.AssertPlainTextError(unknown, HttpStatusCode.BadRequest));
        using var withEndpoint = await ResumeAsync(topic, "Patient-open", "seen", endpoint);
        await HubClient.AssertPlainTextError(withEndpoint, HttpStatusCode.BadRequest);
        using var empty = await ResumeAsync(topic, "Patient-open", " ");
        await HubClient.AssertPlainTextError(empty, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task resuming_while_events_keep_arriving_leaves_no_gap_and_no_duplicate()
    {
        var topic = NewTopic();
        await using var witness = await _hub.SubscribeAndConnectAsync(topic, "org.example.tick", "witness");
        const int total = 150;
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < total; i++) await _hub.PublishAsync(Custom(topic, "org.example.tick", id: $"t{i:000}"));
        });

        // The app sees some events, loses its connection, and comes back while publishing goes on.
        var received = new List<string>();
        var app = await _hub.SubscribeAndConnectAsync(topic, "org.example.tick", "app");
        while (received.Count < 10) received.Add((string)(await app.ReceiveAndAckAsync())["id"]!);
        await app.CloseAsync();
        await app.DisposeAsync();

        using var response = await ResumeAsync(topic, "org.example.tick", received[^1]);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await using var resumed = await TestSubscriber.ConnectAsync(await HubClient.EndpointOf(response));
        Assert.Equal("subscribe", (string?)(await resumed.ReceiveAsync())["hub.mode"]);
        await publishing;
        while (received[^1] != $"t{total - 1:000}") received.Add((string)(await resumed.ReceiveAndAckAsync())["id"]!);

        var firstSeen = int.Parse(received[0][1..]);
        Assert.Equal(Enumerable.Range(firstSeen, total - firstSeen).Select(i => $"t{i:000}"), received);
        await resumed.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }
}
