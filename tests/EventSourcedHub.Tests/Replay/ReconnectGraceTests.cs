using System.Net.WebSockets;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Replay;

/// <summary>`Hub:ReconnectGraceSeconds`: a dropped socket may come back to its endpoint and get what it missed.</summary>
public sealed class ReconnectGraceTests() : OwnHubTests(new Dictionary<string, string?> { ["Hub:ReconnectGraceSeconds"] = "2", ["Hub:AckTimeoutSeconds"] = "30" })
{
    /// <summary>The hub records a drop a moment after the connection breaks; until then the endpoint is still live (409).</summary>
    private static async Task<TestSubscriber> ReconnectAsync(string endpoint)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return await TestSubscriber.ConnectAsync(endpoint);
            }
            catch (WebSocketException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task a_socket_that_reconnects_within_the_grace_gets_exactly_what_it_missed_and_no_syncerror_is_raised()
    {
        var topic = NewTopic();
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");
        var app = await Hub.SubscribeAndConnectAsync(topic, "org.example.tick", "App");
        await Hub.PublishAsync(Custom(topic, "org.example.tick", id: "acked"));
        Assert.Equal("acked", (string?)(await app.ReceiveAndAckAsync())["id"]);
        await Hub.PublishAsync(Custom(topic, "org.example.tick", id: "received-not-acked"));
        Assert.Equal("received-not-acked", (string?)(await app.ReceiveAsync())["id"]);
        app.Abort();
        await app.DisposeAsync();
        await Hub.PublishAsync(Custom(topic, "org.example.tick", id: "while-away"));

        await using var back = await ReconnectAsync(app.Endpoint);
        Assert.Equal("subscribe", (string?)(await back.ReceiveAsync())["hub.mode"]);
        Assert.Equal("received-not-acked", (string?)(await back.ReceiveAndAckAsync())["id"]);
        Assert.Equal("while-away", (string?)(await back.ReceiveAndAckAsync())["id"]);
        await Hub.PublishAsync(Custom(topic, "org.example.tick", id: "live"));
        Assert.Equal("live", (string?)(await back.ReceiveAndAckAsync())["id"]);
        await watcher.AssertNothingReceivedAsync(TimeSpan.FromSeconds(2.5));
    }

    [Fact]
    public async Task a_socket_that_does_not_come_back_in_time_ends_with_a_syncerror_and_its_endpoint_is_dead()
    {
        var topic = NewTopic();
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");
        var app = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Gone");
        app.Abort();
        await app.DisposeAsync();

        var syncError = await watcher.ReceiveAndAckAsync();
        Assert.Equal("SyncError", (string?)syncError["event"]!["hub.event"]);
        Assert.Contains("did not reconnect", (string?)syncError["event"]!["context"]![0]!["resource"]!["issue"]![0]!["diagnostics"]);
        await using var late = await TestSubscriber.ConnectAsync(app.Endpoint);
        Assert.Equal("denied", (string?)Assert.Single(await late.ReceiveUntilClosedAsync())["hub.mode"]);
    }

    [Fact]
    public async Task an_explicit_normal_close_still_ends_the_subscription_at_once()
    {
        var topic = NewTopic();
        var app = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Leaving");
        await app.CloseAsync();
        await app.DisposeAsync();
        await Task.Delay(300);
        await using var late = await TestSubscriber.ConnectAsync(app.Endpoint);
        Assert.Equal("denied", (string?)Assert.Single(await late.ReceiveUntilClosedAsync())["hub.mode"]);
    }
}
