using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

public class TopicDecisionsTests
{
    private static readonly SubscriptionPolicy Policy = SubscriptionPolicy.Default;
    private static readonly string[] Events = ["Patient-open", "Patient-close"];

    private static SubscribeRequest NewSubscription(string? name = "Acme", int? lease = null, string? endpoint = null) =>
        new(Topic, Events, name, lease, endpoint);

    /// <summary>A session with `ep-req` requested at T0 (lease 3600) and `ep-act` requested at T0+1s, confirmed at T0+10s (lease 600).</summary>
    private static TopicSession TwoSubscriptions() => Session(
        new Subscribed("ep-req", "Requested One", Events, 3600, T0),
        new Subscribed("ep-act", "Active One", Events, 600, T0.AddSeconds(1)),
        new SubscriptionConfirmed("ep-act", T0.AddSeconds(10), T0.AddSeconds(610)));

    private static object Single(Decision<object[]> decision) => Assert.Single(Accepted(decision));

    /// <summary>The one event of a fully accepted event request (not a partial 206).</summary>
    private static object Single(Decision<Published> decision)
    {
        var published = Accepted(decision);
        Assert.False(published.Partial);
        return Assert.Single(published.Events);
    }

    private static Rejection Rejected<T>(Decision<T> decision, RejectionKind kind)
    {
        var rejection = TestData.Rejected(decision);
        Assert.Equal(kind, rejection.Kind);
        return rejection;
    }

    private static Decision<Published> Publish(TopicSession? state, string json, Func<string>? versions = null, ContentPolicy? policy = null) =>
        TopicDecisions.Publish(state, Request(json), versions ?? VersionCounter(), policy ?? TestData.Policy);

    // ---- Subscribe ------------------------------------------------------------------------------------------

    [Fact]
    public void HUB_SUB_05_the_first_subscribe_of_an_unknown_topic_is_accepted_with_the_new_endpoint()
    {
        var request = NewSubscription(lease: 3600);

        var subscribed = Assert.IsType<Subscribed>(Single(TopicDecisions.Subscribe(null, request, Policy, T0, "new-ep")));

        Assert.Equal(new Subscribed("new-ep", "Acme", request.Events, 3600, T0), subscribed);
    }

    [Fact]
    public void HUB_SUB_12_a_subscribe_without_endpoint_always_makes_a_new_subscription()
    {
        var subscribed = Assert.IsType<Subscribed>(Single(TopicDecisions.Subscribe(TwoSubscriptions(), NewSubscription(), Policy, T0, "ep-3")));

        Assert.Equal("ep-3", subscribed.EndpointId);
    }

    [Fact]
    public void Rulings_1_an_absent_subscriber_name_becomes_anonymous()
    {
        var subscribed = Assert.IsType<Subscribed>(Single(TopicDecisions.Subscribe(null, NewSubscription(name: null), Policy, T0, "ep")));

        Assert.Equal("anonymous", subscribed.SubscriberName);
    }

    [Theory]
    [InlineData(null, 7200)]
    [InlineData(1, 1)]
    [InlineData(86400, 86400)]
    [InlineData(86401, 86400)]
    [InlineData(int.MaxValue, 86400)]
    public void HUB_SUB_10_the_lease_is_the_request_or_the_default_capped_by_the_maximum(int? requested, int granted)
    {
        var subscribed = Assert.IsType<Subscribed>(Single(TopicDecisions.Subscribe(null, NewSubscription(lease: requested), Policy, T0, "ep")));

        Assert.Equal(granted, subscribed.LeaseSeconds);
    }

    [Fact]
    public void HUB_SUB_10_the_policy_maximum_also_caps_the_default()
    {
        var policy = new SubscriptionPolicy(DefaultLeaseSeconds: 7200, MaxLeaseSeconds: 300, UnconnectedSubscriptionSeconds: 60);

        Assert.Equal(300, policy.LeaseFor(null));
        Assert.Equal(299, policy.LeaseFor(299));
        Assert.Equal(300, policy.LeaseFor(301));
    }

    [Fact]
    public void Rulings_15_the_default_policy_has_the_documented_defaults()
    {
        Assert.Equal(new SubscriptionPolicy(7200, 86400, 60), SubscriptionPolicy.Default);
    }

    [Theory]
    [InlineData("ep-req")]
    [InlineData("ep-act")]
    public void HUB_SUB_11_a_subscribe_naming_a_live_endpoint_renews_it_with_the_new_events_and_lease(string endpoint)
    {
        var request = new SubscribeRequest(Topic, ["SyncError"], "Acme 2", 900, endpoint);

        var renewed = Assert.IsType<SubscriptionRenewed>(Single(TopicDecisions.Subscribe(TwoSubscriptions(), request, Policy, T0.AddMinutes(1), "unused")));

        Assert.Equal(new SubscriptionRenewed(endpoint, "Acme 2", request.Events, 900, T0.AddMinutes(1)), renewed);
    }

    [Fact]
    public void HUB_SUB_11_a_renewal_without_a_subscriber_name_keeps_the_name_it_had()
    {
        var state = TwoSubscriptions();
        var request = new SubscribeRequest(Topic, ["SyncError"], null, null, "ep-act");

        var renewed = Assert.IsType<SubscriptionRenewed>(Single(TopicDecisions.Subscribe(state, request, Policy, T0, "unused")));

        Assert.Equal(state.Subscriptions["ep-act"].SubscriberName, renewed.SubscriberName);
        Assert.NotEqual(SubscriptionRequest.DefaultSubscriberName, renewed.SubscriberName);
    }

    [Fact]
    public void HUB_SUB_11_a_renewal_is_also_capped_by_the_maximum_lease()
    {
        var request = NewSubscription(lease: int.MaxValue, endpoint: "ep-act");

        var renewed = Assert.IsType<SubscriptionRenewed>(Single(TopicDecisions.Subscribe(TwoSubscriptions(), request, Policy, T0, "unused")));

        Assert.Equal(86400, renewed.LeaseSeconds);
    }

    [Fact]
    public void HUB_SUB_11_renewal_then_fold_replaces_the_events_of_the_subscription()
    {
        var state = TwoSubscriptions();
        var request = new SubscribeRequest(Topic, ["DiagnosticReport-open"], null, null, "ep-act");

        state = Apply(state, Accepted(TopicDecisions.Subscribe(state, request, Policy, T0.AddSeconds(100), "unused")));

        Assert.Equal(["DiagnosticReport-open"], state.Subscriptions["ep-act"].Events);
        Assert.Equal(T0.AddSeconds(100 + 7200), state.Subscriptions["ep-act"].LeaseExpiresAt);
    }

    [Fact]
    public void HUB_SUB_11_renewing_an_endpoint_that_is_not_live_on_this_topic_is_rejected()
    {
        var unknown = NewSubscription(endpoint: "ep-other");

        Assert.Contains("not a live subscription", Rejected(TopicDecisions.Subscribe(TwoSubscriptions(), unknown, Policy, T0, "x"), RejectionKind.Invalid).Message);
        Rejected(TopicDecisions.Subscribe(null, unknown, Policy, T0, "x"), RejectionKind.Invalid);
    }

    [Fact]
    public void HUB_WS_13_renewing_an_endpoint_that_has_ended_is_rejected()
    {
        var state = Apply(TwoSubscriptions(), [new Unsubscribed("ep-act", T0.AddSeconds(20))]);

        Rejected(TopicDecisions.Subscribe(state, NewSubscription(endpoint: "ep-act"), Policy, T0.AddSeconds(30), "x"), RejectionKind.Invalid);
    }

    // ---- Unsubscribe ----------------------------------------------------------------------------------------

    [Theory]
    [InlineData("ep-req")]
    [InlineData("ep-act")]
    public void HUB_UNS_03_unsubscribing_a_live_endpoint_is_accepted(string endpoint)
    {
        var decided = Single(TopicDecisions.Unsubscribe(TwoSubscriptions(), new UnsubscribeRequest(Topic, endpoint), T0.AddSeconds(30)));

        Assert.Equal(new Unsubscribed(endpoint, T0.AddSeconds(30)), decided);
    }

    [Fact]
    public void HUB_UNS_02_unsubscribing_an_endpoint_that_is_not_a_live_subscription_of_the_topic_is_rejected()
    {
        var request = new UnsubscribeRequest(Topic, "ep-other");

        Assert.Contains("HUB-UNS-02", Rejected(TopicDecisions.Unsubscribe(TwoSubscriptions(), request, T0), RejectionKind.Invalid).Message);
        Rejected(TopicDecisions.Unsubscribe(null, request, T0), RejectionKind.Invalid);
    }

    // ---- Confirm --------------------------------------------------------------------------------------------

    [Fact]
    public void HUB_WS_02_connecting_a_requested_subscription_confirms_it_with_the_lease_counted_from_now()
    {
        var now = T0.AddSeconds(7);

        var decided = Single(TopicDecisions.Confirm(TwoSubscriptions(), "ep-req", now));

        Assert.Equal(new SubscriptionConfirmed("ep-req", now, now.AddSeconds(3600)), decided);
    }

    [Fact]
    public void HUB_WS_08_a_second_socket_on_an_active_endpoint_is_a_conflict()
    {
        Assert.Contains("already", Rejected(TopicDecisions.Confirm(TwoSubscriptions(), "ep-act", T0), RejectionKind.Conflict).Message);
    }

    [Fact]
    public void HUB_WS_01_connecting_an_endpoint_that_is_not_live_is_not_found()
    {
        Rejected(TopicDecisions.Confirm(TwoSubscriptions(), "ep-other", T0), RejectionKind.NotFound);
        Rejected(TopicDecisions.Confirm(null, "ep-req", T0), RejectionKind.NotFound);
    }

    // ---- Drop -----------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("ep-act", 1006)]
    [InlineData("ep-act", 1000)]
    [InlineData("ep-req", null)]
    public void HUB_WS_12_a_closed_socket_drops_its_live_subscription(string endpoint, int? code)
    {
        var decided = TopicDecisions.Drop(TwoSubscriptions(), endpoint, code, "gone", T0.AddSeconds(50));

        Assert.Equal([new SubscriberDropped(endpoint, code, "gone", T0.AddSeconds(50))], decided);
    }

    [Fact]
    public void HUB_WS_12_dropping_a_subscription_that_already_ended_records_nothing()
    {
        Assert.Empty(TopicDecisions.Drop(TwoSubscriptions(), "ep-other", 1006, "gone", T0));
        Assert.Empty(TopicDecisions.Drop(null, "ep-act", 1006, "gone", T0));
    }

    // ---- Expire ---------------------------------------------------------------------------------------------

    [Fact]
    public void HUB_WS_06_nothing_expires_in_an_unknown_topic()
    {
        Assert.Empty(TopicDecisions.Expire(null, Policy, T0.AddYears(1)));
    }

    [Fact]
    public void HUB_WS_06_an_active_lease_expires_exactly_at_its_end_and_not_a_tick_before()
    {
        var state = Session(
            new Subscribed("ep-act", "A", Events, 600, T0),
            new SubscriptionConfirmed("ep-act", T0.AddSeconds(10), T0.AddSeconds(610)));
        var end = T0.AddSeconds(610);

        Assert.Empty(TopicDecisions.Expire(state, Policy, end.AddTicks(-1)));
        Assert.Equal([new LeaseExpired("ep-act", end)], TopicDecisions.Expire(state, Policy, end));
        Assert.Equal([new LeaseExpired("ep-act", end.AddHours(1))], TopicDecisions.Expire(state, Policy, end.AddHours(1)));
    }

    [Fact]
    public void HUB_WS_09_a_subscription_not_connected_within_the_window_is_abandoned_exactly_at_its_end()
    {
        var state = Session(new Subscribed("ep-req", "R", Events, 3600, T0));
        var end = T0.AddSeconds(60);

        Assert.Empty(TopicDecisions.Expire(state, Policy, end.AddTicks(-1)));
        Assert.Equal([new SubscriptionAbandoned("ep-req", end)], TopicDecisions.Expire(state, Policy, end));
    }

    [Fact]
    public void HUB_WS_09_the_unconnected_window_comes_from_the_policy()
    {
        var state = Session(new Subscribed("ep-req", "R", Events, 3600, T0));
        var policy = SubscriptionPolicy.Default with { UnconnectedSubscriptionSeconds = 5 };

        Assert.Equal([new SubscriptionAbandoned("ep-req", T0.AddSeconds(5))], TopicDecisions.Expire(state, policy, T0.AddSeconds(5)));
        Assert.Empty(TopicDecisions.Expire(state, Policy, T0.AddSeconds(5)));
    }

    [Fact]
    public void HUB_WS_09_a_confirmed_subscription_is_never_abandoned_however_old_its_request()
    {
        var state = Session(
            new Subscribed("ep-act", "A", Events, 86400, T0),
            new SubscriptionConfirmed("ep-act", T0.AddSeconds(10), T0.AddSeconds(86410)));

        Assert.Empty(TopicDecisions.Expire(state, Policy, T0.AddHours(1)));
    }

    [Fact]
    public void HUB_WS_06_all_ended_subscriptions_are_reported_oldest_request_first()
    {
        var state = Session(
            new Subscribed("ep-c", "C", Events, 600, T0.AddSeconds(3)),
            new Subscribed("ep-a", "A", Events, 600, T0.AddSeconds(1)),
            new Subscribed("ep-live", "L", Events, 86400, T0.AddSeconds(2)),
            new Subscribed("ep-b", "B", Events, 600, T0.AddSeconds(2)),
            new SubscriptionConfirmed("ep-a", T0.AddSeconds(4), T0.AddSeconds(604)),
            new SubscriptionConfirmed("ep-live", T0.AddSeconds(4), T0.AddSeconds(86404)));

        var ended = TopicDecisions.Expire(state, Policy, T0.AddHours(1));

        Assert.Equal(
            [new LeaseExpired("ep-a", T0.AddHours(1)), new SubscriptionAbandoned("ep-b", T0.AddHours(1)), new SubscriptionAbandoned("ep-c", T0.AddHours(1))],
            ended);
    }

    // ---- Publish: unknown topic, relay, Home-open -----------------------------------------------------------

    [Fact]
    public void Rulings_5_an_event_for_a_topic_that_was_never_subscribed_is_an_unknown_topic()
    {
        var rejection = Rejected(Publish(null, PatientOpen("p1")), RejectionKind.UnknownTopic);

        Assert.Contains($"'{Topic}'", rejection.Message);
    }

    [Fact]
    public void Rulings_5_a_relayed_event_for_an_unknown_topic_is_also_rejected()
    {
        Rejected(Publish(null, Event("SyncError")), RejectionKind.UnknownTopic);
    }

    [Theory]
    [InlineData("UserLogout")]
    [InlineData("UserHibernate")]
    [InlineData("heartbeat")]
    [InlineData("org.example.foo")]
    [InlineData("Patient-")]
    [InlineData("-open")]
    [InlineData("open")]
    [InlineData("Patient-opened")]
    public void HUB_GEN_05_any_other_event_is_relayed_unchanged_without_touching_context(string name)
    {
        var json = Event(name, """[ {"key":"x", "decimal":"1.50"} ]""", id: "relay-1");
        var versions = VersionCounter();

        var decided = Single(Publish(KnownTopic(), json, versions));

        Assert.Equal(new NotificationRelayed("relay-1", name, json), decided);
        Assert.Equal("v1", versions());
    }

    [Theory]
    [InlineData("Home-open")]
    [InlineData("home-OPEN")]
    [InlineData("HOME-OPEN")]
    public void HUB_CTX_11_home_open_is_distributed_unchanged_and_empties_the_current_context(string name)
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());
        var json = Event(name, id: "home-1");

        var decided = Single(Publish(state, json));

        Assert.Equal(new HomeOpened("home-1", name, json), decided);
        Assert.Null(Apply(state, [decided]).CurrentAnchor);
    }

    // ---- Publish: open --------------------------------------------------------------------------------------

    [Fact]
    public void HUB_CS_02_an_open_makes_a_context_opened_with_a_fresh_version_stamped_into_the_notification()
    {
        var context = Context(Resource("patient", "Patient", "p1"));
        var json = Event("Patient-open", context, id: "open-1");

        var decided = Single(Publish(KnownTopic(), json, VersionCounter()));

        Assert.Equal(
            new ContextOpened("open-1", "Patient-open", "Patient", "p1", "v1", null, context, Event("Patient-open", context, id: "open-1", eventExtras: Versions("v1"))),
            decided);
    }

    [Theory]
    [InlineData("patient-open", "patient", "Patient", "Patient")]
    [InlineData("PATIENT-OPEN", "patient", "patient", "Patient")]
    [InlineData("Encounter-open", "encounter", "Encounter", "Encounter")]
    [InlineData("imagingstudy-Open", "study", "ImagingStudy", "ImagingStudy")]
    [InlineData("Observation-open", "observation", "Observation", "Observation")]
    [InlineData("Patient-open", "patient", null, "Patient")]
    public void HUB_GEN_03_an_open_finds_its_anchor_under_the_anchor_key_of_its_type_in_any_case(string name, string key, string? resourceType, string anchorType)
    {
        var entry = resourceType is null
            ? $$$"""{"key":"{{{key}}}","resource":{"id":"a1"}}"""
            : Resource(key, resourceType, "a1");

        var opened = Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), Event(name, Context(entry)))));

        Assert.Equal((name, anchorType, "a1"), (opened.EventName, opened.AnchorType, opened.AnchorId));
    }

    [Fact]
    public void HUB_CTX_07_a_diagnostic_report_open_with_report_patient_and_study_is_accepted()
    {
        var context = Context(Resource("report", "DiagnosticReport", "r1"), Resource("patient", "Patient", "p1"), Resource("study", "ImagingStudy", "s1"));

        var opened = Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), Event("diagnosticreport-open", context))));

        Assert.Equal(("DiagnosticReport", "r1", context), (opened.AnchorType, opened.AnchorId, opened.Context));
    }

    [Theory]
    [InlineData("patient")]
    [InlineData("study")]
    public void HUB_CTX_07_a_diagnostic_report_open_without_patient_or_study_is_rejected(string missing)
    {
        var entries = new[] { Resource("report", "DiagnosticReport", "r1"), Resource("patient", "Patient", "p1"), Resource("study", "ImagingStudy", "s1") }
            .Where(e => !e.Contains($"\"key\":\"{missing}\""))
            .ToArray();
        var versions = VersionCounter();

        var rejection = Rejected(Publish(KnownTopic(), Event("DiagnosticReport-open", Context(entries)), versions), RejectionKind.Invalid);

        Assert.Contains($"`{missing}`", rejection.Message);
        Assert.Equal("v1", versions()); // a rejected open mints no version
    }

    [Fact]
    public void HUB_CTX_07_several_studies_are_allowed_in_a_diagnostic_report_open()
    {
        var context = Context(Resource("report", "DiagnosticReport", "r1"), Resource("patient", "Patient", "p1"),
            Resource("study", "ImagingStudy", "s1"), Resource("study", "ImagingStudy", "s2"));

        Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), Event("DiagnosticReport-open", context))));
    }

    public static TheoryData<string, string> BadOpens => new()
    {
        // no anchor entry at all
        { Event("Patient-open"), "exactly one `patient`" },
        // anchor key in the wrong case (HUB-GEN-04)
        { Event("Patient-open", Context(Resource("Patient", "Patient", "p1"))), "exactly one `patient`" },
        // the legacy key is `study`, not `imagingstudy`
        { Event("ImagingStudy-open", Context(Resource("imagingstudy", "ImagingStudy", "s1"))), "exactly one `study`" },
        // two anchors
        { Event("Patient-open", Context(Resource("patient", "Patient", "p1"), Resource("patient", "Patient", "p2"))), "exactly one `patient`" },
        // a reference instead of the resource
        { Event("Patient-open", Context(Reference("patient", "Patient/p1"))), "not a reference" },
        // a resource without id
        { Event("Patient-open", """[{"key":"patient","resource":{"resourceType":"Patient"}}]"""), "with an `id`" },
        // a value that is neither resource nor reference
        { Event("Patient-open", """[{"key":"patient","string":"p1"}]"""), "with an `id`" },
        // a resource of another type
        { Event("Patient-open", Context(Resource("patient", "Encounter", "e1"))), "holds a Encounter, not a Patient" },
        // the report anchor is checked before patient and study
        { Event("DiagnosticReport-open", Context(Resource("patient", "Patient", "p1"), Resource("study", "ImagingStudy", "s1"))), "exactly one `report`" },
    };

    [Theory]
    [MemberData(nameof(BadOpens))]
    public void HUB_CTX_07_an_open_without_exactly_one_anchor_resource_with_an_id_of_its_type_is_rejected(string json, string reason)
    {
        var versions = VersionCounter();

        Assert.Contains(reason, Rejected(Publish(KnownTopic(), json, versions), RejectionKind.Invalid).Message);
        Assert.Equal("v1", versions());
    }

    [Fact]
    public void AMB_13_a_re_open_of_an_open_anchor_gets_a_new_version_and_names_the_prior_one()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1", id: "open-1"), versions);
        state = StateAfter(state, StudyOpen("s1"), versions);
        var context = Context(Resource("patient", "Patient", "p1"), Resource("encounter", "Encounter", "e1"));

        var reopened = Single(Publish(state, Event("Patient-open", context, id: "open-3"), versions));

        Assert.Equal(
            new ContextOpened("open-3", "Patient-open", "Patient", "p1", "v3", "v1", context,
                Event("Patient-open", context, id: "open-3", eventExtras: Versions("v3", "v1"))),
            reopened);
    }

    [Fact]
    public void HUB_CS_02_an_open_of_a_closed_anchor_starts_over_without_a_prior_version()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), versions);
        state = StateAfter(state, PatientClose("p1"), versions);

        var opened = Assert.IsType<ContextOpened>(Single(Publish(state, PatientOpen("p1", id: "again"), versions)));

        Assert.Equal(("v2", (string?)null), (opened.VersionId, opened.PriorVersionId));
    }

    [Fact]
    public void HUB_EVT_04_the_open_notification_forwards_the_request_text_byte_for_byte_plus_the_version()
    {
        const string context = """[ { "key": "patient", "resource": { "resourceType": "Patient", "id": "p1", "name": "Zoë", "weight": 1.50 } } ]""";
        var json = "{ \"timestamp\": \"2025-03-01T14:58:45.988Z\", \"id\": \"o-1\", \"event\": { \"hub.topic\": \"" + Topic + "\", \"hub.event\": \"Patient-open\", \"context\": " + context + " } }";

        var opened = Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), json)));

        Assert.Equal(context, opened.Context);
        Assert.Equal(
            "{\"timestamp\":\"2025-03-01T14:58:45.988Z\",\"id\":\"o-1\",\"event\":{\"hub.topic\":\"" + Topic + "\",\"hub.event\":\"Patient-open\",\"context.versionId\":\"v1\",\"context\":" + context + "}}",
            opened.Notification);
    }

    [Fact]
    public void HUB_GEN_03_closing_an_anchor_of_a_non_catalog_type_matches_its_open_case_insensitively()
    {
        var state = StateAfter(KnownTopic(), Event("imagingselection-open", Context(Resource("imagingselection", "ImagingSelection", "i1"))), VersionCounter());

        var closed = Assert.IsType<ContextClosed>(Single(Publish(state, Event("ImagingSelection-close", Context(Resource("imagingselection", "ImagingSelection", "i1"))))));
        state = Apply(state, [closed]);

        Assert.Equal("i1", closed.AnchorId);
        Assert.Empty(state.Anchors);
        Assert.Null(state.CurrentAnchor);
    }

    [Fact]
    public void HUB_GEN_03_re_opening_an_anchor_of_a_non_catalog_type_in_another_case_resumes_it()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), Event("observation-open", Context(Resource("observation", "Observation", "o1"))), versions);
        state = StateAfter(state, PatientOpen("p1"), versions);

        var opened = Assert.IsType<ContextOpened>(Single(Publish(state, Event("Observation-open", Context(Resource("observation", "Observation", "o1"))), versions)));
        state = Apply(state, [opened]);

        Assert.Equal("v1", opened.PriorVersionId);
        Assert.Equal(2, state.Anchors.Count);
        Assert.Equal(state.Anchors[^1].Identity, state.CurrentAnchor);
        Assert.Equal("o1", state.Current!.AnchorId);
    }

    // ---- Publish: derived opens (HUB-CTX-09) -----------------------------------------------------------------

    [Fact]
    public void HUB_CTX_09_an_open_derives_a_T_open_per_other_resource_with_its_patient_the_same_timestamp_and_new_ids()
    {
        var report = Resource("report", "DiagnosticReport", "r1");
        var patient = Resource("patient", "Patient", "p1");
        var study = Resource("study", "ImagingStudy", "s1");
        var json = Event("DiagnosticReport-open", Context(report, patient, study), id: "open-1", timestamp: "2025-03-01T14:58:45.988+01:00");

        var opened = Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), json, VersionCounter("id-"), ContentPolicy.Default)));

        Assert.Equal("id-1", opened.VersionId);
        Assert.Equal(
            [
                new DerivedOpen("id-2", "Patient-open", "Patient", "p1", Event("Patient-open", Context(patient), id: "id-2", timestamp: "2025-03-01T14:58:45.988+01:00")),
                new DerivedOpen("id-3", "ImagingStudy-open", "ImagingStudy", "s1", Event("ImagingStudy-open", Context(study, patient), id: "id-3", timestamp: "2025-03-01T14:58:45.988+01:00")),
            ],
            opened.Derived!);
    }

    [Fact]
    public void HUB_CTX_09_references_untyped_resources_the_anchor_type_and_repeats_derive_nothing()
    {
        var observation = Resource("a", "Observation", "o1");
        var context = Context(
            Resource("encounter", "Encounter", "e1"),
            Reference("patient", "Patient/p1"),
            """{"key":"x","resource":{"id":"n1"}}""",
            Resource("other", "encounter", "e2"),
            observation,
            Resource("b", "Observation", "o1"));

        var opened = Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), Event("Encounter-open", context), VersionCounter(), ContentPolicy.Default)));

        var derived = Assert.Single(opened.Derived!);
        Assert.Equal(new DerivedOpen("v2", "Observation-open", "Observation", "o1", Event("Observation-open", Context(observation), id: "v2")), derived);
    }

    [Fact]
    public void HUB_CTX_09_an_open_of_only_its_anchor_derives_nothing()
    {
        var opened = Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), PatientOpen("p1"), VersionCounter(), ContentPolicy.Default)));

        Assert.Empty(opened.Derived!);
    }

    [Fact]
    public void Rulings_15_with_DeriveOpenEvents_off_no_open_is_derived_and_no_id_is_minted_for_one()
    {
        var versions = VersionCounter();
        var json = Event("Encounter-open", Context(Resource("encounter", "Encounter", "e1"), Resource("patient", "Patient", "p1")));

        var opened = Assert.IsType<ContextOpened>(Single(Publish(KnownTopic(), json, versions, ContentPolicy.Default with { DeriveOpenEvents = false })));

        Assert.Null(opened.Derived);
        Assert.Equal("v2", versions());
    }

    [Fact]
    public void HUB_CTX_08_derived_opens_do_not_change_the_hubs_context()
    {
        var json = Event("DiagnosticReport-open", Context(Resource("report", "DiagnosticReport", "r1"), Resource("patient", "Patient", "p1"), Resource("study", "ImagingStudy", "s1")));
        var state = Apply(KnownTopic(), Accepted(Publish(KnownTopic(), json, VersionCounter(), ContentPolicy.Default)).Events);

        Assert.Equal(["DiagnosticReport/r1"], state.Anchors.Select(a => a.Identity));
        Assert.Equal("DiagnosticReport/r1", state.CurrentAnchor);
    }

    // ---- Publish: close -------------------------------------------------------------------------------------

    [Fact]
    public void HUB_CTX_04_closing_an_open_anchor_is_distributed_unchanged()
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());
        var json = PatientClose("p1", id: "close-1");

        var decided = Single(Publish(state, json));

        Assert.Equal(new ContextClosed("close-1", "Patient-close", "Patient", "p1", json), decided);
    }

    [Theory]
    [InlineData("""[{"key":"patient","reference":{"reference":"Patient/p1"}}]""")]
    [InlineData("""[{"key":"patient","reference":{"reference":"https://fhir.example.com/Patient/p1/_history/4"}}]""")]
    [InlineData("""[{"key":"patient","resource":{"id":"p1"}}]""")]
    [InlineData("""[{"key":"patient","resource":{"resourceType":"patient","id":"p1"}}]""")]
    public void HUB_CTX_06_a_close_may_name_its_anchor_by_reference_or_by_resource(string context)
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());

        var closed = Assert.IsType<ContextClosed>(Single(Publish(state, Event("patient-CLOSE", context))));

        Assert.Equal(("Patient", "p1", "patient-CLOSE"), (closed.AnchorType, closed.AnchorId, closed.EventName));
    }

    [Fact]
    public void HUB_CTX_04_closing_a_suspended_anchor_is_accepted_and_keeps_the_current_one()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), versions);
        state = StateAfter(state, StudyOpen("s1"), versions);

        state = Apply(state, Accepted(Publish(state, PatientClose("p1"))).Events);

        Assert.Equal("ImagingStudy/s1", state.CurrentAnchor);
    }

    [Fact]
    public void HUB_CTX_11_an_anchor_kept_open_through_home_open_can_still_be_closed()
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());
        state = StateAfter(state, Event("Home-open"), VersionCounter());

        state = Apply(state, Accepted(Publish(state, PatientClose("p1"))).Events);

        Assert.Empty(state.Anchors);
        Assert.Null(state.CurrentAnchor);
    }

    [Fact]
    public void HUB_CTX_05_closing_an_anchor_that_was_never_opened_is_a_conflict()
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());

        var rejection = Rejected(Publish(state, PatientClose("p2")), RejectionKind.Conflict);

        Assert.Contains("Patient/p2", rejection.Message);
    }

    [Fact]
    public void HUB_CTX_05_after_a_close_the_anchor_accepts_no_second_close()
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());
        state = StateAfter(state, PatientClose("p1"), VersionCounter());

        Rejected(Publish(state, PatientClose("p1")), RejectionKind.Conflict);
    }

    [Fact]
    public void HUB_CTX_05_a_close_for_an_id_open_under_another_type_is_a_conflict()
    {
        var state = StateAfter(KnownTopic(), PatientOpen("x1"), VersionCounter());

        Rejected(Publish(state, Event("Encounter-close", Context(Resource("encounter", "Encounter", "x1")))), RejectionKind.Conflict);
    }

    public static TheoryData<string, string> BadCloses => new()
    {
        { Event("Patient-close"), "exactly one `patient`" },
        { Event("Patient-close", Context(Reference("patient", "Patient/p1"), Reference("patient", "Patient/p1"))), "exactly one `patient`" },
        { Event("Patient-close", """[{"key":"patient","resource":{"resourceType":"Patient"}}]"""), "with an `id`" },
        { Event("Patient-close", Context(Reference("patient", "urn:uuid:0000"))), "with an `id`" },
        { Event("Patient-close", """[{"key":"patient","reference":{"display":"Zoë"}}]"""), "with an `id`" },
        { Event("Patient-close", Context(Reference("patient", "Encounter/p1"))), "holds a Encounter, not a Patient" },
        { Event("DiagnosticReport-close", Context(Resource("patient", "Patient", "p1"))), "exactly one `report`" },
    };

    [Theory]
    [MemberData(nameof(BadCloses))]
    public void HUB_CTX_06_a_close_without_exactly_one_anchor_with_an_id_of_its_type_is_rejected_as_invalid(string json, string reason)
    {
        var state = StateAfter(KnownTopic(), PatientOpen("p1"), VersionCounter());

        Assert.Contains(reason, Rejected(Publish(state, json), RejectionKind.Invalid).Message);
    }

    [Fact]
    public void HUB_CTX_06_a_diagnostic_report_close_with_the_report_resource_id_is_accepted()
    {
        var open = Context(Resource("report", "DiagnosticReport", "r1"), Resource("patient", "Patient", "p1"), Resource("study", "ImagingStudy", "s1"));
        var state = StateAfter(KnownTopic(), Event("DiagnosticReport-open", open), VersionCounter());

        var closed = Assert.IsType<ContextClosed>(Single(Publish(state, Event("DiagnosticReport-close", Context(Resource("report", "DiagnosticReport", "r1"))))));

        Assert.Equal(("DiagnosticReport", "r1"), (closed.AnchorType, closed.AnchorId));
    }

    // ---- Publish: update / select need an open anchor -------------------------------------------------------

    [Theory]
    [InlineData("DiagnosticReport-select")]
    [InlineData("DiagnosticReport-update")]
    [InlineData("diagnosticreport-UPDATE")]
    public void HUB_CTX_05_an_update_or_select_for_an_anchor_that_is_not_open_is_a_conflict(string name)
    {
        var json = Event(name, Context(Reference("report", "DiagnosticReport/r-never-opened"), Reference("select", "Observation/o1")),
            eventExtras: ",\"context.versionId\":\"v1\"");

        Assert.Contains("DiagnosticReport/r-never-opened", Rejected(Publish(KnownTopic(), json), RejectionKind.Conflict).Message);
    }

    // ---- Publish: SyncError from a subscriber (HUB-SE-05) --------------------------------------------------

    private const string Outcome = """{"key":"operationoutcome","resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing"}]}}""";

    [Theory]
    [InlineData("SyncError")]
    [InlineData("syncerror")]
    public void HUB_SE_05_a_subscriber_sync_error_with_one_operation_outcome_is_relayed_unchanged(string name)
    {
        var json = Event(name, Context(Outcome), id: "se-1");

        Assert.Equal(new NotificationRelayed("se-1", name, json), Single(Publish(KnownTopic(), json)));
    }

    public static TheoryData<string> BadSyncErrorContexts => new()
    {
        "[]",
        Context(Outcome, Outcome),
        Context(Resource("operationoutcome", "Patient", "p1")),
        Context(Resource("OperationOutcome", "OperationOutcome", "oo1")),
        Context("""{"key":"operationoutcome","resource":{"issue":[]}}"""),
        Context("""{"key":"operationoutcome","resource":{"resourceType":"operationoutcome"}}"""),
    };

    [Theory]
    [MemberData(nameof(BadSyncErrorContexts))]
    public void HUB_SE_05_a_sync_error_without_exactly_one_operation_outcome_resource_is_rejected(string context)
    {
        Assert.Contains("HUB-SE-05", Rejected(Publish(KnownTopic(), Event("SyncError", context)), RejectionKind.Invalid).Message);
    }

    [Fact]
    public void HUB_SE_05_a_sync_error_whose_operation_outcome_is_only_a_reference_is_rejected()
    {
        var json = Event("SyncError", Context(Reference("operationoutcome", "OperationOutcome/oo-1")));

        Rejected(Publish(KnownTopic(), json), RejectionKind.Invalid);
    }

    // ---- SyncErrors the hub raises (HUB-SE-03, HUB-WS-11) ---------------------------------------------------

    private static SyncErrorCause Cause(string endpoint = "ep-act", string failedEventName = "Patient-open") =>
        new(endpoint, "Active One", "failed-evt", failedEventName, "Subscriber 'Active One' refused Patient-open (status 409)", "se-new",
            new DateTimeOffset(2025, 3, 1, 14, 58, 46, 210, TimeSpan.Zero), """{"resourceType":"OperationOutcome","issue":[{"severity":"warning"}]}""");

    [Fact]
    public void HUB_SE_02_a_refused_event_raises_one_sync_error_with_the_hub_authored_notification()
    {
        var raised = Assert.Single(TopicDecisions.RaiseSyncError(TwoSubscriptions(), Cause()));

        Assert.Equal(
            new SyncErrorRaised("se-new", "SyncError", "ep-act", "Active One", "failed-evt", "Patient-open",
                "Subscriber 'Active One' refused Patient-open (status 409)",
                $$$"""{"timestamp":"2025-03-01T14:58:46.210Z","id":"se-new","event":{"hub.topic":"{{{Topic}}}","hub.event":"SyncError","context":[{"key":"operationoutcome","resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning"}]}}]}}"""),
            raised);
    }

    [Fact]
    public void HUB_SE_03_no_sync_error_is_raised_in_an_unknown_topic()
    {
        Assert.Empty(TopicDecisions.RaiseSyncError(null, Cause()));
    }

    [Fact]
    public void HUB_SE_03_no_sync_error_is_raised_for_a_subscription_that_has_already_ended()
    {
        Assert.Empty(TopicDecisions.RaiseSyncError(TwoSubscriptions(), Cause(endpoint: "ep-ended")));
    }

    [Fact]
    public void HUB_DIST_07_dropping_an_unresponsive_subscriber_tells_the_others_first()
    {
        var decided = TopicDecisions.Drop(TwoSubscriptions(), "ep-act", null, "unresponsive", T0.AddSeconds(50), Cause());

        Assert.Equal(2, decided.Length);
        Assert.Equal("se-new", Assert.IsType<SyncErrorRaised>(decided[0]).EventId);
        Assert.Equal(new SubscriberDropped("ep-act", null, "unresponsive", T0.AddSeconds(50)), decided[1]);
    }

    [Fact]
    public void HUB_WS_12_dropping_an_ended_subscription_raises_nothing_even_with_a_cause()
    {
        Assert.Empty(TopicDecisions.Drop(TwoSubscriptions(), "ep-ended", 1006, "gone", T0, Cause(endpoint: "ep-ended")));
        Assert.Empty(TopicDecisions.Drop(null, "ep-act", 1006, "gone", T0, Cause()));
    }

    [Fact]
    public void HUB_WS_11_an_abnormal_close_raises_a_sync_error_for_the_other_subscribers()
    {
        var decided = TopicDecisions.Drop(TwoSubscriptions(), "ep-act", 1006, "abnormal", T0.AddSeconds(50), Cause(failedEventName: SyncErrors.NoEvent));

        Assert.Equal(2, decided.Length);
        Assert.Equal(SyncErrors.NoEvent, Assert.IsType<SyncErrorRaised>(decided[0]).FailedEventName);
        Assert.IsType<SubscriberDropped>(decided[1]);
    }

    [Theory]
    [InlineData(1000, true)]
    [InlineData(1001, true)]
    [InlineData(1005, true)]
    [InlineData(null, false)]
    [InlineData(1002, false)]
    [InlineData(1006, false)]
    [InlineData(1011, false)]
    [InlineData(4000, false)]
    public void Rulings_3_only_1000_1001_and_1005_are_normal_closes(int? closeCode, bool normal)
    {
        Assert.Equal(normal, TopicDecisions.IsNormalClose(closeCode));
    }
}
