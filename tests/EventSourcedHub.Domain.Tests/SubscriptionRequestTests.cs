using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

public class SubscriptionRequestTests
{
    private const string EndpointUrl = "wss://hub.example.com/api/hub/ws/6b0f1c0a9e4d4b7f8f0c2d1e5a7b3c9d";
    private const string EndpointId = "6b0f1c0a9e4d4b7f8f0c2d1e5a7b3c9d";

    private static SubscribeRequest Subscribe(List<KeyValuePair<string, string>> form) =>
        Assert.IsType<SubscribeRequest>(Accepted(SubscriptionRequest.Parse(form)));

    private static UnsubscribeRequest Unsubscribe(List<KeyValuePair<string, string>> form) =>
        Assert.IsType<UnsubscribeRequest>(Accepted(SubscriptionRequest.Parse(form)));

    private static Rejection Invalid(List<KeyValuePair<string, string>> form)
    {
        var rejection = Rejected(SubscriptionRequest.Parse(form));
        Assert.Equal(RejectionKind.Invalid, rejection.Kind);
        return rejection;
    }

    // ---- the happy path -------------------------------------------------------------------------------------

    [Fact]
    public void HUB_SUB_01_a_complete_subscribe_form_yields_every_field()
    {
        var request = Subscribe(SubscribeForm(
            ("hub.events", "DiagnosticReport-open,DiagnosticReport-close,SyncError"),
            ("hub.lease_seconds", "3600"),
            ("subscriber.name", "Acme Reporting")));

        Assert.Equal(Topic, request.Topic);
        Assert.Equal(["DiagnosticReport-open", "DiagnosticReport-close", "SyncError"], request.Events);
        Assert.Equal("Acme Reporting", request.SubscriberName);
        Assert.Equal(3600, request.LeaseSeconds);
        Assert.Null(request.EndpointId);
    }

    [Fact]
    public void HUB_SUB_01_the_order_of_the_fields_does_not_matter()
    {
        var request = Subscribe(Form(
            ("hub.events", "Patient-open"), ("hub.topic", "t-9"), ("hub.mode", "subscribe"), ("hub.channel.type", "websocket")));

        Assert.Equal("t-9", request.Topic);
        Assert.Equal(["Patient-open"], request.Events);
    }

    // ---- HUB-SUB-01: each parameter at most once ------------------------------------------------------------

    [Theory]
    [InlineData("hub.topic", Topic)]
    [InlineData("hub.mode", "subscribe")]
    [InlineData("hub.events", "Patient-open")]
    [InlineData("hub.channel.type", "websocket")]
    [InlineData("subscriber.name", "Acme")]
    [InlineData("hub.lease_seconds", "60")]
    [InlineData("unknown.param", "x")]
    public void HUB_SUB_01_a_parameter_that_appears_twice_is_rejected_even_with_the_same_value(string key, string value)
    {
        var form = SubscribeForm((key, value));
        form.Add(new(key, value));

        var rejection = Invalid(form);

        Assert.Contains($"`{key}`", rejection.Message);
        Assert.Contains("more than once", rejection.Message);
    }

    [Fact]
    public void HUB_SUB_01_a_field_without_a_name_is_rejected()
    {
        var form = SubscribeForm(("", "x"));

        Assert.Contains("without a name", Invalid(form).Message);
    }

    [Fact]
    public void HUB_SUB_01_duplicates_are_reported_before_any_other_problem()
    {
        var form = Form(("hub.mode", "bogus"), ("hub.topic", ""), ("hub.topic", ""));

        Assert.Contains("more than once", Invalid(form).Message);
    }

    [Fact]
    public void HUB_SUB_01_parameter_names_are_case_sensitive_so_Hub_Mode_is_not_hub_mode()
    {
        var form = SubscribeForm(("hub.mode", null), ("Hub.Mode", "subscribe"));

        Assert.Contains("`hub.mode`", Invalid(form).Message);
    }

    // ---- HUB-SUB-03 (REC): mode -----------------------------------------------------------------------------

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Subscribe")]
    [InlineData("SUBSCRIBE")]
    [InlineData(" subscribe")]
    [InlineData("publish")]
    [InlineData("denied")]
    public void HUB_SUB_03_hub_mode_other_than_exactly_subscribe_or_unsubscribe_is_rejected(string? mode)
    {
        Assert.Contains("`hub.mode`", Invalid(SubscribeForm(("hub.mode", mode))).Message);
    }

    // ---- HUB-SUB-02: channel type ---------------------------------------------------------------------------

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("rest-hook")]
    [InlineData("webhook")]
    [InlineData("websockets")]
    [InlineData("wss")]
    public void HUB_SUB_02_missing_or_non_websocket_channel_type_is_rejected(string? channelType)
    {
        Assert.Contains("`hub.channel.type`", Invalid(SubscribeForm(("hub.channel.type", channelType))).Message);
    }

    [Theory]
    [InlineData("websocket")]
    [InlineData("WebSocket")]
    [InlineData("WEBSOCKET")]
    [InlineData(" websocket ")]
    public void HUB_SUB_02_channel_type_websocket_is_matched_case_insensitively_and_trimmed(string channelType)
    {
        Assert.Equal(Topic, Subscribe(SubscribeForm(("hub.channel.type", channelType))).Topic);
    }

    [Fact]
    public void HUB_UNS_02_unsubscribe_also_requires_channel_type_websocket()
    {
        Assert.Contains("`hub.channel.type`", Invalid(UnsubscribeForm(("hub.channel.type", "webhook"))).Message);
    }

    // ---- HUB-SUB-03: topic ----------------------------------------------------------------------------------

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void HUB_SUB_03_missing_or_empty_topic_is_rejected(string? topic)
    {
        Assert.Contains("`hub.topic`", Invalid(SubscribeForm(("hub.topic", topic))).Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(" ")]
    public void HUB_UNS_02_unsubscribe_with_missing_or_empty_topic_is_rejected(string? topic)
    {
        Assert.Contains("`hub.topic`", Invalid(UnsubscribeForm(("hub.topic", topic))).Message);
    }

    [Fact]
    public void HUB_SUB_03_the_topic_is_kept_exactly_as_given_so_it_matches_event_requests()
    {
        Assert.Equal("  Topic-A b ", Subscribe(SubscribeForm(("hub.topic", "  Topic-A b "))).Topic);
    }

    [Theory]
    [InlineData("hub.topic", "t\u0000")]
    [InlineData("hub.topic", "t\tx")]
    [InlineData("hub.events", "Patient-open\r\nX: 1")]
    [InlineData("subscriber.name", "a\u001bb")]
    public void control_characters_in_any_field_are_rejected_because_the_store_cannot_keep_them(string field, string value)
    {
        Assert.Equal(RejectionKind.Invalid, Rejected(SubscriptionRequest.Parse(SubscribeForm((field, value)))).Kind);
    }

    // ---- HUB-SUB-03 / HUB-SUB-04 / HUB-GEN-06: events -------------------------------------------------------

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(",")]
    [InlineData(" , ,, ")]
    public void HUB_SUB_03_subscribe_with_missing_or_empty_events_is_rejected(string? events)
    {
        Assert.Contains("`hub.events`", Invalid(SubscribeForm(("hub.events", events))).Message);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("*-open")]
    [InlineData("Patient-open,*")]
    [InlineData("Patient-*")]
    public void HUB_GEN_06_wildcards_in_hub_events_are_rejected(string events)
    {
        Assert.Contains("Wildcard", Invalid(SubscribeForm(("hub.events", events))).Message);
    }

    [Fact]
    public void HUB_SUB_04_hub_events_is_a_set_matched_case_insensitively()
    {
        var request = Subscribe(SubscribeForm(("hub.events", " Patient-open, patient-OPEN ,,Patient-close,PATIENT-CLOSE,syncerror,SyncError ")));

        Assert.Equal(["Patient-open", "Patient-close", "syncerror"], request.Events);
    }

    [Fact]
    public void HUB_SUB_06_custom_and_unknown_event_names_are_granted_as_asked()
    {
        var request = Subscribe(SubscribeForm(("hub.events", "org.example.foo,heartbeat,UserLogout")));

        Assert.Equal(["org.example.foo", "heartbeat", "UserLogout"], request.Events);
    }

    [Theory]
    [InlineData(null, new string[0])]
    [InlineData("", new string[0])]
    [InlineData("a", new[] { "a" })]
    [InlineData("a,,A, b ,a", new[] { "a", "b" })]
    public void HUB_SUB_04_ParseEvents_trims_drops_empty_items_and_keeps_the_first_spelling(string? list, string[] expected)
    {
        Assert.Equal(expected, SubscriptionRequest.ParseEvents(list));
    }

    // ---- rulings 1 / HUB-SUB-03: subscriber.name ------------------------------------------------------------

    [Fact]
    public void Rulings_1_absent_subscriber_name_is_accepted_and_left_for_the_hub_to_default()
    {
        Assert.Null(Subscribe(SubscribeForm(("subscriber.name", null))).SubscriberName);
        Assert.Equal("anonymous", SubscriptionRequest.DefaultSubscriberName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\t")]
    public void HUB_SUB_03_present_but_empty_subscriber_name_is_rejected(string name)
    {
        Assert.Contains("`subscriber.name`", Invalid(SubscribeForm(("subscriber.name", name))).Message);
    }

    [Fact]
    public void HUB_SUB_03_subscriber_name_is_trimmed()
    {
        Assert.Equal("Acme Viewer", Subscribe(SubscribeForm(("subscriber.name", "  Acme Viewer "))).SubscriberName);
    }

    // ---- HUB-SUB-03 (REC) / HUB-SUB-10: lease ---------------------------------------------------------------

    [Theory]
    [InlineData("0")]
    [InlineData("00")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("1,5")]
    [InlineData("+5")]
    [InlineData("1e3")]
    [InlineData("0x10")]
    [InlineData("1 000")]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("\u0663")] // ARABIC-INDIC DIGIT THREE: a digit, but not an ASCII one
    public void HUB_SUB_03_lease_that_is_not_a_positive_whole_number_is_rejected(string lease)
    {
        Assert.Contains("`hub.lease_seconds`", Invalid(SubscribeForm(("hub.lease_seconds", lease))).Message);
    }

    [Theory]
    [InlineData("1", 1)]
    [InlineData("3600", 3600)]
    [InlineData(" 60 ", 60)]
    [InlineData("007", 7)]
    [InlineData("2147483647", int.MaxValue)]
    public void HUB_SUB_10_a_positive_whole_lease_is_taken_as_requested(string lease, int expected)
    {
        Assert.Equal(expected, Subscribe(SubscribeForm(("hub.lease_seconds", lease))).LeaseSeconds);
    }

    [Theory]
    [InlineData("2147483648")]
    [InlineData("99999999999999999999")]
    [InlineData("999999999999999999999999999999999999999999999999")] // beyond decimal range too
    public void HUB_SUB_10_a_huge_lease_is_clamped_to_int_max_for_the_policy_to_cap(string lease)
    {
        Assert.Equal(int.MaxValue, Subscribe(SubscribeForm(("hub.lease_seconds", lease))).LeaseSeconds);
    }

    [Fact]
    public void Compatibility_hub_lease_is_read_as_hub_lease_seconds()
    {
        Assert.Equal(999, Subscribe(SubscribeForm(("hub.lease", "999"))).LeaseSeconds);
    }

    [Fact]
    public void Compatibility_hub_lease_and_hub_lease_seconds_may_both_be_sent_when_they_agree()
    {
        Assert.Equal(60, Subscribe(SubscribeForm(("hub.lease", "60"), ("hub.lease_seconds", "60"))).LeaseSeconds);
    }

    [Fact]
    public void Compatibility_hub_lease_and_hub_lease_seconds_that_differ_are_rejected()
    {
        Assert.Equal("`hub.lease_seconds` and `hub.lease` ask for different leases; send one of them.",
            Invalid(SubscribeForm(("hub.lease", "60"), ("hub.lease_seconds", "61"))).Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("soon")]
    public void Compatibility_hub_lease_that_is_not_a_positive_whole_number_is_rejected_under_its_own_name(string lease)
    {
        Assert.Equal("`hub.lease` must be a positive whole number of seconds.", Invalid(SubscribeForm(("hub.lease", lease))).Message);
    }

    [Fact]
    public void Compatibility_hub_callback_and_hub_secret_are_ignored_on_a_websocket_subscription()
    {
        var request = Subscribe(SubscribeForm(("hub.callback", "https://viewer.example.org/fhircastCallback"), ("hub.secret", "s3cret")));

        Assert.Equal(new SubscribeRequest(Topic, request.Events, request.SubscriberName, null, null), request);
    }

    [Fact]
    public void Compatibility_an_unsubscribe_with_hub_callback_is_read_like_one_without()
    {
        var form = Form(("hub.mode", "unsubscribe"), ("hub.channel.type", "websocket"), ("hub.topic", Topic),
            ("hub.channel.endpoint", EndpointUrl), ("hub.callback", "https://viewer.example.org/fhircastCallback"));

        Assert.Equal(new UnsubscribeRequest(Topic, EndpointId), Unsubscribe(form));
    }

    [Fact]
    public void HUB_SUB_10_absent_lease_is_left_for_the_hub_default()
    {
        Assert.Null(Subscribe(SubscribeForm()).LeaseSeconds);
    }

    // ---- rulings 4 / HUB-SUB-11: endpoint as full URL or bare id, under either name -------------------------

    [Theory]
    [InlineData("hub.channel.endpoint", EndpointUrl)]
    [InlineData("hub.channel.endpoint", EndpointId)]
    [InlineData("endpoint", EndpointUrl)]
    [InlineData("endpoint", EndpointId)]
    [InlineData("hub.channel.endpoint", "ws://localhost:5000/api/hub/ws/" + EndpointId + "/")]
    [InlineData("hub.channel.endpoint", EndpointUrl + "?token=abc#frag")]
    [InlineData("hub.channel.endpoint", "  " + EndpointUrl + "  ")]
    public void Rulings_4_renewal_names_its_endpoint_as_full_url_or_bare_id_under_either_field(string field, string endpoint)
    {
        var form = SubscribeForm(("hub.channel.endpoint", null), (field, endpoint));

        Assert.Equal(EndpointId, Subscribe(form).EndpointId);
    }

    [Theory]
    [InlineData("hub.channel.endpoint", EndpointUrl)]
    [InlineData("hub.channel.endpoint", EndpointId)]
    [InlineData("endpoint", EndpointUrl)]
    [InlineData("endpoint", EndpointId)]
    public void HUB_UNS_01_unsubscribe_names_its_endpoint_as_full_url_or_bare_id_under_either_field(string field, string endpoint)
    {
        var request = Unsubscribe(UnsubscribeForm(("hub.channel.endpoint", null), (field, endpoint)));

        Assert.Equal(new UnsubscribeRequest(Topic, EndpointId), request);
    }

    [Fact]
    public void Rulings_4_both_endpoint_fields_naming_the_same_endpoint_are_accepted()
    {
        var form = UnsubscribeForm(("hub.channel.endpoint", EndpointUrl), ("endpoint", EndpointId));

        Assert.Equal(EndpointId, Unsubscribe(form).EndpointId);
    }

    [Fact]
    public void Rulings_4_both_endpoint_fields_naming_different_endpoints_are_rejected()
    {
        var form = UnsubscribeForm(("hub.channel.endpoint", EndpointUrl), ("endpoint", "other-id"));

        Assert.Contains("different endpoints", Invalid(form).Message);
    }

    [Fact]
    public void Rulings_4_an_empty_endpoint_field_is_ignored_in_favour_of_the_other()
    {
        var form = UnsubscribeForm(("hub.channel.endpoint", ""), ("endpoint", EndpointUrl));

        Assert.Equal(EndpointId, Unsubscribe(form).EndpointId);
    }

    [Theory]
    [InlineData("abc def")]
    [InlineData("wss://hub.example.com/api/hub/ws/abc%20def")]
    [InlineData("ab.c")]
    [InlineData("wss://hub.example.com/api/hub/ws/ab+c")]
    public void HUB_UNS_02_an_endpoint_that_the_hub_cannot_have_issued_is_rejected(string endpoint)
    {
        Assert.Contains("not an endpoint this hub issued", Invalid(UnsubscribeForm(("hub.channel.endpoint", endpoint))).Message);
    }

    [Fact]
    public void HUB_SUB_11_an_endpoint_that_the_hub_cannot_have_issued_is_rejected_on_renewal_too()
    {
        Assert.Contains("not an endpoint this hub issued", Invalid(SubscribeForm(("hub.channel.endpoint", "a b"))).Message);
    }

    [Fact]
    public void HUB_UNS_02_endpoint_ids_are_at_most_128_characters()
    {
        var longest = new string('a', 128);
        Assert.Equal(longest, Unsubscribe(UnsubscribeForm(("hub.channel.endpoint", longest))).EndpointId);

        Invalid(UnsubscribeForm(("hub.channel.endpoint", longest + "a")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void HUB_UNS_02_unsubscribe_without_an_endpoint_is_rejected(string? endpoint)
    {
        Assert.Contains("required to unsubscribe", Invalid(UnsubscribeForm(("hub.channel.endpoint", endpoint))).Message);
    }

    [Fact]
    public void HUB_UNS_01_unsubscribe_needs_no_events_and_yields_topic_and_endpoint()
    {
        var request = Unsubscribe(UnsubscribeForm(("hub.topic", "t-2")));

        Assert.Equal(new UnsubscribeRequest("t-2", "ep-1"), request);
    }

    [Fact]
    public void HUB_SUB_12_subscribe_without_endpoint_asks_for_a_new_one()
    {
        Assert.Null(Subscribe(SubscribeForm(("hub.channel.endpoint", ""), ("endpoint", "  "))).EndpointId);
    }

    [Fact]
    public void EndpointIdOf_takes_the_last_path_segment_ignoring_query_fragment_and_trailing_slashes()
    {
        Assert.Equal("abc", SubscriptionRequest.EndpointIdOf("wss://h/api/hub/ws/abc//?x=1#y"));
        Assert.Equal("abc", SubscriptionRequest.EndpointIdOf("abc"));
        Assert.Equal("abc", SubscriptionRequest.EndpointIdOf("abc#x"));
    }
}
