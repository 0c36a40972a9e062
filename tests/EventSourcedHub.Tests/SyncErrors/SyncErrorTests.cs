using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.SyncErrors;

/// <summary>Acknowledgements, hub-generated SyncErrors and liveness, on a hub with short timeouts.</summary>
public sealed class SyncErrorTests() : OwnHubTests(new Dictionary<string, string?> { ["Hub:AckTimeoutSeconds"] = "1", ["Hub:PingIntervalSeconds"] = "1" })
{
    private static JsonArray CodingsOf(JsonObject syncError) =>
        syncError["event"]!["context"]![0]!["resource"]!["issue"]![0]!["details"]!["coding"]!.AsArray();

    private static void AssertSyncErrorAbout(JsonObject syncError, string? eventId, string eventName, string subscriberName)
    {
        Assert.Equal("SyncError", (string?)syncError["event"]!["hub.event"]);
        var context = Assert.Single(syncError["event"]!["context"]!.AsArray())!;
        Assert.Equal("operationoutcome", (string?)context["key"]);
        var issue = context["resource"]!["issue"]![0]!;
        Assert.Equal("OperationOutcome", (string?)context["resource"]!["resourceType"]);
        Assert.Equal("warning", (string?)issue["severity"]);
        Assert.Equal("processing", (string?)issue["code"]);
        Assert.False(string.IsNullOrEmpty((string?)issue["diagnostics"]));
        var codings = CodingsOf(syncError);
        Assert.Equal("https://fhircast.hl7.org/events/syncerror/eventid", (string?)codings[0]!["system"]);
        if (eventId is not null) Assert.Equal(eventId, (string?)codings[0]!["code"]);
        Assert.Equal("https://fhircast.hl7.org/events/syncerror/eventname", (string?)codings[1]!["system"]);
        Assert.Equal(eventName, (string?)codings[1]!["code"]);
        Assert.Equal("https://fhircast.hl7.org/events/syncerror/subscribername", (string?)codings[2]!["system"]);
        Assert.Equal(subscriberName, (string?)codings[2]!["code"]);
        Assert.True(Guid.TryParse((string?)syncError["id"], out _));
        Assert.EndsWith("Z", (string?)syncError["timestamp"]);
    }

    [Theory]
    [InlineData(409)]
    [InlineData(400)]
    [InlineData(500)]
    public async Task HUB_DIST_05_HUB_SE_02_an_error_ack_raises_a_syncerror_for_the_other_syncerror_subscribers(int status)
    {
        var topic = NewTopic();
        await using var acme = await Hub.SubscribeAndConnectAsync(topic, "Patient-open,SyncError", "Acme Viewer");
        await using var reporting = await Hub.SubscribeAndConnectAsync(topic, "Patient-open,SyncError", "Reporting");
        await using var bystander = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "No SyncErrors");
        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await acme.ReceiveAsync();
        await acme.SendAsync($$"""{"id":"open-1","status":{{status}}}""");
        await reporting.ReceiveAndAckAsync();
        await bystander.ReceiveAndAckAsync();

        AssertSyncErrorAbout(await reporting.ReceiveAsync(), "open-1", "Patient-open", "Acme Viewer");
        await acme.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
        await bystander.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(100));
        // An error ack is not unresponsiveness: Acme stays subscribed.
        await Hub.PublishAsync(PatientOpen(topic, "p2", id: "open-2"));
        Assert.Equal("open-2", (string?)(await acme.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_DIST_04_a_string_status_is_read_as_a_number()
    {
        var topic = NewTopic();
        await using var acme = await Hub.SubscribeAndConnectAsync(topic, "Patient-open,SyncError", "Acme");
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Other");
        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await acme.ReceiveAsync();
        await acme.SendAsync("""{"id":"open-1","status":"409"}""");
        AssertSyncErrorAbout(await other.ReceiveAndAckAsync(), "open-1", "Patient-open", "Acme");
    }

    [Fact]
    public async Task HUB_DIST_06_HUB_DIST_07_no_ack_in_time_raises_a_syncerror_and_ends_the_unresponsive_subscriber()
    {
        var topic = NewTopic();
        await using var silent = await Hub.SubscribeAndConnectAsync(topic, "org.example.x,SyncError", "Silent");
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Other");
        await Hub.PublishAsync(Custom(topic, "org.example.x", id: "x-1"));
        await silent.ReceiveAsync();

        AssertSyncErrorAbout(await other.ReceiveAndAckAsync(), "x-1", "org.example.x", "Silent");
        var denial = Assert.Single(await silent.ReceiveUntilClosedAsync());
        Assert.Equal("denied", (string?)denial["hub.mode"]);
        Assert.Equal("unresponsive", (string?)denial["hub.reason"]);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, silent.CloseStatus);
    }

    [Fact]
    public async Task HUB_DIST_05_an_ack_of_202_stops_the_timer()
    {
        var topic = NewTopic();
        await using var acme = await Hub.SubscribeAndConnectAsync(topic, "org.example.x", "Acme");
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Other");
        await Hub.PublishAsync(Custom(topic, "org.example.x", id: "x-1"));
        await acme.ReceiveAsync();
        await acme.SendAsync("""{"id":"x-1","status":202}""");
        await other.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(2500));
        Assert.Equal(WebSocketState.Open, acme.State);
    }

    [Fact]
    public async Task HUB_DIST_08_error_acks_never_change_the_current_context()
    {
        var topic = NewTopic();
        await using var acme = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Acme");
        var open = PatientOpen(topic, "p1", id: "open-1");
        await Hub.PublishAsync(open);
        await acme.ReceiveAsync();
        await acme.SendAsync("""{"id":"open-1","status":409}""");
        await Task.Delay(300);
        Assert.Equal("Patient", (string?)(await Hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task HUB_DIST_10_syncerror_and_heartbeat_notifications_need_no_ack()
    {
        var topic = NewTopic();
        await using var listener = await Hub.SubscribeAndConnectAsync(topic, "SyncError,heartbeat", "Listener");
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");
        await Hub.PublishAsync(Envelope(topic, "SyncError",
            """[{"key":"operationoutcome","resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing","diagnostics":"x"}]}}]""", id: "se-1"));
        Assert.Equal("se-1", (string?)(await listener.ReceiveAsync())["id"]);
        Assert.Equal("se-1", (string?)(await watcher.ReceiveAsync())["id"]);
        // Neither acks; more than the 1 s time-out passes, with heartbeats arriving: no SyncError, nobody dropped.
        var frames = new List<JsonObject>();
        var until = DateTime.UtcNow.AddSeconds(2.5);
        while (DateTime.UtcNow < until)
        {
            try { frames.Add(await listener.ReceiveAsync(TimeSpan.FromMilliseconds(500))); } catch (OperationCanceledException) { }
        }
        Assert.NotEmpty(frames);
        Assert.All(frames, f => Assert.Equal("heartbeat", (string?)f["event"]!["hub.event"]));
        await watcher.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200));
        Assert.Equal(WebSocketState.Open, listener.State);
    }

    [Fact]
    public async Task HUB_SE_01_HUB_SE_05_a_subscriber_syncerror_is_validated_and_sent_to_every_syncerror_subscriber_including_the_sender()
    {
        var topic = NewTopic();
        await using var sender = await Hub.SubscribeAndConnectAsync(topic, "syncerror", "Sender");
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SYNCERROR", "Other");
        await using var bystander = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Bystander");

        using var invalid = await Hub.PublishJsonAsync(Envelope(topic, "SyncError", """[{"key":"patient","resource":{"resourceType":"Patient","id":"p"}}]"""));
        await HubClient.AssertOperationOutcome(invalid, HttpStatusCode.BadRequest, "invalid");

        var syncError = Envelope(topic, "SyncError",
            """[{"key":"operationoutcome","resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing","diagnostics":"could not follow"}]}}]""", id: "se-1");
        await Hub.PublishAsync(syncError);
        Assert.Equal("se-1", (string?)(await sender.ReceiveAsync())["id"]);
        Assert.Equal("se-1", (string?)(await other.ReceiveAsync())["id"]);
        await bystander.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_SE_08_the_severity_of_hub_syncerrors_is_configurable()
    {
        await using var hub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:SyncErrorSeverity"] = "information" });
        var topic = NewTopic();
        await using var acme = await hub.Client.SubscribeAndConnectAsync(topic, "Patient-open", "Acme");
        await using var other = await hub.Client.SubscribeAndConnectAsync(topic, "SyncError", "Other");
        await hub.Client.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await acme.ReceiveAsync();
        await acme.SendAsync("""{"id":"open-1","status":409}""");
        var syncError = await other.ReceiveAsync();
        Assert.Equal("information", (string?)syncError["event"]!["context"]![0]!["resource"]!["issue"]![0]!["severity"]);
    }

    [Theory]
    [InlineData(WebSocketCloseStatus.NormalClosure)]
    [InlineData(WebSocketCloseStatus.EndpointUnavailable)]
    public async Task HUB_WS_10_a_normal_close_raises_no_syncerror(WebSocketCloseStatus status)
    {
        var topic = NewTopic();
        var leaving = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Leaving");
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Other");
        await leaving.CloseAsync(status);
        await leaving.DisposeAsync();
        await other.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(700));
    }

    [Fact]
    public async Task HUB_WS_11_IRA_HUB_02_an_abnormal_close_unsubscribes_and_raises_a_syncerror_for_the_others()
    {
        var topic = NewTopic();
        var crashing = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Crashing");
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Other");
        crashing.Abort();
        await crashing.DisposeAsync();
        var syncError = await other.ReceiveAndAckAsync();
        AssertSyncErrorAbout(syncError, null, "syncerror", "Crashing");
        using var unsubscribe = await Hub.UnsubscribeAsync(topic, crashing.Endpoint);
        Assert.Equal(HttpStatusCode.BadRequest, unsubscribe.StatusCode);
    }

    [Fact]
    public async Task HUB_WS_11_a_close_with_an_error_code_raises_a_syncerror()
    {
        var topic = NewTopic();
        var failing = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Failing");
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Other");
        await failing.CloseAsync(WebSocketCloseStatus.InternalServerError);
        await failing.DisposeAsync();
        AssertSyncErrorAbout(await other.ReceiveAndAckAsync(), null, "syncerror", "Failing");
    }

    [Fact]
    public async Task HUB_HB_01_a_peer_that_stops_answering_pings_is_dropped_with_a_syncerror()
    {
        var topic = NewTopic();
        var endpoint = new Uri(await Hub.SubscribeAsync(topic, "Patient-open", "Frozen"));
        await using var other = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Other");

        // A raw client that completes the handshake and then never reads or answers a ping.
        using var frozen = new TcpClient();
        await frozen.ConnectAsync(endpoint.Host, endpoint.Port);
        var handshake = $"GET {endpoint.AbsolutePath} HTTP/1.1\r\nHost: {endpoint.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await frozen.GetStream().WriteAsync(Encoding.ASCII.GetBytes(handshake));

        var syncError = await other.ReceiveAndAckAsync();
        AssertSyncErrorAbout(syncError, null, "syncerror", "Frozen");
    }

    [Fact]
    public async Task HUB_HB_02_heartbeats_go_only_to_subscribers_that_asked_for_them()
    {
        var topic = NewTopic();
        await using var wants = await Hub.SubscribeAndConnectAsync(topic, "Heartbeat", "Wants");
        await using var doesNot = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Does not");
        var heartbeat = await wants.ReceiveAsync(TimeSpan.FromSeconds(3));
        Assert.Equal("heartbeat", (string?)heartbeat["event"]!["hub.event"]);
        Assert.Equal(topic, (string?)heartbeat["event"]!["hub.topic"]);
        Assert.Equal("""[{"key":"period","decimal":"1"}]""", HubClient.Canonical(heartbeat["event"]!["context"]));
        await doesNot.AssertNothingReceivedAsync(TimeSpan.FromSeconds(1.5));
    }

    [Fact]
    public async Task HUB_INF_01_HUB_INF_02_logout_and_hibernate_are_distributed_unchanged_and_leave_the_context_alone()
    {
        var topic = NewTopic();
        await using var subscriber = await Hub.SubscribeAndConnectAsync(topic, "UserLogout,UserHibernate", "EHR");
        await Hub.PublishAsync(PatientOpen(topic, "p1"));
        var logout = Envelope(topic, "UserLogout",
            """[{"key":"parameters","resource":{"resourceType":"Parameters","parameter":[{"name":"code","valueCoding":{"system":"http://hl7.org/fhir/uv/fhircast/CodeSystem/fhircast-codesystem","code":"user-initiated"}}]}}]""");
        var hibernate = Envelope(topic, "UserHibernate",
            """[{"key":"parameters","resource":{"resourceType":"Parameters","parameter":[{"name":"code","valueCoding":{"code":"system-timeout"}},{"name":"hub","valueBoolean":true}]}}]""");
        await Hub.PublishAsync(logout);
        await Hub.PublishAsync(hibernate);
        Assert.Equal(HubClient.Canonical(ContextOf(logout)), HubClient.Canonical((await subscriber.ReceiveAndAckAsync())["event"]!["context"]));
        Assert.Equal(HubClient.Canonical(ContextOf(hibernate)), HubClient.Canonical((await subscriber.ReceiveAndAckAsync())["event"]!["context"]));
        Assert.Equal("Patient", (string?)(await Hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task a_hub_syncerror_is_an_event_on_the_topics_stream()
    {
        var topic = NewTopic();
        await using var acme = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "Acme");
        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await acme.ReceiveAsync();
        await acme.SendAsync("""{"id":"open-1","status":500}""");
        await using var query = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Marten.IDocumentStore>(Server.Services).QuerySession();
        IReadOnlyList<JasperFx.Events.IEvent> events = [];
        for (var i = 0; i < 50 && !events.Any(e => e.EventTypeName == "sync_error_raised"); i++)
        {
            await Task.Delay(100);
            events = await query.Events.FetchStreamAsync(topic);
        }
        var raised = Assert.IsType<EventSourcedHub.Domain.SyncErrorRaised>(events.Single(e => e.EventTypeName == "sync_error_raised").Data);
        Assert.Equal("open-1", raised.FailedEventId);
        Assert.Equal("Acme", raised.SubscriberName);
    }
}
