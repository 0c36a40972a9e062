using System.Net.WebSockets;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Compatibility;

/// <summary>
/// Clients that never ack (OHIF's FHIRcast extension): `Hub:AcklessSubscribers` exempts them by name while the others
/// stay tracked (rulings.md 36). The tracked subscriber timing out on the same hub proves the tracking is on.
/// </summary>
public sealed class AcklessSubscriberTests() : OwnHubTests(new Dictionary<string, string?>
{
    ["Hub:AckTimeoutSeconds"] = "1",
    // Given as one comma-separated value, as an environment variable would be.
    ["Hub:AcklessSubscribers"] = "OHIF viewer, Other ackless, Prefixed-*",
})
{
    [Fact]
    public async Task Rulings_36_a_named_ackless_subscriber_is_never_timed_out_while_an_unnamed_one_is()
    {
        var topic = NewTopic();
        await using var ohif = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "OHIF viewer");
        await using var silent = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Silent");
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        Assert.Equal("open-1", (string?)(await ohif.ReceiveAsync())["id"]);
        Assert.Equal("open-1", (string?)(await silent.ReceiveAsync())["id"]);

        // The tracked subscriber is dropped after 1 s and the watcher is told about it, and only about it.
        var syncError = await watcher.ReceiveAsync();
        Assert.Contains("Subscriber 'Silent' did not acknowledge Patient-open", (string?)syncError["event"]!["context"]![0]!["resource"]!["issue"]![0]!["diagnostics"]);
        Assert.Equal("unresponsive", (string?)Assert.Single(await silent.ReceiveUntilClosedAsync())["hub.reason"]);
        await watcher.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(1500));

        // Still subscribed well past the time-out.
        await Hub.PublishAsync(PatientOpen(topic, "p2", id: "open-2"));
        Assert.Equal("open-2", (string?)(await ohif.ReceiveAsync())["id"]);
        Assert.Equal(WebSocketState.Open, ohif.State);
    }

    [Fact]
    public async Task Rulings_36_an_entry_ending_in_a_star_exempts_every_name_it_begins()
    {
        var topic = NewTopic();
        await using var prefixed = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Prefixed-" + topic + "-x7k2");
        await using var lookalike = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Prefixed");
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await prefixed.ReceiveAsync();
        await lookalike.ReceiveAsync();

        // Only "Prefixed" (without the dash the entry names) is tracked and times out.
        var syncError = await watcher.ReceiveAsync();
        Assert.Contains("Subscriber 'Prefixed' did not acknowledge", (string?)syncError["event"]!["context"]![0]!["resource"]!["issue"]![0]!["diagnostics"]);
        await watcher.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(WebSocketState.Open, prefixed.State);
    }

    [Fact]
    public async Task Rulings_36_the_delivery_receipt_of_an_ackless_subscriber_records_the_write_without_awaiting_an_ack()
    {
        var topic = NewTopic();
        await using var ohif = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Other ackless");
        await using var acker = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Acker");

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-receipt"));
        await ohif.ReceiveAsync();
        await acker.ReceiveAndAckAsync();

        var deliveries = await DeliveriesAsync(topic, "open-receipt", 2);
        var ackless = deliveries["Other ackless"];
        Assert.False((bool)ackless["ackAwaited"]!);
        Assert.Null((int?)ackless["status"]);
        Assert.False((bool)ackless["timedOut"]!);
        Assert.False((bool)ackless["closedBeforeAck"]!);
        Assert.True((bool)deliveries["Acker"]["ackAwaited"]!);
        Assert.Equal(200, (int?)deliveries["Acker"]["status"]);
    }

    private async Task<Dictionary<string, JsonObject>> DeliveriesAsync(string topic, string eventId, int count)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(6);
        while (true)
        {
            using var response = await Hub.Http.GetAsync($"/api/sessions/{topic}/timeline");
            var timeline = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            var entry = timeline["events"]!.AsArray().Select(e => e!.AsObject()).FirstOrDefault(e => (string?)e["id"] == eventId);
            if (entry?["deliveries"] is JsonArray deliveries && deliveries.Count == count)
                return deliveries.Select(d => d!.AsObject()).ToDictionary(d => (string)d["subscriber"]!);
            Assert.True(DateTime.UtcNow < until, $"no {count} deliveries of {eventId} in the timeline: {timeline.ToJsonString()}");
            await Task.Delay(100);
        }
    }
}

/// <summary>`Hub:AckTimeoutSeconds=0`: ack tracking is off hub-wide (rulings.md 36).</summary>
public sealed class AckTrackingOffTests() : OwnHubTests(new Dictionary<string, string?> { ["Hub:AckTimeoutSeconds"] = "0" })
{
    [Fact]
    public async Task Rulings_36_with_ack_timeout_0_a_subscriber_that_never_acks_stays_and_no_syncerror_is_raised()
    {
        var topic = NewTopic();
        await using var silent = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Silent");
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await silent.ReceiveAsync();
        // The default time-out is 10 s; 2.5 s is more than twice the shortest a hub accepts (1 s).
        await watcher.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(2500));

        await Hub.PublishAsync(PatientOpen(topic, "p2", id: "open-2"));
        Assert.Equal("open-2", (string?)(await silent.ReceiveAsync())["id"]);
        Assert.Equal(WebSocketState.Open, silent.State);
    }

    [Fact]
    public async Task Rulings_36_with_ack_tracking_off_an_ack_is_ignored_and_raises_nothing()
    {
        var topic = NewTopic();
        await using var refuser = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Refuser");
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await refuser.ReceiveAsync();
        await refuser.SendAsync("""{"id":"open-1","status":409}""");

        await watcher.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(500));
        Assert.Equal(WebSocketState.Open, refuser.State);
    }
}
