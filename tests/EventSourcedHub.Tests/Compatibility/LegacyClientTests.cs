using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Compatibility;

/// <summary>
/// What clients written by others send and the hub always accepts (docs/compatibility.md): `hub.lease`, WebSub's
/// `hub.callback` and `hub.secret`, text frames that are not acks, string ack statuses, events at `{hub}/{topic}`.
/// Ack tracking is on (1 s) so that a frame mistaken for an ack, or an ack not taken, would show.
/// </summary>
public sealed class LegacyClientTests() : OwnHubTests(new Dictionary<string, string?> { ["Hub:AckTimeoutSeconds"] = "1" })
{
    /// <summary>The subscription form of OHIF's FHIRcast extension.</summary>
    private Task<HttpResponseMessage> OhifSubscribeAsync(string topic, string lease = "999", params (string, string)[] more) =>
        Hub.PostFormAsync([
            ("hub.mode", "subscribe"), ("hub.channel.type", "websocket"), ("hub.callback", "http://127.0.0.1:3000/fhircastCallback"),
            ("hub.events", "Patient-open,DiagnosticReport-update"), ("hub.topic", topic), ("hub.lease", lease), ("subscriber.name", "OHIF-viewer"),
            .. more]);

    [Fact]
    public async Task Compatibility_hub_lease_sets_the_lease_and_hub_callback_and_hub_secret_are_ignored()
    {
        var topic = NewTopic();
        using var response = await OhifSubscribeAsync(topic, "999", ("hub.secret", "not-used"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);

        await using var socket = await TestSubscriber.ConnectAsync(await HubClient.EndpointOf(response));
        var confirmation = await socket.ReceiveAsync();

        Assert.Equal(999, (int?)confirmation["hub.lease_seconds"]);
        Assert.Equal("Patient-open,DiagnosticReport-update", (string?)confirmation["hub.events"]);
    }

    [Fact]
    public async Task Compatibility_hub_lease_that_is_not_a_positive_whole_number_is_400_text_naming_it()
    {
        using var response = await OhifSubscribeAsync(NewTopic(), "0");

        Assert.Equal("`hub.lease` must be a positive whole number of seconds.", await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Compatibility_hub_lease_and_hub_lease_seconds_that_differ_are_400_text()
    {
        using var response = await OhifSubscribeAsync(NewTopic(), "60", ("hub.lease_seconds", "61"));

        Assert.Equal("`hub.lease_seconds` and `hub.lease` ask for different leases; send one of them.",
            await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Compatibility_text_frames_that_are_not_acks_are_ignored_and_acks_still_count()
    {
        var topic = NewTopic();
        using var response = await OhifSubscribeAsync(topic);
        var endpoint = await HubClient.EndpointOf(response);
        await using var viewer = await TestSubscriber.ConnectAsync(endpoint);
        // OHIF's extension sends its endpoint back right after connecting.
        await viewer.SendAsync(new JsonObject { ["hub.channel.endpoint"] = endpoint }.ToJsonString());
        await viewer.ReceiveAsync();
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");
        foreach (var frame in new[] { "hello", "[1,2]", "{}", """{"id":5}""", """{"id":"never-sent"}""", """{"id":"x","status":true}""", "{\"id\":" })
            await viewer.SendAsync(frame);

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        Assert.Equal("open-1", (string?)(await viewer.ReceiveAsync())["id"]);
        await viewer.SendAsync("""{"id":"open-1"}""");

        await watcher.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(2000));
        Assert.Equal(WebSocketState.Open, viewer.State);
    }

    [Theory]
    [InlineData("\"200\"")]
    [InlineData("200")]
    [InlineData("\"202\"")]
    public async Task Rulings_2_an_ack_status_as_a_number_or_a_string_counts(string status)
    {
        var topic = NewTopic();
        await using var app = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "App");
        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "SyncError", "Watcher");

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"));
        await app.ReceiveAsync();
        await app.SendAsync($$"""{"id":"open-1","status":{{status}}}""");

        await watcher.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(2000));
        Assert.Equal(WebSocketState.Open, app.State);
    }

    [Fact]
    public async Task Compatibility_events_posted_to_hub_slash_topic_are_accepted()
    {
        var topic = NewTopic();
        await using var app = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "App");

        await Hub.PublishAsync(PatientOpen(topic, "p1", id: "open-1"), pathTopic: topic);

        Assert.Equal("open-1", (string?)(await app.ReceiveAndAckAsync())["id"]);
    }

    [Fact]
    public async Task Compatibility_an_event_at_hub_slash_topic_naming_another_topic_is_400()
    {
        var topic = NewTopic();
        await Hub.SubscribeAsync(topic, "Patient-open");

        using var response = await Hub.PublishJsonAsync(PatientOpen(topic, "p1"), pathTopic: "other");

        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        Assert.Equal($"The topic in the path ('other') differs from `event.hub.topic` ('{topic}').", (string?)outcome["issue"]![0]!["diagnostics"]);
    }
}

/// <summary>What the hub logs about text frames that are not acks.</summary>
public sealed class IgnoredFrameLogTests
{
    private sealed class Recorder : ILoggerProvider
    {
        public ConcurrentQueue<(string Category, LogLevel Level, string Message)> Entries { get; } = new();
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);
        public void Dispose() { }

        private sealed class Logger(string category, ConcurrentQueue<(string, LogLevel, string)> entries) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                entries.Enqueue((category, logLevel, formatter(state, exception)));
        }
    }

    [Fact]
    public async Task Compatibility_a_text_frame_that_is_not_an_ack_is_logged_at_debug_with_its_endpoint_and_text()
    {
        var recorder = new Recorder();
        await using var server = await TestHub.StartAsync(
            new Dictionary<string, string?> { ["Logging:LogLevel:EventSourcedHub.Channels.SubscriberChannel"] = "Debug" }, logTo: recorder);
        var topic = NewTopic();
        await using var viewer = await server.Client.SubscribeAndConnectAsync(topic, "Patient-open", "Viewer");
        var endpointId = new Uri(viewer.Endpoint).Segments[^1];

        await viewer.SendAsync(new JsonObject { ["hub.channel.endpoint"] = viewer.Endpoint }.ToJsonString());

        var until = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (DateTime.UtcNow < until && !recorder.Entries.Any(e => e.Message.Contains(endpointId)))
            await Task.Delay(50);
        var entry = recorder.Entries.FirstOrDefault(e => e.Message.Contains(endpointId));
        Assert.Equal("EventSourcedHub.Channels.SubscriberChannel", entry.Category);
        Assert.Equal(LogLevel.Debug, entry.Level);
        Assert.Equal($"Ignored a text frame on endpoint {endpointId} of topic {topic} that acknowledges no awaited notification: "
            + $"{{\"hub.channel.endpoint\":\"{viewer.Endpoint}\"}}", entry.Message);
    }
}
