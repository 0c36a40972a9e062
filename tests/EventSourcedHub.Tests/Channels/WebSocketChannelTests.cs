using System.Net;
using System.Net.WebSockets;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Channels;

public sealed class WebSocketChannelTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private string WsUrl(string id) => $"ws://{_hub.Http.BaseAddress!.Authority}/api/hub/ws/{id}";

    private static async Task<int?> UpgradeStatusAsync(string url)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(new Uri(url), CancellationToken.None);
            return 101;
        }
        catch (WebSocketException)
        {
            return (int)socket.HttpStatusCode;
        }
    }

    [Fact]
    public async Task HUB_WS_01_an_endpoint_that_was_never_issued_is_refused_with_404()
    {
        Assert.Equal(404, await UpgradeStatusAsync(WsUrl("00000000000000000000000000000000deadbeef")));
        using var plainGet = await _hub.Http.GetAsync("/api/hub/ws/00000000000000000000000000000000deadbeef");
        await HubClient.AssertOperationOutcome(plainGet, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task a_plain_http_get_of_an_issued_endpoint_is_400()
    {
        var endpoint = await _hub.SubscribeAsync(NewTopic(), "Patient-open");
        using var response = await _hub.Http.GetAsync(new Uri(endpoint).AbsolutePath);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task HUB_WS_02_the_first_frame_is_the_confirmation_with_topic_events_and_lease()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open"); // another subscriber that never connects
        await using var subscriber = await TestSubscriber.ConnectAsync(await _hub.SubscribeAsync(topic, "Patient-open,Patient-close", lease: 900));
        var confirmation = await subscriber.ReceiveAsync();
        Assert.Equal(4, confirmation.Count);
        Assert.Equal("subscribe", (string?)confirmation["hub.mode"]);
        Assert.Equal(topic, (string?)confirmation["hub.topic"]);
        Assert.Equal("Patient-open,Patient-close", (string?)confirmation["hub.events"]);
        Assert.Equal(900, (int)confirmation["hub.lease_seconds"]!);
    }

    [Fact]
    public async Task HUB_WS_03_notifications_arrive_only_after_confirmation_and_on_the_same_socket()
    {
        var topic = NewTopic();
        var endpoint = await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "before-connect", id: "e1"));
        await using var subscriber = await TestSubscriber.ConnectAsync(endpoint);
        Assert.Equal("subscribe", (string?)(await subscriber.ReceiveAsync())["hub.mode"]);
        // e1 happened before the subscription was confirmed: it arrives only as the current-context replay (HUB-WS-04).
        Assert.Equal("e1", (string?)(await subscriber.ReceiveAsync())["id"]);
        await _hub.PublishAsync(PatientOpen(topic, "after", id: "e2"));
        Assert.Equal("e2", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_WS_04_a_new_subscriber_gets_the_open_contexts_it_subscribed_to_oldest_first_with_original_id_and_timestamp()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1", id: "patient-open-1"));
        await _hub.PublishAsync(StudyOpen(topic, "s1", "p1", id: "study-open-1"));
        await _hub.PublishAsync(ReportOpen(topic, "r1", id: "report-open-1"));
        await _hub.PublishAsync(ReportClose(topic, "r1", id: "report-close-1"));
        await _hub.PublishAsync(PatientOpen(topic, "p2", id: "patient-open-2"));

        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open,patient-open,DiagnosticReport-open,DiagnosticReport-close");
        var first = await subscriber.ReceiveAsync();
        var second = await subscriber.ReceiveAsync();
        Assert.Equal("study-open-1", (string?)first["id"]);
        Assert.Equal("patient-open-2", (string?)second["id"]);
        Assert.Equal("2025-03-01T14:58:45.988Z", (string?)second["timestamp"]);
        Assert.False(string.IsNullOrEmpty((string?)second["event"]!["context.versionId"]));
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_WS_05_a_subscriber_never_gets_events_it_did_not_subscribe_to_not_even_in_the_replay()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open");
        await _hub.PublishAsync(PatientOpen(topic, "p2"));
        await _hub.PublishAsync(Custom(topic, "org.example.ping"));
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(500));
    }

    [Fact]
    public async Task HUB_WS_06_when_the_lease_runs_out_the_hub_sends_a_denial_and_closes_1000()
    {
        await using var shortLeases = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:MaxLeaseSeconds"] = "1", ["Hub:DefaultLeaseSeconds"] = "1" });
        var topic = NewTopic();
        await using var subscriber = await shortLeases.Client.SubscribeAndConnectAsync(topic, "Patient-open");
        var frames = await subscriber.ReceiveUntilClosedAsync(TimeSpan.FromSeconds(10));
        var denial = Assert.Single(frames);
        Assert.Equal("denied", (string?)denial["hub.mode"]);
        Assert.Equal("subscription lease expired", (string?)denial["hub.reason"]);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, subscriber.CloseStatus);
    }

    [Fact]
    public async Task HUB_WS_06_a_renewal_before_expiry_keeps_the_subscription()
    {
        await using var shortLeases = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:MaxLeaseSeconds"] = "2", ["Hub:DefaultLeaseSeconds"] = "2" });
        var topic = NewTopic();
        await using var subscriber = await shortLeases.Client.SubscribeAndConnectAsync(topic, "Patient-open");
        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(1000);
            using var renewal = await shortLeases.Client.SubscribeRawAsync(topic, "Patient-open", endpoint: subscriber.Endpoint);
            Assert.Equal(HttpStatusCode.Accepted, renewal.StatusCode);
            Assert.Equal("subscribe", (string?)(await subscriber.ReceiveAsync())["hub.mode"]);
        }
        await shortLeases.Client.PublishAsync(PatientOpen(topic, "p", id: "still-here"));
        Assert.Equal("still-here", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_WS_07_a_denial_names_the_topic_the_events_and_a_reason()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        await _hub.UnsubscribeAsync(topic, subscriber.Endpoint);
        var denial = await subscriber.ReceiveAsync();
        Assert.Equal(new[] { "hub.mode", "hub.topic", "hub.events", "hub.reason" }, denial.Select(p => p.Key).ToArray());
        Assert.Equal("unsubscribed", (string?)denial["hub.reason"]);
    }

    [Fact]
    public async Task HUB_WS_08_a_second_socket_on_a_live_endpoint_is_refused_with_409()
    {
        await using var subscriber = await _hub.SubscribeAndConnectAsync(NewTopic(), "Patient-open");
        Assert.Equal(409, await UpgradeStatusAsync(subscriber.Endpoint));
        Assert.Equal(WebSocketState.Open, subscriber.State);
    }

    [Fact]
    public async Task HUB_WS_09_a_subscription_never_connected_in_time_is_discarded_and_receives_nothing()
    {
        await using var hub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:UnconnectedSubscriptionSeconds"] = "1" });
        var topic = NewTopic();
        var endpoint = await hub.Client.SubscribeAsync(topic, "Patient-open");
        await Task.Delay(2500);
        await using var late = await TestSubscriber.ConnectAsync(endpoint);
        var denial = Assert.Single(await late.ReceiveUntilClosedAsync());
        Assert.Equal("denied", (string?)denial["hub.mode"]);
        Assert.Contains("not connected in time", (string?)denial["hub.reason"]);
    }

    [Theory]
    [InlineData(WebSocketCloseStatus.NormalClosure)]
    [InlineData(WebSocketCloseStatus.EndpointUnavailable)]
    [InlineData(WebSocketCloseStatus.ProtocolError)]
    public async Task HUB_WS_12_any_close_ends_the_subscription_and_a_reconnect_gets_a_denial_then_close_1000(WebSocketCloseStatus status)
    {
        var topic = NewTopic();
        var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        await subscriber.CloseAsync(status);
        await subscriber.DisposeAsync();

        await using var reconnect = await ReconnectUntilDeniedAsync(subscriber.Endpoint);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, reconnect.CloseStatus);
        using var unsubscribe = await _hub.UnsubscribeAsync(topic, subscriber.Endpoint);
        Assert.Equal(HttpStatusCode.BadRequest, unsubscribe.StatusCode);
    }

    [Fact]
    public async Task HUB_WS_12_an_aborted_connection_ends_the_subscription()
    {
        var topic = NewTopic();
        var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        subscriber.Abort();
        await subscriber.DisposeAsync();
        await using var reconnect = await ReconnectUntilDeniedAsync(subscriber.Endpoint);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, reconnect.CloseStatus);
    }

    /// <summary>The hub records a close asynchronously; a client retrying right away may still find it live (409) for a moment.</summary>
    private static async Task<TestSubscriber> ReconnectUntilDeniedAsync(string endpoint)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var socket = await TestSubscriber.ConnectAsync(endpoint);
                var frames = await socket.ReceiveUntilClosedAsync();
                var denial = Assert.Single(frames);
                Assert.Equal("denied", (string?)denial["hub.mode"]);
                Assert.Equal("connection lost; subscribe again", (string?)denial["hub.reason"]);
                return socket;
            }
            catch (WebSocketException) when (attempt < 100)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task HUB_WS_13_endpoint_ids_are_never_reused()
    {
        var topic = NewTopic();
        var ended = new HashSet<string>();
        for (var i = 0; i < 5; i++)
        {
            var endpoint = await _hub.SubscribeAsync(topic, "Patient-open");
            await _hub.UnsubscribeAsync(topic, endpoint);
            Assert.True(ended.Add(endpoint));
        }
        var fresh = await _hub.SubscribeAsync(topic, "Patient-open");
        Assert.DoesNotContain(fresh, ended);
    }
}
