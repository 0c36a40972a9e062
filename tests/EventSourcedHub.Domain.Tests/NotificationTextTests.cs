using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

public class NotificationTextTests
{
    // Unusual but valid formatting: spaces, line breaks, a number spelled 1.50, an exponent, non-ASCII and an escaped non-ASCII character.
    private const string Context = """
        [ { "key": "patient", "resource": { "resourceType": "Patient", "id": "p1",
              "name": [ { "given": [ "Zoë" ], "family": "Mu\u00f1oz" } ], "weight": 1.50, "score": 1E+2, "r5Only": { "x": [ ] } } } ]
        """;

    private const string Posted = "{\n  \"timestamp\": \"2025-03-01T14:58:45.988Z\" ,\n  \"id\" : \"0d4c9998\",\n  \"event\": {\n"
        + "    \"hub.topic\": \"topic-1\",\n    \"hub.event\": \"Patient-open\",\n    \"context\": " + Context + "\n  }\n}\n";

    [Fact]
    public void HUB_EVT_04_values_are_forwarded_byte_for_byte_and_only_version_keys_are_added()
    {
        var stamped = NotificationText.Stamp(Posted, "v1", null);

        Assert.Equal(
            "{\"timestamp\":\"2025-03-01T14:58:45.988Z\",\"id\":\"0d4c9998\",\"event\":{\"hub.topic\":\"topic-1\",\"hub.event\":\"Patient-open\","
            + "\"context.versionId\":\"v1\",\"context\":" + Context + "}}",
            stamped);
        Assert.Contains("\"Zoë\"", stamped);
        Assert.Contains("Mu\\u00f1oz", stamped);
        Assert.Contains("\"weight\": 1.50", stamped);
        Assert.Contains("1E+2", stamped);
    }

    [Fact]
    public void HUB_CS_05_the_prior_version_follows_the_new_version_just_before_the_context()
    {
        var stamped = NotificationText.Stamp(Event("Patient-open", "[]"), "v2", "v1");

        Assert.Equal(Event("Patient-open", "[]", eventExtras: Versions("v2", "v1")), stamped);
    }

    [Fact]
    public void HUB_EVT_04_sender_supplied_version_keys_are_replaced_not_duplicated()
    {
        var posted = $$$"""{"timestamp":"{{{Timestamp}}}","id":"evt-1","event":{"context.priorVersionId":"old-prior","hub.topic":"{{{Topic}}}","context.versionId":"old","hub.event":"Patient-open","context":[]}}""";

        var stamped = NotificationText.Stamp(posted, "v9", "v8");

        Assert.Equal(Event("Patient-open", "[]", eventExtras: Versions("v9", "v8")), stamped);
    }

    [Fact]
    public void HUB_EVT_04_without_versions_the_hub_managed_keys_are_only_removed()
    {
        var posted = Event("Patient-open", "[]", eventExtras: Versions("old", "older"));

        Assert.Equal(Event("Patient-open", "[]"), NotificationText.Stamp(posted, null, null));
    }

    [Fact]
    public void AMB_03_the_plain_versionId_input_key_is_not_hub_managed_and_is_forwarded_unchanged()
    {
        var posted = Event("Patient-open", "[]", eventExtras: ",\"versionId\":\"sender\"");

        Assert.Equal(Event("Patient-open", "[]", eventExtras: ",\"versionId\":\"sender\"" + Versions("v1")), NotificationText.Stamp(posted, "v1", null));
    }

    [Fact]
    public void HUB_EVT_04_an_event_without_context_gets_the_version_keys_at_its_end()
    {
        var posted = $$$"""{"id":"evt-1","event":{"hub.topic":"{{{Topic}}}","hub.event":"X-open"}}""";

        Assert.Equal(
            $$$"""{"id":"evt-1","event":{"hub.topic":"{{{Topic}}}","hub.event":"X-open","context.versionId":"v1","context.priorVersionId":"v0"}}""",
            NotificationText.Stamp(posted, "v1", "v0"));
    }

    [Fact]
    public void HUB_EVT_04_members_after_the_context_and_unknown_members_keep_their_order_and_text()
    {
        var posted = """{"extra" : { "a" : [1, 2.0] },"event":{"context":[ ],"hub.topic":"t","custom":{ "k":"ë" }},"id":"i","timestamp":"2025-03-01T14:58:45.9880000+00:00"}""";

        Assert.Equal(
            """{"extra":{ "a" : [1, 2.0] },"event":{"context.versionId":"v1","context":[ ],"hub.topic":"t","custom":{ "k":"ë" }},"id":"i","timestamp":"2025-03-01T14:58:45.9880000+00:00"}""",
            NotificationText.Stamp(posted, "v1", null));
    }

    [Fact]
    public void HUB_EVT_04_non_ascii_member_names_are_kept_unescaped()
    {
        var posted = """{"naïve":"Zoë","event":{"hub.topic":"t","ünïcode":1,"context":[]}}""";

        Assert.Equal(
            """{"naïve":"Zoë","event":{"hub.topic":"t","ünïcode":1,"context.versionId":"v1","context":[]}}""",
            NotificationText.Stamp(posted, "v1", null));
    }

    [Fact]
    public void HUB_EVT_04_an_event_member_that_is_not_an_object_is_copied_unchanged()
    {
        const string posted = """{"id":"i","event":[ "x" ]}""";

        Assert.Equal("""{"id":"i","event":[ "x" ]}""", NotificationText.Stamp(posted, "v1", "v0"));
    }

    [Fact]
    public void HUB_CS_02_the_key_names_are_the_event_level_context_version_keys()
    {
        Assert.Equal("context.versionId", NotificationText.VersionIdKey);
        Assert.Equal("context.priorVersionId", NotificationText.PriorVersionIdKey);
    }

    [Fact]
    public void HUB_SEL_03_a_replacement_context_is_written_in_place_of_the_received_array()
    {
        var posted = Event("DiagnosticReport-select", """[ {"key":"a"}, {"key":"b"} ]""", eventExtras: ",\"after\":1");

        Assert.Equal(
            Event("DiagnosticReport-select", """[{"key":"a"},{ "key" : "c" }]""", eventExtras: ",\"after\":1" + Versions("v1")),
            NotificationText.Stamp(posted, "v1", null, ["{\"key\":\"a\"}", "{ \"key\" : \"c\" }"]));
    }

    [Fact]
    public void HUB_SEL_03_an_empty_replacement_context_is_an_empty_array()
    {
        Assert.Equal(Event("X-select", "[]", eventExtras: Versions("v1")), NotificationText.Stamp(Event("X-select", "[{\"key\":\"a\"}]"), "v1", null, []));
    }

    [Fact]
    public void HUB_DIST_02_a_hub_originated_notification_wraps_raw_entries_in_the_standard_shape()
    {
        const string entry = """{ "key":"patient","resource":{"resourceType":"Patient","id":"p1","name":"Zoë","weight":1.50} }""";

        Assert.Equal(
            $$$"""{"timestamp":"2025-03-01T14:58:45.988Z","id":"n-1","event":{"hub.topic":"t-1","hub.event":"Patient-open","context":[{{{entry}}},{"key":"b"}]}}""",
            NotificationText.Compose("2025-03-01T14:58:45.988Z", "n-1", "t-1", "Patient-open", [entry, """{"key":"b"}"""]));
    }

    [Fact]
    public void HUB_DIST_02_a_hub_originated_notification_may_have_an_empty_context()
    {
        Assert.Equal(
            """{"timestamp":"ts","id":"n-1","event":{"hub.topic":"t","hub.event":"Home-open","context":[]}}""",
            NotificationText.Compose("ts", "n-1", "t", "Home-open", []));
    }
}
