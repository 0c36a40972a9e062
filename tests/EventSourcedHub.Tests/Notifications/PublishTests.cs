using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Notifications;

public sealed class PublishTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/fhir+json")]
    public async Task HUB_EVT_01_an_event_post_to_the_hub_is_accepted_with_202(string mediaType)
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        using var response = await _hub.PublishJsonAsync(PatientOpen(topic, "p1"), mediaType: mediaType);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HUB_EVT_01_other_media_types_are_415_operation_outcome()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        using var content = new StringContent(PatientOpen(topic, "p1"), Encoding.UTF8, "text/plain");
        using var response = await _hub.Http.PostAsync(HubClient.HubPath, content);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.UnsupportedMediaType, "not-supported");
        using var noType = new ByteArrayContent(Encoding.UTF8.GetBytes(PatientOpen(topic, "p1")));
        using var untyped = await _hub.Http.PostAsync($"{HubClient.HubPath}/{topic}", noType);
        await HubClient.AssertOperationOutcome(untyped, HttpStatusCode.UnsupportedMediaType, "not-supported");
    }

    public static TheoryData<string, string> MalformedEvents() => new()
    {
        { "The body is not valid JSON", "{" },
        { "must be a JSON object with `timestamp`, `id` and `event`", "[1,2]" },
        { "`id` is required and must be a non-empty string", """{"timestamp":"2025-03-01T14:58:45.988Z","event":{"hub.topic":"T","hub.event":"Patient-open","context":[]}}""" },
        { "`id` is required and must be a non-empty string", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"","event":{"hub.topic":"T","hub.event":"Patient-open","context":[]}}""" },
        { "`id` is required and must be a non-empty string", """{"timestamp":"2025-03-01T14:58:45.988Z","id":7,"event":{"hub.topic":"T","hub.event":"Patient-open","context":[]}}""" },
        { "`timestamp` is required", """{"id":"x","event":{"hub.topic":"T","hub.event":"Patient-open","context":[]}}""" },
        { "`timestamp` must be an ISO 8601 date-time", """{"timestamp":"yesterday","id":"x","event":{"hub.topic":"T","hub.event":"Patient-open","context":[]}}""" },
        { "`event` is required and must be an object", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x"}""" },
        { "`event` is required and must be an object", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":"Patient-open"}""" },
        { "`event.hub.event` is required", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","context":[]}}""" },
        { "Wildcards are not event names", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"*-open","context":[]}}""" },
        { "`event.context` is required and must be an array", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"Patient-open"}}""" },
        { "`event.context` is required and must be an array", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"Patient-open","context":{}}}""" },
        { "must be an object with a non-empty string `key`", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"Patient-open","context":[{"resource":{}}]}}""" },
        { "`Patient-open` must carry exactly one `patient` context entry", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"Patient-open","context":[]}}""" },
        { "must hold a resource with an `id`", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient"}}]}}""" },
        { "holds a Encounter, not a Patient", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Encounter","id":"e"}}]}}""" },
        { "must carry a `study` context entry (HUB-CTX-07)", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"DiagnosticReport-open","context":[{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"r"}},{"key":"patient","resource":{"resourceType":"Patient","id":"p"}}]}}""" },
        { "must hold a resource with an `id`", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"x","event":{"hub.topic":"T","hub.event":"DiagnosticReport-close","context":[{"key":"report","resource":{"resourceType":"DiagnosticReport"}}]}}""" },
    };

    [Theory]
    [MemberData(nameof(MalformedEvents))]
    public async Task HUB_EVT_02_malformed_events_are_400_operation_outcome_and_change_nothing(string diagnostics, string body)
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,DiagnosticReport-open,DiagnosticReport-close");
        using var response = await _hub.PublishJsonAsync(body.Replace("\"T\"", $"\"{topic}\""));
        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        Assert.Contains(diagnostics, (string?)outcome["issue"]![0]!["diagnostics"], StringComparison.Ordinal);
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200));
        Assert.Equal("", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task HUB_EVT_02_an_event_for_an_unknown_topic_is_400_and_does_not_create_it()
    {
        var topic = NewTopic();
        using var response = await _hub.PublishJsonAsync(PatientOpen(topic, "p1"));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "not-found");
        using var context = await _hub.GetContextRawAsync(topic);
        Assert.Equal(HttpStatusCode.NotFound, context.StatusCode);
    }

    [Fact]
    public async Task HUB_EVT_02_a_path_topic_that_differs_from_the_body_topic_is_400()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        using var response = await _hub.PublishJsonAsync(PatientOpen(topic, "p1"), pathTopic: NewTopic());
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task HUB_EVT_02_a_body_that_is_not_utf8_is_400()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var bytes = Encoding.UTF8.GetBytes(PatientOpen(topic, "p1")).Concat(new byte[] { 0xC3, 0x28 }).ToArray();
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _hub.Http.PostAsync(HubClient.HubPath, content);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task HUB_EVT_03_validation_happens_before_the_answer_so_no_rejection_follows_a_202()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,SyncError");
        await _hub.PublishAsync(PatientOpen(topic, "p1", id: "ok"));
        Assert.Equal("ok", (string?)(await subscriber.ReceiveAsync())["id"]);
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_EVT_04_the_broadcast_reuses_id_and_timestamp_and_forwards_the_context_byte_for_byte()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open,org.example.Measure");
        // Formatting a FHIR model would change these: R5-only elements, 1.50, escaped and non-ASCII text, key order.
        const string measure = """{"key":"extension","data":{"zeta":1.50,"alpha":"Zo\u00eb Zoë","when":"2025-03-01T14:58:45.000+01:00","r5":{"resourceType":"ImagingSelection","instance":[{"imageRegion2D":[{"coordinate":[0.25,0.250]}]}]}}}""";
        var custom = $$$"""{"timestamp":"2025-03-01T14:58:45.1+01:00","id":"m-1","event":{"hub.topic":"{{{topic}}}","hub.event":"org.example.Measure","context":[{{{measure}}}]}}""";
        await _hub.PublishAsync(custom);
        var received = await subscriber.ReceiveTextAsync();
        Assert.Contains(measure, received);
        Assert.Contains("\"timestamp\":\"2025-03-01T14:58:45.1+01:00\"", received);
        Assert.Contains("\"id\":\"m-1\"", received);
    }

    [Fact]
    public async Task HUB_EVT_04_an_open_is_forwarded_unchanged_except_for_the_hub_assigned_version_id()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open");
        var request = ReportOpen(topic, "r1");
        await _hub.PublishAsync(request);
        var received = await subscriber.ReceiveAsync();
        var versionId = (string?)received["event"]!["context.versionId"];
        Assert.True(Guid.TryParse(versionId, out _));
        received["event"]!.AsObject().Remove("context.versionId");
        Assert.Equal(HubClient.Canonical(JsonNode.Parse(request)), HubClient.Canonical(received));
    }

    [Fact]
    public async Task HUB_EVT_05_the_hub_does_not_check_that_context_resources_agree_with_each_other()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Encounter-open");
        var inconsistent = Envelope(topic, "Encounter-open",
            """[{"key":"encounter","resource":{"resourceType":"Encounter","id":"enc-1","subject":{"reference":"Patient/someone-else"}}},{"key":"patient","resource":{"resourceType":"Patient","id":"p1"}}]""");
        await _hub.PublishAsync(inconsistent);
        Assert.Equal("Encounter", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task HUB_EVT_06_a_retried_event_id_is_accepted_again_but_distributed_once()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        var request = PatientOpen(topic, "p1", id: "retry-me");
        await _hub.PublishAsync(request);
        await _hub.PublishAsync(request);
        await _hub.PublishAsync(request, pathTopic: topic);
        Assert.Equal("retry-me", (string?)(await subscriber.ReceiveAsync())["id"]);
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_EVT_06_concurrent_retries_of_one_id_are_distributed_once()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        var request = PatientOpen(topic, "p1", id: "racing-retry");
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => _hub.PublishAsync(request)));
        Assert.Equal("racing-retry", (string?)(await subscriber.ReceiveAsync())["id"]);
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_EVT_06_a_rejected_id_is_processed_anew_when_retried()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,Patient-close");
        using var rejected = await _hub.PublishJsonAsync(PatientClose(topic, "p1", id: "close-1"));
        Assert.Equal(HttpStatusCode.Conflict, rejected.StatusCode);
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await subscriber.ReceiveAsync();
        await _hub.PublishAsync(PatientClose(topic, "p1", id: "close-1"));
        Assert.Equal("close-1", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_EVT_06_the_same_id_on_another_topic_is_a_different_event()
    {
        var (a, b) = (NewTopic(), NewTopic());
        await using var onA = await _hub.SubscribeAndConnectAsync(a, "Patient-open");
        await using var onB = await _hub.SubscribeAndConnectAsync(b, "Patient-open");
        await _hub.PublishAsync(PatientOpen(a, "p", id: "shared-id"));
        await _hub.PublishAsync(PatientOpen(b, "p", id: "shared-id"));
        Assert.Equal("shared-id", (string?)(await onA.ReceiveAsync())["id"]);
        Assert.Equal("shared-id", (string?)(await onB.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_EVT_07_unknown_keys_and_value_elements_pass_through_unchanged()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        var request = Envelope(topic, "Patient-open",
            $$$"""[{"key":"patient","resource":{{{PatientResource("p1")}}}},{"key":"extension","data":{"vendor":"x"}},{"key":"period","decimal":"10"}]""");
        await _hub.PublishAsync(request);
        var received = await subscriber.ReceiveAsync();
        Assert.Equal(HubClient.Canonical(ContextOf(request)), HubClient.Canonical(received["event"]!["context"]));
    }

    [Fact]
    public async Task HUB_EVT_08_a_body_larger_than_the_limit_is_413_operation_outcome()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "org.example.big");
        var big = Envelope(topic, "org.example.big", $$$"""[{"key":"extension","data":{"blob":"{{{new string('x', 1_100_000)}}}"}}]""");
        // Expect: 100-continue lets the hub refuse before the client writes the whole body.
        using var request = new HttpRequestMessage(HttpMethod.Post, HubClient.HubPath) { Content = new StringContent(big, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using var response = await _hub.Http.SendAsync(request);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.RequestEntityTooLarge, "too-long");
    }

    [Fact]
    public async Task HUB_EVT_08_a_subscription_form_larger_than_the_limit_is_413_text()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, HubClient.HubPath)
        {
            Content = new FormUrlEncodedContent([new("hub.mode", "subscribe"), new("hub.topic", new string('t', 1_100_000))]),
        };
        request.Headers.ExpectContinue = true;
        using var response = await _hub.Http.SendAsync(request);
        await HubClient.AssertPlainTextError(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task HUB_EVT_09_events_on_one_topic_are_distributed_in_acceptance_order()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "org.example.tick");
        for (var i = 0; i < 20; i++) await _hub.PublishAsync(Custom(topic, "org.example.tick", id: $"tick-{i}"));
        for (var i = 0; i < 20; i++) Assert.Equal($"tick-{i}", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_EVT_10_events_with_old_timestamps_are_accepted()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "org.example.tick");
        await _hub.PublishAsync(Custom(topic, "org.example.tick", id: "new"));
        await _hub.PublishAsync(Envelope(topic, "org.example.tick", "[]", id: "old", timestamp: "1999-01-01T00:00:00Z"));
        Assert.Equal("new", (string?)(await subscriber.ReceiveAsync())["id"]);
        Assert.Equal("old", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_GEN_05_custom_and_infrastructure_events_are_accepted_and_distributed()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "org.example.foo,UserLogout,Heartbeat");
        await _hub.PublishAsync(Custom(topic, "org.example.foo", id: "custom"));
        await _hub.PublishAsync(Envelope(topic, "UserLogout",
            """[{"key":"parameters","resource":{"resourceType":"Parameters","parameter":[{"name":"code","valueCoding":{"code":"user-initiated"}}]}}]""", id: "logout"));
        Assert.Equal("custom", (string?)(await subscriber.ReceiveAsync())["id"]);
        Assert.Equal("logout", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_GEN_07_sessions_are_isolated_from_each_other()
    {
        var (a, b) = (NewTopic(), NewTopic());
        await using var onA = await _hub.SubscribeAndConnectAsync(a, "Patient-open");
        await using var onB = await _hub.SubscribeAndConnectAsync(b, "Patient-open");
        await _hub.PublishAsync(PatientOpen(a, "only-in-a"));
        Assert.Equal("Patient-open", (string?)(await onA.ReceiveAsync())["event"]!["hub.event"]);
        await onB.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal("", (string?)(await _hub.GetContextAsync(b))["context.type"]);
        using var closeInB = await _hub.PublishJsonAsync(PatientClose(b, "only-in-a"));
        Assert.Equal(HttpStatusCode.Conflict, closeInB.StatusCode);
    }
}
