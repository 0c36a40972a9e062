using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Subscriptions;

public sealed class SubscriptionTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    [Fact]
    public async Task HUB_SUB_01_a_form_post_subscribes_and_a_repeated_parameter_is_400_text()
    {
        var topic = NewTopic();
        using var ok = await _hub.SubscribeRawAsync(topic, "Patient-open");
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);

        using var repeated = await _hub.PostFormAsync(("hub.channel.type", "websocket"), ("hub.mode", "subscribe"), ("hub.topic", topic),
            ("hub.events", "Patient-open"), ("hub.events", "Patient-close"));
        var message = await HubClient.AssertPlainTextError(repeated, HttpStatusCode.BadRequest);
        Assert.Contains("hub.events", message);
    }

    [Fact]
    public async Task HUB_SUB_01_a_multipart_form_is_415_text()
    {
        using var content = new MultipartFormDataContent { { new StringContent("subscribe"), "hub.mode" } };
        using var response = await _hub.Http.PostAsync(HubClient.HubPath, content);
        await HubClient.AssertPlainTextError(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("webhook")]
    [InlineData("")]
    public async Task HUB_SUB_02_channel_type_other_than_websocket_is_400_text(string? channelType)
    {
        var fields = new List<(string, string)> { ("hub.mode", "subscribe"), ("hub.topic", NewTopic()), ("hub.events", "Patient-open") };
        if (channelType is not null) fields.Add(("hub.channel.type", channelType));
        using var response = await _hub.PostFormAsync(fields.ToArray());
        Assert.Contains("hub.channel.type", await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest));
    }

    [Theory]
    [InlineData("hub.topic", "", "hub.topic")]
    [InlineData("hub.topic", "   ", "hub.topic")]
    [InlineData("hub.events", "", "hub.events")]
    [InlineData("hub.events", " , ,", "hub.events")]
    [InlineData("subscriber.name", "", "subscriber.name")]
    [InlineData("hub.mode", "subscribed", "hub.mode")]
    [InlineData("hub.lease_seconds", "0", "hub.lease_seconds")]
    [InlineData("hub.lease_seconds", "-5", "hub.lease_seconds")]
    [InlineData("hub.lease_seconds", "1.5", "hub.lease_seconds")]
    [InlineData("hub.lease_seconds", "soon", "hub.lease_seconds")]
    public async Task HUB_SUB_03_invalid_fields_are_400_text_naming_the_field(string field, string value, string named)
    {
        var fields = new Dictionary<string, string>
        {
            ["hub.channel.type"] = "websocket", ["hub.mode"] = "subscribe", ["hub.topic"] = NewTopic(),
            ["hub.events"] = "Patient-open", ["subscriber.name"] = "app",
        };
        fields[field] = value;
        using var response = await _hub.PostFormAsync(fields.Select(f => (f.Key, f.Value)).ToArray());
        Assert.Contains(named, await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task HUB_SUB_03_a_rejected_subscription_does_not_create_the_topic()
    {
        var topic = NewTopic();
        using var rejected = await _hub.SubscribeRawAsync(topic, "Patient-open", name: "");
        Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        using var context = await _hub.GetContextRawAsync(topic);
        Assert.Equal(HttpStatusCode.NotFound, context.StatusCode);
    }

    [Fact]
    public async Task HUB_SUB_04_hub_events_is_a_set_matched_case_insensitively()
    {
        var topic = NewTopic();
        var endpoint = await _hub.SubscribeAsync(topic, " Patient-open , PATIENT-OPEN,patient-close,, ");
        await using var subscriber = await TestSubscriber.ConnectAsync(endpoint);
        var confirmation = await subscriber.ReceiveAsync();
        Assert.Equal("Patient-open,patient-close", (string?)confirmation["hub.events"]);

        await _hub.PublishAsync(PatientOpen(topic, "p1").Replace("Patient-open", "PATIENT-OPEN"));
        Assert.Equal("PATIENT-OPEN", (string?)(await subscriber.ReceiveAsync())["event"]!["hub.event"]);
    }

    [Fact]
    public async Task HUB_SUB_05_subscribing_to_an_unknown_topic_creates_the_session()
    {
        var topic = NewTopic();
        using var before = await _hub.GetContextRawAsync(topic);
        Assert.Equal(HttpStatusCode.NotFound, before.StatusCode);
        await _hub.SubscribeAsync(topic, "Patient-open");
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("", (string?)context["context.type"]);
    }

    [Fact]
    public async Task HUB_SUB_06_every_requested_event_is_granted_including_custom_ones()
    {
        var topic = NewTopic();
        await using var subscriber = await TestSubscriber.ConnectAsync(await _hub.SubscribeAsync(topic, "DiagnosticReport-open,org.example.foo,SyncError"));
        var confirmation = await subscriber.ReceiveAsync();
        Assert.Equal("DiagnosticReport-open,org.example.foo,SyncError", (string?)confirmation["hub.events"]);
    }

    [Fact]
    public async Task HUB_SUB_07_success_is_202_json_with_an_absolute_websocket_endpoint()
    {
        using var response = await _hub.SubscribeRawAsync(NewTopic(), "Patient-open");
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var endpoint = new Uri(await HubClient.EndpointOf(response));
        Assert.Equal("ws", endpoint.Scheme);
        Assert.Equal(_hub.Http.BaseAddress!.Authority, endpoint.Authority);
        Assert.StartsWith("/api/hub/ws/", endpoint.AbsolutePath);
    }

    [Fact]
    public async Task HUB_GEN_01_behind_a_tls_terminating_proxy_on_this_machine_the_endpoint_is_wss()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, HubClient.HubPath)
        {
            Content = new FormUrlEncodedContent([new("hub.channel.type", "websocket"), new("hub.mode", "subscribe"), new("hub.topic", NewTopic()), new("hub.events", "Patient-open")]),
        };
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Forwarded-Host", "hub.example.org");
        using var response = await _hub.Http.SendAsync(request);
        Assert.StartsWith("wss://hub.example.org/api/hub/ws/", await HubClient.EndpointOf(response));
    }

    [Fact]
    public async Task HUB_SUB_08_endpoints_are_long_random_and_not_derived_from_the_topic()
    {
        var topic = NewTopic();
        var ids = new HashSet<string>();
        for (var i = 0; i < 20; i++)
        {
            var id = new Uri(await _hub.SubscribeAsync(topic, "Patient-open")).Segments[^1];
            Assert.True(id.Length >= 32, id);
            Assert.DoesNotContain(topic, id);
            Assert.True(ids.Add(id));
        }
    }

    [Fact]
    public async Task HUB_SUB_09_refusals_carry_a_plain_text_developer_message()
    {
        using var response = await _hub.PostFormAsync(("hub.mode", "subscribe"));
        var message = await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest);
        Assert.DoesNotContain("<", message);
    }

    [Fact]
    public async Task HUB_SUB_10_the_hub_applies_a_default_lease_and_caps_requested_ones()
    {
        var topic = NewTopic();
        await using var byDefault = await TestSubscriber.ConnectAsync(await _hub.SubscribeAsync(topic, "Patient-open"));
        Assert.Equal(7200, (int)(await byDefault.ReceiveAsync())["hub.lease_seconds"]!);

        await using var capped = await TestSubscriber.ConnectAsync(await _hub.SubscribeAsync(topic, "Patient-open", lease: 10_000_000));
        Assert.Equal(86400, (int)(await capped.ReceiveAsync())["hub.lease_seconds"]!);

        await using var asked = await TestSubscriber.ConnectAsync(await _hub.SubscribeAsync(topic, "Patient-open", lease: 300));
        Assert.Equal(300, (int)(await asked.ReceiveAsync())["hub.lease_seconds"]!);
    }

    [Fact]
    public async Task HUB_SUB_11_resubscribing_with_the_endpoint_replaces_events_and_sends_a_fresh_confirmation()
    {
        var topic = NewTopic();
        var endpoint = await _hub.SubscribeAsync(topic, "Patient-open");
        await using var subscriber = await TestSubscriber.ConnectAsync(endpoint);
        await subscriber.ReceiveAsync();

        using var renewal = await _hub.SubscribeRawAsync(topic, "Patient-close", lease: 600, endpoint: endpoint);
        Assert.Equal(HttpStatusCode.Accepted, renewal.StatusCode);
        Assert.Equal(endpoint, await HubClient.EndpointOf(renewal));
        var confirmation = await subscriber.ReceiveAsync();
        Assert.Equal("subscribe", (string?)confirmation["hub.mode"]);
        Assert.Equal("Patient-close", (string?)confirmation["hub.events"]);
        Assert.Equal(600, (int)confirmation["hub.lease_seconds"]!);

        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.PublishAsync(PatientClose(topic, "p1", id: "the-close"));
        Assert.Equal("the-close", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_SUB_11_resubscribing_with_an_endpoint_of_another_topic_or_an_unknown_one_is_400_text()
    {
        var endpoint = await _hub.SubscribeAsync(NewTopic(), "Patient-open");
        using var otherTopic = await _hub.SubscribeRawAsync(NewTopic(), "Patient-open", endpoint: endpoint);
        await HubClient.AssertPlainTextError(otherTopic, HttpStatusCode.BadRequest);
        using var unknown = await _hub.SubscribeRawAsync(NewTopic(), "Patient-open", endpoint: "0123456789abcdef0123456789abcdef");
        await HubClient.AssertPlainTextError(unknown, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task HUB_SUB_12_a_subscribe_without_endpoint_always_creates_a_new_subscription()
    {
        var topic = NewTopic();
        var first = await _hub.SubscribeAsync(topic, "Patient-open", "same app");
        var second = await _hub.SubscribeAsync(topic, "Patient-open", "same app");
        Assert.NotEqual(first, second);
        await using var a = await TestSubscriber.ConnectAsync(first);
        await using var b = await TestSubscriber.ConnectAsync(second);
        await a.ReceiveAsync();
        await b.ReceiveAsync();
        await _hub.PublishAsync(PatientOpen(topic, "p"));
        await a.ReceiveAsync();
        await b.ReceiveAsync();
    }

    [Fact]
    public async Task HUB_SUB_13_subscription_responses_are_application_json()
    {
        var topic = NewTopic();
        using var subscribe = await _hub.SubscribeRawAsync(topic, "Patient-open");
        Assert.Equal("application/json", subscribe.Content.Headers.ContentType?.MediaType);
        using var unsubscribe = await _hub.UnsubscribeAsync(topic, await HubClient.EndpointOf(subscribe));
        Assert.Equal("application/json", unsubscribe.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task HUB_UNS_01_unsubscribe_is_a_form_post_and_ends_the_subscription()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        using var response = await _hub.UnsubscribeAsync(topic, subscriber.Endpoint);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var frames = await subscriber.ReceiveUntilClosedAsync();
        Assert.Equal("denied", (string?)Assert.Single(frames)["hub.mode"]);
    }

    [Theory]
    [InlineData("hub.channel.type", "webhook")]
    [InlineData("hub.topic", "")]
    [InlineData("hub.channel.endpoint", "")]
    [InlineData("hub.channel.endpoint", "ws://127.0.0.1/api/hub/ws/ffffffffffffffffffffffffffffffff")]
    [InlineData("hub.channel.endpoint", "not an endpoint!")]
    public async Task HUB_UNS_02_invalid_unsubscribe_is_400_text_and_changes_nothing(string field, string value)
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        var fields = new Dictionary<string, string>
        {
            ["hub.channel.type"] = "websocket", ["hub.mode"] = "unsubscribe", ["hub.topic"] = topic, ["hub.channel.endpoint"] = subscriber.Endpoint,
        };
        fields[field] = value;
        using var response = await _hub.PostFormAsync(fields.Select(f => (f.Key, f.Value)).ToArray());
        await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest);

        await _hub.PublishAsync(PatientOpen(topic, "still-subscribed", id: "after"));
        Assert.Equal("after", (string?)(await subscriber.ReceiveAsync())["id"]);
    }

    [Fact]
    public async Task HUB_UNS_02_an_endpoint_of_another_topic_is_400_text()
    {
        var endpoint = await _hub.SubscribeAsync(NewTopic(), "Patient-open");
        var otherTopic = NewTopic();
        await _hub.SubscribeAsync(otherTopic, "Patient-open");
        using var response = await _hub.UnsubscribeAsync(otherTopic, endpoint);
        await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("hub.channel.endpoint", true)]
    [InlineData("endpoint", true)]
    [InlineData("endpoint", false)]
    public async Task HUB_UNS_03_accepted_unsubscribe_is_202_with_the_endpoint_given_as_url_or_id_under_either_name(string field, bool fullUrl)
    {
        var topic = NewTopic();
        var endpoint = await _hub.SubscribeAsync(topic, "Patient-open");
        var given = fullUrl ? endpoint : new Uri(endpoint).Segments[^1];
        using var response = await _hub.UnsubscribeAsync(topic, given, field);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(endpoint, await HubClient.EndpointOf(response));
    }

    [Fact]
    public async Task HUB_UNS_04_unsubscribe_sends_a_denial_with_the_subscribed_events_then_closes_1000_and_the_endpoint_is_dead()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,Patient-close");
        await _hub.UnsubscribeAsync(topic, subscriber.Endpoint);

        var denial = Assert.Single(await subscriber.ReceiveUntilClosedAsync());
        Assert.Equal("denied", (string?)denial["hub.mode"]);
        Assert.Equal(topic, (string?)denial["hub.topic"]);
        Assert.Equal("Patient-open,Patient-close", (string?)denial["hub.events"]);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, subscriber.CloseStatus);

        using var again = await _hub.UnsubscribeAsync(topic, subscriber.Endpoint);
        await HubClient.AssertPlainTextError(again, HttpStatusCode.BadRequest);
        using var renew = await _hub.SubscribeRawAsync(topic, "Patient-open", endpoint: subscriber.Endpoint);
        await HubClient.AssertPlainTextError(renew, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task a_form_with_a_malformed_body_is_400_text()
    {
        using var content = new StringContent("hub.mode=%ZZsubscribe&&&==", Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
        using var response = await _hub.Http.PostAsync(HubClient.HubPath, content);
        await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest);
    }
}
