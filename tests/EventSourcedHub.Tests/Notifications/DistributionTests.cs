using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Notifications;

public sealed class DistributionTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    [Fact]
    public async Task HUB_DIST_01_every_subscriber_of_the_event_receives_it_including_the_sender()
    {
        var topic = NewTopic();
        await using var pacs = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,Patient-close", "PACS");
        await using var reporting = await _hub.SubscribeAndConnectAsync(topic, "patient-open", "Reporting");
        await using var other = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open", "Other");

        var request = PatientOpen(topic, "pat-1");
        await _hub.PublishAsync(request);

        foreach (var subscriber in new[] { pacs, reporting })
        {
            var notification = await subscriber.ReceiveAndAckAsync();
            Assert.Equal((string?)JsonNode.Parse(request)!["id"], (string?)notification["id"]);
            Assert.Equal("Patient-open", (string?)notification["event"]!["hub.event"]);
            Assert.Equal(HubClient.Canonical(ContextOf(request)), HubClient.Canonical(notification["event"]!["context"]));
        }
        await other.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_DIST_02_a_notification_has_timestamp_id_and_event_with_the_topic_and_name()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "org.example.note");
        await _hub.PublishAsync(Custom(topic, "org.example.note", id: "n-1"));
        var notification = await subscriber.ReceiveAsync();
        Assert.Equal(new[] { "timestamp", "id", "event" }, notification.Select(p => p.Key).ToArray());
        Assert.Equal("2025-03-01T14:58:45.988Z", (string?)notification["timestamp"]);
        Assert.Equal(topic, (string?)notification["event"]!["hub.topic"]);
        Assert.Equal("org.example.note", (string?)notification["event"]!["hub.event"]);
    }

    [Fact]
    public async Task HUB_DIST_03_the_hub_sends_the_next_event_without_waiting_for_an_ack()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "org.example.tick");
        for (var i = 0; i < 5; i++) await _hub.PublishAsync(Custom(topic, "org.example.tick", id: $"t{i}"));
        for (var i = 0; i < 5; i++) Assert.Equal($"t{i}", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_DIST_03_a_subscriber_that_stops_reading_does_not_hold_up_the_others()
    {
        var topic = NewTopic();
        await using var stalled = await _hub.SubscribeAndConnectAsync(topic, "org.example.bulk", "stalled");
        await using var reader = await _hub.SubscribeAndConnectAsync(topic, "org.example.bulk", "reader");
        var payload = new string('x', 64 * 1024);
        const int count = 200; // ~13 MB: far more than the stalled socket's buffers hold
        var readAll = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++) Assert.Equal($"b{i}", (string?)(await reader.ReceiveAndAckAsync())["id"]);
        });
        for (var i = 0; i < count; i++)
            await _hub.PublishAsync(Envelope(topic, "org.example.bulk", $$$"""[{"key":"extension","data":{"blob":"{{{payload}}}"}}]""", id: $"b{i}"));
        await readAll.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("""{"id":"ID"}""")]
    [InlineData("""{"id":"ID","timestamp":"2025-03-01T14:58:46Z"}""")]
    [InlineData("""{"id":"ID","status":200}""")]
    [InlineData("""{"id":"ID","status":"200"}""")]
    [InlineData("""{"id":"unknown-id","status":200}""")]
    [InlineData("""not json at all""")]
    public async Task HUB_DIST_04_acks_in_every_real_world_form_keep_the_subscription_going(string ack)
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "org.example.tick");
        await _hub.PublishAsync(Custom(topic, "org.example.tick", id: "first"));
        var first = await subscriber.ReceiveAsync();
        await subscriber.SendAsync(ack.Replace("ID", (string?)first["id"]));
        await _hub.PublishAsync(Custom(topic, "org.example.tick", id: "second"));
        Assert.Equal("second", (string?)(await subscriber.ReceiveAsync())["id"]);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, subscriber.State);
    }

    [Fact]
    public async Task HUB_DIST_03_four_concurrent_publishers_produce_one_identical_order_for_every_subscriber()
    {
        var topic = NewTopic();
        var subscribers = new List<TestSubscriber>();
        for (var i = 0; i < 3; i++) subscribers.Add(await _hub.SubscribeAndConnectAsync(topic, "org.example.tick", $"s{i}"));
        const int perPublisher = 25;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < perPublisher; i++) await _hub.PublishAsync(Custom(topic, "org.example.tick", id: $"p{p}-{i}"));
        })));

        var orders = new List<string[]>();
        foreach (var subscriber in subscribers)
        {
            var ids = new List<string>();
            for (var i = 0; i < 4 * perPublisher; i++) ids.Add((string)(await subscriber.ReceiveAsync())["id"]!);
            orders.Add(ids.ToArray());
            await subscriber.DisposeAsync();
        }
        Assert.Equal(4 * perPublisher, orders[0].Distinct().Count());
        Assert.All(orders, order => Assert.Equal(orders[0], order));
        // Each publisher's own events keep the order in which it sent them.
        for (var p = 0; p < 4; p++)
        {
            var mine = orders[0].Where(id => id.StartsWith($"p{p}-")).ToArray();
            Assert.Equal(Enumerable.Range(0, perPublisher).Select(i => $"p{p}-{i}"), mine);
        }
    }
}
