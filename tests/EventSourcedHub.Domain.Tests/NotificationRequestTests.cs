using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

public class NotificationRequestTests
{
    private static Rejection Invalid(string json, string? pathTopic = null)
    {
        var rejection = Rejected(NotificationRequest.Parse(json, pathTopic));
        Assert.Equal(RejectionKind.Invalid, rejection.Kind);
        return rejection;
    }

    /// <summary>A request body with the given `id`, `timestamp` and `event` members spliced in verbatim (null leaves one out).</summary>
    private static string Body(string? id = "\"evt-1\"", string? timestamp = "\"" + Timestamp + "\"", string? evt = null)
    {
        evt ??= $$$"""{"hub.topic":"{{{Topic}}}","hub.event":"Patient-open","context":[]}""";
        var members = new List<string>();
        if (timestamp is not null) members.Add($"\"timestamp\":{timestamp}");
        if (id is not null) members.Add($"\"id\":{id}");
        members.Add($"\"event\":{evt}");
        return "{" + string.Join(",", members) + "}";
    }

    /// <summary>An `event` object with the given members spliced in verbatim (null leaves one out).</summary>
    private static string Evt(string? topic = "\"" + Topic + "\"", string? name = "\"Patient-open\"", string? context = "[]", string extra = "")
    {
        var members = new List<string>();
        if (topic is not null) members.Add($"\"hub.topic\":{topic}");
        if (name is not null) members.Add($"\"hub.event\":{name}");
        if (extra.Length > 0) members.Add(extra);
        if (context is not null) members.Add($"\"context\":{context}");
        return "{" + string.Join(",", members) + "}";
    }

    [Fact]
    public void HUB_EVT_01_a_well_formed_event_is_parsed_and_keeps_its_original_text()
    {
        const string context = """[ {"key":"patient", "resource":{"resourceType":"Patient","id":"p1","weight":1.50}} ,{"key":"encounter","reference":{"reference":"Encounter/e1"}} ]""";
        var json = "  {\"timestamp\" : \"2025-03-01T14:58:45.988Z\", \"id\":\"0d4c\", \"event\":{\"hub.topic\":\"t-1\",\"hub.event\":\"patient-OPEN\",\"context\": " + context + " } }  ";

        var request = Request(json);

        Assert.Same(json, request.Json);
        Assert.Equal("0d4c", request.Id);
        Assert.Equal("2025-03-01T14:58:45.988Z", request.Timestamp);
        Assert.Equal("t-1", request.Topic);
        Assert.Equal("patient-OPEN", request.EventName.Value);
        Assert.Equal(context, request.ContextJson);
        Assert.Null(request.VersionId);
        Assert.Equal(
            [
                new ContextEntry("patient", """{"key":"patient", "resource":{"resourceType":"Patient","id":"p1","weight":1.50}}""", "Patient", "p1", null),
                new ContextEntry("encounter", """{"key":"encounter","reference":{"reference":"Encounter/e1"}}""", "Encounter", "e1", "Encounter/e1"),
            ],
            request.Context);
    }

    [Fact]
    public void HUB_EVT_04_context_entries_keep_their_raw_text_including_unicode_escapes_and_number_spelling()
    {
        const string entry = """{ "key" : "patient","resource":{"resourceType":"Patient","id":"p1","name":"Zoë","alias":"Zo\u00eb","n":1.50,"big":1E+2}}""";

        var request = Request(Event("Patient-open", "[" + entry + "]"));

        Assert.Equal(entry, Assert.Single(request.Context).Json);
        Assert.Equal("[" + entry + "]", request.ContextJson);
    }

    [Fact]
    public void HUB_GEN_02_a_home_open_with_an_empty_context_is_accepted()
    {
        var request = Request(Event("Home-open"));

        Assert.Empty(request.Context);
        Assert.Equal("[]", request.ContextJson);
    }

    // ---- HUB-EVT-02: body shape -----------------------------------------------------------------------------

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("not json")]
    [InlineData("{")]
    [InlineData("{\"id\":}")]
    [InlineData("{\"id\":\"a\",}")]
    [InlineData("{\"id\":\"a\"} // comment")]
    [InlineData("{'id':'a'}")]
    public void HUB_EVT_02_a_body_that_is_not_json_is_rejected(string json)
    {
        Assert.StartsWith("The body is not valid JSON", Invalid(json).Message);
    }

    [Fact]
    public void HUB_EVT_02_a_body_nested_deeper_than_64_levels_is_rejected_not_thrown()
    {
        var deep = new string('[', 70) + new string(']', 70);
        var json = Body(evt: Evt(context: $$$"""[{"key":"x","data":{{{deep}}}}]"""));

        Assert.StartsWith("The body is not valid JSON", Invalid(json).Message);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("[{\"id\":\"a\"}]")]
    [InlineData("\"text\"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("true")]
    public void HUB_EVT_02_a_body_that_is_not_a_json_object_is_rejected(string json)
    {
        Assert.Contains("must be a JSON object", Invalid(json).Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("\"\"")]
    [InlineData("\"  \"")]
    [InlineData("42")]
    [InlineData("null")]
    [InlineData("{}")]
    public void HUB_EVT_02_missing_empty_or_non_string_id_is_rejected(string? id)
    {
        Assert.Contains("`id`", Invalid(Body(id: id)).Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("\"\"")]
    [InlineData("\" \"")]
    [InlineData("1740841125")]
    [InlineData("null")]
    public void HUB_EVT_02_missing_empty_or_non_string_timestamp_is_rejected(string? timestamp)
    {
        Assert.Contains("`timestamp` is required", Invalid(Body(timestamp: timestamp)).Message);
    }

    [Theory]
    [InlineData("\"yesterday\"")]
    [InlineData("\"2025-13-01T00:00:00Z\"")]
    [InlineData("\"2025-02-30T10:00:00Z\"")]
    [InlineData("\"2025-03-01T25:00:00Z\"")]
    public void HUB_DIST_02_a_timestamp_that_is_not_a_date_time_is_rejected(string timestamp)
    {
        Assert.Contains("ISO 8601", Invalid(Body(timestamp: timestamp)).Message);
    }

    [Theory]
    [InlineData("\"03/01/2025 14:58:45\"")]
    [InlineData("\"Sat, 01 Mar 2025 14:58:45 GMT\"")]
    [InlineData("\"March 1, 2025\"")]
    [InlineData("\"2025-03-01\"")]
    [InlineData("\"2025-03-01T14:58\"")]
    [InlineData("\"2025-03-01T14:58:45\"")]
    [InlineData("\"2025-03-01 14:58:45Z\"")]
    [InlineData("\"2025-03-01T14:58:45.Z\"")]
    [InlineData("\" 2025-03-01T14:58:45Z\"")]
    public void HUB_DIST_02_a_timestamp_that_is_not_an_iso_8601_instant_with_seconds_and_zone_is_rejected(string timestamp)
    {
        Assert.Contains("ISO 8601", Invalid(Body(timestamp: timestamp)).Message);
    }

    [Theory]
    [InlineData("2025-03-01T14:58:45.988Z")]
    [InlineData("2025-03-01T15:58:45.988+01:00")]
    [InlineData("2025-03-01T14:58:45Z")]
    [InlineData("1999-12-31T23:59:59.9999999Z")]
    public void HUB_EVT_10_any_iso_timestamp_is_accepted_however_old_and_kept_as_written(string timestamp)
    {
        Assert.Equal(timestamp, Request(Body(timestamp: $"\"{timestamp}\"")).Timestamp);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("[]")]
    [InlineData("\"Patient-open\"")]
    [InlineData("null")]
    [InlineData("1")]
    public void HUB_EVT_02_missing_event_or_event_that_is_not_an_object_is_rejected(string? evt)
    {
        var json = evt is null
            ? $$$"""{"timestamp":"{{{Timestamp}}}","id":"evt-1"}"""
            : Body(evt: evt);

        Assert.Contains("`event` is required", Invalid(json).Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("\"\"")]
    [InlineData("\"  \"")]
    [InlineData("7")]
    [InlineData("null")]
    public void HUB_EVT_02_missing_or_empty_hub_topic_is_rejected(string? topic)
    {
        Assert.Contains("`event.hub.topic`", Invalid(Body(evt: Evt(topic: topic))).Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("\"\"")]
    [InlineData("\" \"")]
    [InlineData("[\"Patient-open\"]")]
    [InlineData("null")]
    public void HUB_EVT_02_missing_or_empty_hub_event_is_rejected(string? name)
    {
        Assert.Contains("`event.hub.event`", Invalid(Body(evt: Evt(name: name))).Message);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("*-open")]
    [InlineData("Patient-*")]
    public void HUB_GEN_06_a_wildcard_event_name_is_rejected(string name)
    {
        Assert.Contains("Wildcards", Invalid(Body(evt: Evt(name: $"\"{name}\""))).Message);
    }

    [Fact]
    public void HUB_GEN_03_the_event_name_is_kept_as_the_sender_wrote_it()
    {
        Assert.Equal("dIaGnOsTiCrEpOrT-oPeN", Request(Event("dIaGnOsTiCrEpOrT-oPeN")).EventName.Value);
    }

    [Fact]
    public void HUB_GEN_05_proprietary_event_names_without_a_dash_are_accepted()
    {
        Assert.Equal("org.example.foo", Request(Event("org.example.foo")).EventName.Value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("{}")]
    [InlineData("\"[]\"")]
    [InlineData("null")]
    [InlineData("{\"key\":\"patient\"}")]
    public void HUB_EVT_02_missing_context_or_context_that_is_not_an_array_is_rejected(string? context)
    {
        Assert.Contains("`event.context`", Invalid(Body(evt: Evt(context: context))).Message);
    }

    [Theory]
    [InlineData("[\"patient\"]")]
    [InlineData("[42]")]
    [InlineData("[null]")]
    [InlineData("[[]]")]
    [InlineData("[{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"p1\"}}]")]
    [InlineData("[{\"key\":\"\"}]")]
    [InlineData("[{\"key\":\"  \"}]")]
    [InlineData("[{\"key\":7}]")]
    [InlineData("[{\"key\":null}]")]
    [InlineData("[{\"key\":\"patient\"},{\"value\":1}]")]
    public void HUB_EVT_07_every_context_entry_must_be_an_object_with_a_non_empty_string_key(string context)
    {
        Assert.Contains("non-empty string `key`", Invalid(Body(evt: Evt(context: context))).Message);
    }

    [Fact]
    public void HUB_GEN_04_context_keys_are_case_sensitive()
    {
        var request = Request(Event("Patient-open", Context(Resource("Patient", "Patient", "p1"))));

        Assert.Equal("Patient", Assert.Single(request.Context).Key);
        Assert.Empty(request.Entries("patient"));
        Assert.Single(request.Entries("Patient"));
    }

    [Fact]
    public void HUB_EVT_07_entries_with_other_value_elements_are_kept_without_a_resource_identity()
    {
        const string entry = """{"key":"period","decimal":"10"}""";

        var parsed = Assert.Single(Request(Event("heartbeat", "[" + entry + "]")).Context);

        Assert.Equal(new ContextEntry("period", entry, null, null, null), parsed);
    }

    [Fact]
    public void HUB_EVT_05_only_resourceType_and_id_are_read_and_non_string_ones_are_ignored()
    {
        var request = Request(Event("Patient-open", """[{"key":"patient","resource":{"resourceType":7,"id":12}}]"""));

        var entry = Assert.Single(request.Context);
        Assert.Null(entry.ResourceType);
        Assert.Null(entry.ResourceId);
        Assert.Null(entry.Reference);
    }

    [Fact]
    public void HUB_EVT_07_a_resource_value_takes_precedence_over_a_reference_value()
    {
        var request = Request(Event("Patient-open",
            """[{"key":"patient","reference":{"reference":"Patient/ref"},"resource":{"resourceType":"Patient","id":"res"}}]"""));

        var entry = Assert.Single(request.Context);
        Assert.Equal(("Patient", "res", (string?)null), (entry.ResourceType, entry.ResourceId, entry.Reference));
    }

    [Fact]
    public void HUB_EVT_07_a_reference_is_read_when_resource_is_not_an_object()
    {
        var request = Request(Event("Patient-close",
            """[{"key":"patient","resource":[],"reference":{"reference":"https://fhir.example.com/Patient/p9/_history/3"}}]"""));

        var entry = Assert.Single(request.Context);
        Assert.Equal(("Patient", "p9", "https://fhir.example.com/Patient/p9/_history/3"), (entry.ResourceType, entry.ResourceId, entry.Reference));
    }

    [Fact]
    public void HUB_EVT_07_an_unparseable_reference_is_kept_without_type_or_id()
    {
        var entry = Assert.Single(Request(Event("Patient-close", Context(Reference("patient", "urn:uuid:1234")))).Context);

        Assert.Equal(("urn:uuid:1234", (string?)null, (string?)null), (entry.Reference, entry.ResourceType, entry.ResourceId));
    }

    [Fact]
    public void HUB_EVT_07_Entries_returns_every_entry_under_a_key_in_order()
    {
        var request = Request(Event("DiagnosticReport-select", Context(
            Reference("report", "DiagnosticReport/r1"), Reference("select", "Observation/o1"), Reference("select", "ImagingSelection/i1"))));

        Assert.Equal(["o1", "i1"], request.Entries("select").Select(e => e.ResourceId));
    }

    // ---- AMB-15: topic in the path --------------------------------------------------------------------------

    [Fact]
    public void AMB_15_a_path_topic_equal_to_the_body_topic_is_accepted()
    {
        Assert.Equal(Topic, Request(Event("Patient-open"), pathTopic: Topic).Topic);
    }

    [Theory]
    [InlineData("topic-2")]
    [InlineData("TOPIC-1")]
    [InlineData("")]
    [InlineData(" topic-1")]
    public void AMB_15_a_path_topic_that_differs_from_the_body_topic_is_rejected(string pathTopic)
    {
        var message = Invalid(Event("Patient-open"), pathTopic).Message;

        Assert.Contains($"('{pathTopic}')", message);
        Assert.Contains($"('{Topic}')", message);
    }

    // ---- AMB-03: versionId ----------------------------------------------------------------------------------

    [Theory]
    [InlineData("\"context.versionId\":\"ver-7\"")]
    [InlineData("\"versionId\":\"ver-7\"")]
    [InlineData("\"context.versionId\":\"ver-7\",\"versionId\":\"other\"")]
    [InlineData("\"versionId\":\"other\",\"context.versionId\":\"ver-7\"")]
    public void AMB_03_versionId_is_read_from_context_versionId_in_preference_to_versionId(string members)
    {
        Assert.Equal("ver-7", Request(Body(evt: Evt(extra: members))).VersionId);
    }

    [Theory]
    [InlineData("\"context.versionId\":7", "`event.context.versionId`")]
    [InlineData("\"context.versionId\":null", "`event.context.versionId`")]
    [InlineData("\"context.versionId\":{\"v\":\"1\"}", "`event.context.versionId`")]
    [InlineData("\"versionId\":7", "`event.versionId`")]
    [InlineData("\"versionId\":[\"v1\"]", "`event.versionId`")]
    [InlineData("\"context.versionId\":7,\"versionId\":\"ver-7\"", "`event.context.versionId`")]
    public void AMB_03_a_non_string_versionId_is_rejected(string members, string named)
    {
        Assert.Contains($"{named} must be a string", Invalid(Body(evt: Evt(extra: members))).Message);
    }

    [Fact]
    public void AMB_03_a_versionId_outside_the_event_object_is_not_read()
    {
        var json = $$$"""{"timestamp":"{{{Timestamp}}}","id":"evt-1","context.versionId":"root","event":{{{Evt()}}}}""";

        Assert.Null(Request(json).VersionId);
    }
}

public class StorableTextTests
{
    public static TheoryData<string, string> UnstorableEvents() => new()
    {
        { "NUL in id", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"a\u0000b","event":{"hub.topic":"t","hub.event":"Patient-open","context":[]}}""" },
        { "lone surrogate in id", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"\ud800","event":{"hub.topic":"t","hub.event":"Patient-open","context":[]}}""" },
        { "lone surrogate in timestamp", """{"timestamp":"\udc00","id":"e","event":{"hub.topic":"t","hub.event":"Patient-open","context":[]}}""" },
        { "lone surrogate in hub.event", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"t","hub.event":"\ud800-open","context":[]}}""" },
        { "NUL in hub.topic", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"t\u0000","hub.event":"Patient-open","context":[]}}""" },
        { "NUL deep in a resource", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"t","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"p","name":[{"text":"x\u0000"}]}}]}}""" },
        { "lone surrogate in a member name", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"t","hub.event":"Patient-open","context":[{"key":"patient","\ud800":1,"resource":{"resourceType":"Patient","id":"p"}}]}}""" },
        { "lone low surrogate after a pair", """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"t","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"\ud83d\ude00\ude00"}}]}}""" },
    };

    [Theory]
    [MemberData(nameof(UnstorableEvents))]
    public void Rulings_30_text_postgresql_cannot_store_anywhere_in_an_event_is_rejected(string why, string json)
    {
        var rejection = TestData.Rejected(NotificationRequest.Parse(json, null));
        Assert.Equal(RejectionKind.Invalid, rejection.Kind);
        Assert.True(rejection.Message.Contains("NUL character or a lone UTF-16 surrogate", StringComparison.Ordinal), $"{why}: {rejection.Message}");
    }

    [Fact]
    public void Rulings_30_a_surrogate_pair_and_an_escaped_backslash_u_are_storable()
    {
        var json = """{"timestamp":"2025-03-01T14:58:45.988Z","id":"\ud83d\ude00","event":{"hub.topic":"t","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"p","text":"\\u0000"}}]}}""";
        Assert.False(NotificationRequest.Parse(json, null).IsRejected);
    }

    [Fact]
    public void Rulings_30_a_form_field_with_a_lone_surrogate_is_rejected()
    {
        var rejection = TestData.Rejected(SubscriptionRequest.Parse([new("hub.mode", "subscribe"), new("subscriber.name", "a\ud800")]));
        Assert.Contains("`subscriber.name` contains a NUL character or a lone UTF-16 surrogate", rejection.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void escaping_keeps_pairs_and_writes_nul_and_lone_surrogates_as_escapes()
    {
        Assert.Equal("a\\u0000b\\ud800\ud83d\ude00", StorableText.Escape("a\0b\ud800\ud83d\ude00"));
        Assert.Equal("plain", StorableText.Escape("plain"));
        Assert.True(StorableText.IsStorable("\ud83d\ude00"));
        Assert.False(StorableText.IsStorable("\ude00"));
    }
}
