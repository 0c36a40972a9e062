using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

public class CurrentContextTests
{
    private const string ContentEntry = """{"key":"content","resource":{"resourceType":"Bundle","type":"collection"}}""";
    private const string EmptyShape = """{"context.type":"","context":[]}""";

    private static Subscription Active(params string[] events) =>
        new("ep-1", "Acme", events, 3600, SubscriptionStatus.Active, T0, T0.AddHours(1));

    // ---- Render ---------------------------------------------------------------------------------------------

    [Fact]
    public void HUB_GCC_03_a_session_with_nothing_open_renders_exactly_the_empty_shape()
    {
        Assert.Equal(EmptyShape, CurrentContext.Render(KnownTopic()));
        Assert.Equal(EmptyShape, CurrentContext.Render(TopicSession.Start("never-seen")));
    }

    [Fact]
    public void HUB_GCC_02_the_current_anchor_renders_its_entries_byte_for_byte_plus_one_content_bundle()
    {
        const string patient = """{ "key" : "patient", "resource": {"resourceType":"Patient","id":"p1","name":[{"given":["Zoë"]}],"weight":1.50,"alias":"Zo\u00eb"} }""";
        const string encounter = """{"key":"encounter","reference":{ "reference" : "Encounter/e1" }}""";
        var state = StateAfter(KnownTopic(), Event("Patient-open", "[\n  " + patient + " ,\n  " + encounter + "\n]"), VersionCounter());

        Assert.Equal(
            "{\"context.type\":\"Patient\",\"context.versionId\":\"v1\",\"context\":[" + patient + "," + encounter + "," + ContentEntry + "]}",
            CurrentContext.Render(state));
    }

    [Fact]
    public void HUB_GCC_04_an_open_with_an_empty_context_still_gets_the_content_entry()
    {
        var state = Session(new ContextOpened("e1", "X-open", "X", "x1", "ver-1", null, "[]", "{}"));

        Assert.Equal("{\"context.type\":\"X\",\"context.versionId\":\"ver-1\",\"context\":[" + ContentEntry + "]}", CurrentContext.Render(state));
    }

    [Fact]
    public void HUB_GCC_02_a_suspended_anchor_is_not_rendered_only_the_current_one()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), versions);
        state = StateAfter(state, StudyOpen("s1"), versions);

        Assert.Equal(
            "{\"context.type\":\"ImagingStudy\",\"context.versionId\":\"v2\",\"context\":[" + Resource("study", "ImagingStudy", "s1") + "," + ContentEntry + "]}",
            CurrentContext.Render(state));
    }

    [Fact]
    public void AMB_23_a_re_open_renders_the_latest_open_context_and_version()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), versions);
        state = StateAfter(state, StudyOpen("s1"), versions);
        var second = Resource("patient", "Patient", "p1").Replace("}}", ",\"active\":true}}");
        state = StateAfter(state, Event("Patient-open", "[" + second + "]"), versions);

        Assert.Equal(
            "{\"context.type\":\"Patient\",\"context.versionId\":\"v3\",\"context\":[" + second + "," + ContentEntry + "]}",
            CurrentContext.Render(state));
    }

    [Fact]
    public void HUB_CTX_04_after_closing_the_current_anchor_the_empty_shape_is_rendered_despite_other_open_anchors()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), versions);
        state = StateAfter(state, StudyOpen("s1"), versions);
        state = StateAfter(state, Event("ImagingStudy-close", Context(Reference("study", "ImagingStudy/s1"))), versions);

        Assert.Equal(EmptyShape, CurrentContext.Render(state));
    }

    [Fact]
    public void AMB_16_after_home_open_the_empty_shape_is_rendered()
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());
        state = StateAfter(state, Event("Home-open"), VersionCounter());

        Assert.Equal(EmptyShape, CurrentContext.Render(state));
    }

    // ---- OpensFor -------------------------------------------------------------------------------------------

    [Fact]
    public void HUB_WS_04_nothing_is_replayed_when_nothing_is_open()
    {
        Assert.Empty(CurrentContext.OpensFor(KnownTopic(), Active("Patient-open", "ImagingStudy-open")));
    }

    [Fact]
    public void HUB_WS_04_per_anchor_type_the_latest_open_still_open_is_replayed_oldest_first_with_its_original_id_and_timestamp()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), Event("Patient-open", Context(Resource("patient", "Patient", "p1")), id: "o1", timestamp: "2025-03-01T10:00:00Z"), versions);
        state = StateAfter(state, Event("ImagingStudy-open", Context(Resource("study", "ImagingStudy", "s1")), id: "o2", timestamp: "2025-03-01T10:01:00Z"), versions);
        state = StateAfter(state, Event("Patient-open", Context(Resource("patient", "Patient", "p2")), id: "o3", timestamp: "2025-03-01T10:02:00Z"), versions);

        var replayed = CurrentContext.OpensFor(state, Active("Patient-open", "ImagingStudy-open")).ToArray();

        Assert.Equal(
            [
                Event("ImagingStudy-open", Context(Resource("study", "ImagingStudy", "s1")), id: "o2", timestamp: "2025-03-01T10:01:00Z", eventExtras: Versions("v2")),
                Event("Patient-open", Context(Resource("patient", "Patient", "p2")), id: "o3", timestamp: "2025-03-01T10:02:00Z", eventExtras: Versions("v3")),
            ],
            replayed);
    }

    [Fact]
    public void HUB_WS_04_a_re_open_is_replayed_at_its_new_position_with_the_current_version_and_no_prior_version()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1", id: "o1"), versions);
        state = StateAfter(state, StudyOpen("s1", id: "o2"), versions);
        state = StateAfter(state, PatientOpen("p1", id: "o3"), versions);
        Assert.Contains("\"context.priorVersionId\":\"v1\"", state.Current!.OpenNotification);

        var replayed = CurrentContext.OpensFor(state, Active("Patient-open", "ImagingStudy-open")).ToArray();

        Assert.Equal(
            [
                Event("ImagingStudy-open", Context(Resource("study", "ImagingStudy", "s1")), id: "o2", eventExtras: Versions("v2")),
                Event("Patient-open", Context(Resource("patient", "Patient", "p1")), id: "o3", eventExtras: Versions("v3")),
            ],
            replayed);
    }

    [Fact]
    public void HUB_WS_04_the_replay_carries_the_anchors_current_version_not_the_one_in_the_stored_notification()
    {
        var stored = Event("Patient-open", "[]", id: "o1", eventExtras: Versions("old", "older"));
        var state = Session(new ContextOpened("o1", "Patient-open", "Patient", "p1", "current", "old", "[]", stored));

        Assert.Equal([Event("Patient-open", "[]", id: "o1", eventExtras: Versions("current"))], CurrentContext.OpensFor(state, Active("Patient-open")));
    }

    [Fact]
    public void HUB_WS_05_only_opens_the_subscriber_subscribed_to_are_replayed_matched_case_insensitively()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1", id: "o1"), versions);
        state = StateAfter(state, StudyOpen("s1", id: "o2"), versions);

        var replayed = CurrentContext.OpensFor(state, Active("PATIENT-OPEN", "ImagingStudy-close", "SyncError")).ToArray();

        Assert.Equal([Event("Patient-open", Context(Resource("patient", "Patient", "p1")), id: "o1", eventExtras: Versions("v1"))], replayed);
    }

    [Fact]
    public void HUB_WS_04_the_open_is_matched_by_the_name_the_sender_wrote()
    {
        var state = StateAfter(KnownTopic(), Event("patient-OPEN", Context(Resource("patient", "Patient", "p1")), id: "o1"), VersionCounter());

        var replayed = Assert.Single(CurrentContext.OpensFor(state, Active("Patient-open")));

        Assert.Equal(Event("patient-OPEN", Context(Resource("patient", "Patient", "p1")), id: "o1", eventExtras: Versions("v1")), replayed);
    }

    [Fact]
    public void HUB_WS_04_a_closed_anchor_is_not_replayed_but_an_older_open_of_its_type_still_is()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1", id: "o1"), versions);
        state = StateAfter(state, PatientOpen("p2", id: "o2"), versions);
        state = StateAfter(state, PatientClose("p2"), versions);

        var replayed = Assert.Single(CurrentContext.OpensFor(state, Active("Patient-open")));

        Assert.Equal(Event("Patient-open", Context(Resource("patient", "Patient", "p1")), id: "o1", eventExtras: Versions("v1")), replayed);
    }

    [Fact]
    public void AMB_14_open_anchors_are_replayed_even_when_home_open_emptied_the_current_context()
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1", id: "o1"), VersionCounter());
        state = StateAfter(state, Event("Home-open"), VersionCounter());

        var replayed = Assert.Single(CurrentContext.OpensFor(state, Active("Patient-open", "Home-open")));

        Assert.Equal(Event("Patient-open", Context(Resource("patient", "Patient", "p1")), id: "o1", eventExtras: Versions("v1")), replayed);
    }

    [Fact]
    public void HUB_WS_04_replayed_opens_keep_their_context_byte_for_byte()
    {
        const string context = """[ {"key":"patient","resource":{"resourceType":"Patient","id":"p1","name":"Zoë","weight":1.50}} ]""";
        var state = StateAfter(KnownTopic(), Event("Patient-open", context, id: "o1"), VersionCounter());

        var replayed = Assert.Single(CurrentContext.OpensFor(state, Active("Patient-open")));

        Assert.Equal(Event("Patient-open", context, id: "o1", eventExtras: Versions("v1")), replayed);
    }
}
