using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

public class TopicSessionTests
{
    private static readonly string[] PatientEvents = ["Patient-open", "Patient-close"];

    private static ContextOpened Opened(string type, string id, string version, string? prior = null, string context = "[]") =>
        new($"open-{type}-{id}-{version}", $"{type}-open", type, id, version, prior, context, $"notification {type}/{id} {version}");

    private static ContextClosed Closed(string type, string id) =>
        new($"close-{type}-{id}", $"{type}-close", type, id, $"close {type}/{id}");

    private static string[] Identities(TopicSession state) => state.Anchors.Select(a => a.Identity).ToArray();

    private static (string Type, string Id, string Version, string Context, string Notification)? Describe(OpenAnchor? anchor) =>
        anchor is null ? null : (anchor.AnchorType, anchor.AnchorId, anchor.VersionId, anchor.Context, anchor.OpenNotification);

    // ---- Start / Fold ---------------------------------------------------------------------------------------

    [Fact]
    public void Start_is_an_empty_session_for_the_topic()
    {
        var state = TopicSession.Start("t-7");

        Assert.Equal("t-7", state.Id);
        Assert.Equal(0, state.Version);
        Assert.Empty(state.Subscriptions);
        Assert.Empty(state.Anchors);
        Assert.Null(state.CurrentAnchor);
        Assert.Null(state.Current);
    }

    [Fact]
    public void Fold_counts_every_event_of_the_stream_into_the_version_even_those_that_change_nothing()
    {
        var state = TopicSession.Fold("t-7",
        [
            new Subscribed("ep-1", "Acme", PatientEvents, 60, T0),
            new NotificationRelayed("e1", "SyncError", "{}"),
            new SubscriptionRenewed("never-issued", "x", PatientEvents, 60, T0),
            "an unknown event type",
        ]);

        Assert.Equal("t-7", state.Id);
        Assert.Equal(4, state.Version);
        Assert.Equal(["ep-1"], state.Subscriptions.Keys);
    }

    [Fact]
    public void Evolve_leaves_the_given_state_untouched()
    {
        var before = Session(Opened("Patient", "p1", "v1"));

        var after = TopicSession.Evolve(before, Closed("Patient", "p1"));

        Assert.Equal(["Patient/p1"], Identities(before));
        Assert.Equal("Patient/p1", before.CurrentAnchor);
        Assert.Empty(after.Anchors);
    }

    // ---- subscriptions --------------------------------------------------------------------------------------

    [Fact]
    public void HUB_SUB_07_a_subscription_is_requested_until_its_socket_is_confirmed()
    {
        var state = Session(new Subscribed("ep-1", "Acme", PatientEvents, 3600, T0));

        var s = state.Subscriptions["ep-1"];
        Assert.Equal(("ep-1", "Acme", 3600, SubscriptionStatus.Requested, T0, (DateTimeOffset?)null),
            (s.EndpointId, s.SubscriberName, s.LeaseSeconds, s.Status, s.RequestedAt, s.LeaseExpiresAt));
        Assert.Same(PatientEvents, s.Events);
    }

    [Fact]
    public void HUB_WS_06_confirmation_makes_it_active_with_the_lease_counted_from_the_confirmation()
    {
        var state = Session(
            new Subscribed("ep-1", "Acme", PatientEvents, 3600, T0),
            new SubscriptionConfirmed("ep-1", T0.AddSeconds(5), T0.AddSeconds(3605)));

        var s = state.Subscriptions["ep-1"];
        Assert.Equal(SubscriptionStatus.Active, s.Status);
        Assert.Equal(T0.AddSeconds(3605), s.LeaseExpiresAt);
        Assert.Equal(T0, s.RequestedAt);
    }

    [Fact]
    public void HUB_SUB_11_renewal_of_an_active_subscription_replaces_events_and_restarts_the_lease_from_the_renewal()
    {
        string[] newEvents = ["DiagnosticReport-open"];
        var state = Session(
            new Subscribed("ep-1", "Acme", PatientEvents, 3600, T0),
            new SubscriptionConfirmed("ep-1", T0.AddSeconds(5), T0.AddSeconds(3605)),
            new SubscriptionRenewed("ep-1", "Acme 2", newEvents, 600, T0.AddSeconds(100)));

        var s = state.Subscriptions["ep-1"];
        Assert.Equal(("Acme 2", 600, SubscriptionStatus.Active, (DateTimeOffset?)T0.AddSeconds(700), T0),
            (s.SubscriberName, s.LeaseSeconds, s.Status, s.LeaseExpiresAt, s.RequestedAt));
        Assert.Same(newEvents, s.Events);
    }

    [Fact]
    public void HUB_SUB_11_renewal_of_a_requested_subscription_keeps_it_requested_without_a_lease_end()
    {
        string[] newEvents = ["SyncError"];
        var state = Session(
            new Subscribed("ep-1", "Acme", PatientEvents, 3600, T0),
            new SubscriptionRenewed("ep-1", "Acme", newEvents, 600, T0.AddSeconds(10)));

        var s = state.Subscriptions["ep-1"];
        Assert.Equal((SubscriptionStatus.Requested, (DateTimeOffset?)null, 600, T0), (s.Status, s.LeaseExpiresAt, s.LeaseSeconds, s.RequestedAt));
        Assert.Same(newEvents, s.Events);
    }

    [Fact]
    public void Renewal_or_confirmation_of_an_endpoint_that_is_not_live_changes_nothing()
    {
        var state = Session(
            new SubscriptionRenewed("ep-x", "Acme", PatientEvents, 600, T0),
            new SubscriptionConfirmed("ep-y", T0, T0.AddSeconds(60)));

        Assert.Empty(state.Subscriptions);
    }

    public static TheoryData<object> Endings => new()
    {
        new Unsubscribed("ep-1", T0),
        new LeaseExpired("ep-1", T0),
        new SubscriberDropped("ep-1", 1006, "abnormal", T0),
        new SubscriptionAbandoned("ep-1", T0),
    };

    [Theory]
    [MemberData(nameof(Endings))]
    public void HUB_WS_12_every_ending_removes_only_that_subscription(object ending)
    {
        var state = Session(
            new Subscribed("ep-1", "Acme", PatientEvents, 3600, T0),
            new Subscribed("ep-2", "Other", PatientEvents, 3600, T0),
            new SubscriptionConfirmed("ep-1", T0, T0.AddSeconds(3600)),
            ending);

        Assert.Equal(["ep-2"], state.Subscriptions.Keys);
    }

    [Fact]
    public void HUB_WS_05_a_subscription_receives_only_its_events_case_insensitively_and_only_once_active()
    {
        var requested = new Subscription("ep-1", "Acme", ["patient-OPEN"], 60, SubscriptionStatus.Requested, T0, null);
        var active = requested with { Status = SubscriptionStatus.Active, LeaseExpiresAt = T0.AddSeconds(60) };

        Assert.False(requested.Receives("Patient-open"));
        Assert.True(active.Receives("Patient-open"));
        Assert.True(active.Receives("PATIENT-OPEN"));
        Assert.False(active.Receives("Patient-close"));
        Assert.False(active.Receives("Patient-open "));
    }

    // ---- context: open, suspend, resume, close, Home-open ---------------------------------------------------

    [Fact]
    public void HUB_CTX_01_an_open_makes_its_anchor_the_current_context()
    {
        var state = Session(Opened("Patient", "p1", "v1", context: "[1]"));

        Assert.Equal("Patient/p1", state.CurrentAnchor);
        Assert.Equal(("Patient", "p1", "v1", "[1]", "notification Patient/p1 v1"), Describe(state.Current));
    }

    [Fact]
    public void HUB_CTX_02_a_second_open_suspends_the_first_which_keeps_its_context_and_version()
    {
        var state = Session(Opened("Patient", "p1", "v1", context: "[1]"), Opened("ImagingStudy", "s1", "v2", context: "[2]"));

        Assert.Equal(["Patient/p1", "ImagingStudy/s1"], Identities(state));
        Assert.Equal("ImagingStudy/s1", state.CurrentAnchor);
        Assert.Equal(("Patient", "p1", "v1", "[1]", "notification Patient/p1 v1"), Describe(state.FindAnchor("Patient/p1")));
    }

    [Fact]
    public void HUB_CTX_02_two_anchors_of_the_same_type_stay_open_together()
    {
        var state = Session(Opened("Patient", "p1", "v1"), Opened("Patient", "p2", "v2"));

        Assert.Equal(["Patient/p1", "Patient/p2"], Identities(state));
        Assert.Equal("Patient/p2", state.CurrentAnchor);
    }

    [Fact]
    public void HUB_CTX_03_a_re_open_resumes_the_anchor_moves_it_to_the_end_and_replaces_its_context()
    {
        var state = Session(
            Opened("Patient", "p1", "v1", context: "[\"first\"]"),
            Opened("ImagingStudy", "s1", "v2"),
            Opened("Patient", "p1", "v3", prior: "v1", context: "[\"second\"]"));

        Assert.Equal(["ImagingStudy/s1", "Patient/p1"], Identities(state));
        Assert.Equal("Patient/p1", state.CurrentAnchor);
        Assert.Equal(("Patient", "p1", "v3", "[\"second\"]", "notification Patient/p1 v3"), Describe(state.Current));
    }

    [Fact]
    public void HUB_CTX_04_closing_the_current_context_leaves_it_empty_with_no_fall_back()
    {
        var state = Session(Opened("Patient", "p1", "v1"), Opened("ImagingStudy", "s1", "v2"), Closed("ImagingStudy", "s1"));

        Assert.Null(state.CurrentAnchor);
        Assert.Null(state.Current);
        Assert.Equal(["Patient/p1"], Identities(state));
    }

    [Fact]
    public void HUB_CTX_04_closing_a_suspended_anchor_keeps_the_current_context()
    {
        var state = Session(Opened("Patient", "p1", "v1"), Opened("ImagingStudy", "s1", "v2"), Closed("Patient", "p1"));

        Assert.Equal("ImagingStudy/s1", state.CurrentAnchor);
        Assert.Equal(["ImagingStudy/s1"], Identities(state));
    }

    [Fact]
    public void HUB_CTX_04_a_close_of_an_anchor_that_is_not_open_changes_nothing()
    {
        var state = Session(Opened("Patient", "p1", "v1"), Closed("Patient", "p2"));

        Assert.Equal("Patient/p1", state.CurrentAnchor);
        Assert.Equal(["Patient/p1"], Identities(state));
    }

    [Fact]
    public void HUB_CTX_11_home_open_empties_the_current_context_but_keeps_every_anchor_open()
    {
        var state = Session(Opened("Patient", "p1", "v1"), Opened("ImagingStudy", "s1", "v2"), new HomeOpened("h1", "Home-open", "{}"));

        Assert.Null(state.CurrentAnchor);
        Assert.Equal(["Patient/p1", "ImagingStudy/s1"], Identities(state));
        Assert.Equal("v2", state.FindAnchor("ImagingStudy/s1")!.VersionId);
    }

    [Fact]
    public void AMB_16_a_re_open_after_home_open_resumes_the_anchor()
    {
        var state = Session(Opened("Patient", "p1", "v1"), Opened("ImagingStudy", "s1", "v2"), new HomeOpened("h1", "Home-open", "{}"),
            Opened("Patient", "p1", "v3", prior: "v1"));

        Assert.Equal("Patient/p1", state.CurrentAnchor);
        Assert.Equal(["ImagingStudy/s1", "Patient/p1"], Identities(state));
    }

    [Fact]
    public void HUB_GEN_05_relayed_notifications_change_no_context()
    {
        var before = Session(Opened("Patient", "p1", "v1"));

        var after = TopicSession.Evolve(before, new NotificationRelayed("e2", "DiagnosticReport-select", "{}"));

        Assert.Same(before, after);
    }

    [Fact]
    public void HUB_CTX_01_FindAnchor_by_type_and_id_uses_the_canonical_type_spelling()
    {
        var state = Session(Opened("DiagnosticReport", "r1", "v1"));

        Assert.NotNull(state.FindAnchor("diagnosticreport", "r1"));
        Assert.NotNull(state.FindAnchor("DIAGNOSTICREPORT", "r1"));
        Assert.Null(state.FindAnchor("DiagnosticReport", "R1"));
        Assert.Null(state.FindAnchor("diagnosticreport/r1"));
    }

    [Fact]
    public void HUB_CTX_05_content_events_for_an_anchor_that_is_not_open_change_nothing()
    {
        var before = Session(Opened("DiagnosticReport", "r1", "v1"));

        var after = TopicSession.Evolve(before, new ContentUpdated("u1", "DiagnosticReport-update", "DiagnosticReport", "r2", "v2", "v1",
            [new ContentChange(ContentChange.Put, "Observation", "o1", "{}")], "{}"));
        after = TopicSession.Evolve(after, new ContentSelected("s1", "DiagnosticReport-select", "DiagnosticReport", "r2", ["Observation/o1"], "v3", "v2", false, "{}"));

        Assert.Equal(("v1", 0, 0), (after.Current!.VersionId, after.Current.Content.Count, after.Current.Selection.Length));
    }

    [Fact]
    public void HUB_CTX_03_a_re_open_keeps_the_content_and_the_selection_of_the_anchor()
    {
        var state = Session(
            Opened("DiagnosticReport", "r1", "v1"),
            new ContentUpdated("u1", "DiagnosticReport-update", "DiagnosticReport", "r1", "v2", "v1", [new ContentChange(ContentChange.Put, "Observation", "o1", "{\"id\":\"o1\"}")], "{}"),
            new ContentSelected("s1", "DiagnosticReport-select", "DiagnosticReport", "r1", ["Observation/o1"], "v2", null, false, "{}"),
            Opened("Patient", "p1", "v3"),
            Opened("DiagnosticReport", "r1", "v4", prior: "v2"));

        Assert.Equal(new SharedResource("Observation", "o1", "{\"id\":\"o1\"}"), Assert.Single(state.Current!.Content));
        Assert.Equal(["Observation/o1"], state.Current.Selection);
        Assert.Equal("v4", state.Current.VersionId);
    }

    [Fact]
    public void HUB_CTX_04_a_close_then_open_starts_with_empty_content_and_selection()
    {
        var state = Session(
            Opened("DiagnosticReport", "r1", "v1"),
            new ContentUpdated("u1", "DiagnosticReport-update", "DiagnosticReport", "r1", "v2", "v1", [new ContentChange(ContentChange.Put, "Observation", "o1", "{}")], "{}"),
            new ContentSelected("s1", "DiagnosticReport-select", "DiagnosticReport", "r1", ["Observation/o1"], "v2", null, false, "{}"),
            Closed("DiagnosticReport", "r1"),
            Opened("DiagnosticReport", "r1", "v3"));

        Assert.Empty(state.Current!.Content);
        Assert.Empty(state.Current.Selection);
    }
}
