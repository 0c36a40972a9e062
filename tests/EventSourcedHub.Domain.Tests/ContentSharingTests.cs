using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

/// <summary>`*-update` and `*-select` as decided through <see cref="TopicDecisions.Publish"/> (FHIRcast 2-10, IRA RAD-150/151).</summary>
public class ContentSharingTests
{
    private const string Report = """{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"r1","status":"unknown"}}""";
    private const string Patient = """{"key":"patient","resource":{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:mrn","value":"185444"}]}}""";
    private const string Study = """{"key":"study","resource":{"resourceType":"ImagingStudy","id":"s1","identifier":[{"system":"urn:dicom:uid","value":"urn:oid:1.2.3"},{"type":"ACSN","value":"342"}]}}""";
    private const string ReportRef = """{"key":"report","reference":{"reference":"DiagnosticReport/r1"}}""";
    private const string Observation = """{"resourceType":"Observation","id":"o1","status":"preliminary","valueQuantity":{"value":1.50,"unit":"cm"},"note":"Zoë"}""";

    private static string OpenReport(string id = "r1", string eventId = "open-1") =>
        Event("DiagnosticReport-open", Context(Report.Replace("\"r1\"", $"\"{id}\""), Patient, Study), id: eventId);

    /// <summary>The report r1 open at version v1, with the counter to continue with.</summary>
    private static (TopicSession State, Func<string> Versions) Opened()
    {
        var versions = VersionCounter();
        return (StateAfter(KnownTopic(), OpenReport(), versions), versions);
    }

    private static string Bundle(params string[] entries) =>
        $$$"""{"key":"updates","resource":{"resourceType":"Bundle","id":"b1","type":"transaction","entry":[{{{string.Join(",", entries)}}}]}}""";

    private static string Put(string resource, string method = "PUT") =>
        $$$"""{"request":{"method":"{{{method}}}"},"resource":{{{resource}}}}""";

    private static string Delete(string target) => $$$"""{"fullUrl":"{{{target}}}","request":{"method":"DELETE","url":"{{{target}}}"}}""";

    private static string Update(string? versionId, params string[] bundleEntries) =>
        UpdateWith(versionId, Context(ReportRef, Bundle(bundleEntries)));

    private static string UpdateWith(string? versionId, string context) =>
        Event("DiagnosticReport-update", context, id: "upd-1", eventExtras: versionId is null ? "" : $",\"context.versionId\":\"{versionId}\"");

    private static string Select(params string[] selectEntries) =>
        Event("DiagnosticReport-select", Context([ReportRef, .. selectEntries]), id: "sel-1");

    private static string SelectRef(string reference) => Reference("select", reference);

    private static Decision<Published> Decide(TopicSession state, string json, Func<string> versions, ContentPolicy? policy = null) =>
        TopicDecisions.Publish(state, Request(json), versions, policy ?? Policy);

    private static T One<T>(Decision<Published> decision, bool partial = false)
    {
        var published = Accepted(decision);
        Assert.Equal(partial, published.Partial);
        return Assert.IsType<T>(Assert.Single(published.Events));
    }

    private static Rejection Rejected(Decision<Published> decision, RejectionKind kind)
    {
        var rejection = TestData.Rejected(decision);
        Assert.Equal(kind, rejection.Kind);
        return rejection;
    }

    private static TopicSession Apply(TopicSession state, Decision<Published> decision) => TestData.Apply(state, Accepted(decision).Events);

    // ---- update: versions ----------------------------------------------------------------------------------

    [Fact]
    public void HUB_CS_05_an_update_applies_its_bundle_moves_the_version_and_names_the_prior_one()
    {
        var (state, versions) = Opened();
        var json = Update("v1", Put(Observation));

        var updated = One<ContentUpdated>(Decide(state, json, versions));

        Assert.Equal(("upd-1", "DiagnosticReport-update", "DiagnosticReport", "r1", "v2", "v1"),
            (updated.EventId, updated.EventName, updated.AnchorType, updated.AnchorId, updated.VersionId, updated.PriorVersionId));
        Assert.Equal([new ContentChange("PUT", "Observation", "o1", Observation, ContentChange.Create)], updated.Changes);
        Assert.Equal(Event("DiagnosticReport-update", Context(ReportRef, Bundle(Put(Observation))), id: "upd-1", eventExtras: Versions("v2", "v1")), updated.Notification);
    }

    [Fact]
    public void HUB_CS_03_an_update_without_a_version_is_rejected()
    {
        var (state, versions) = Opened();

        Assert.Contains("required", Rejected(Decide(state, Update(null, Put(Observation)), versions), RejectionKind.Invalid).Message);
        Assert.Equal("v2", versions());
    }

    [Fact]
    public void HUB_CS_03_an_update_naming_a_stale_version_is_rejected_and_changes_nothing()
    {
        var (state, versions) = Opened();
        state = Apply(state, Decide(state, Update("v1", Put(Observation)), versions));

        var rejection = Rejected(Decide(state, Update("v1", Delete("Observation/o1")), versions), RejectionKind.Invalid);

        Assert.Contains("'v1' is not the current version of DiagnosticReport/r1", rejection.Message);
        Assert.Equal("v3", versions());
    }

    [Fact]
    public void AMB_03_the_version_may_be_given_as_event_versionId()
    {
        var (state, versions) = Opened();
        var json = Event("DiagnosticReport-update", Context(ReportRef, Bundle(Put(Observation))), eventExtras: ",\"versionId\":\"v1\"");

        Assert.Equal("v1", One<ContentUpdated>(Decide(state, json, versions)).PriorVersionId);
    }

    [Fact]
    public void AMB_09_a_suspended_anchor_accepts_updates_against_its_own_version()
    {
        var (state, versions) = Opened();
        state = StateAfter(state, OpenReport("r2", "open-2"), versions);

        var updated = One<ContentUpdated>(Decide(state, Update("v1", Put(Observation)), versions));

        Assert.Equal(("r1", "v3", "v1"), (updated.AnchorId, updated.VersionId, updated.PriorVersionId));
    }

    [Fact]
    public void HUB_CS_06_the_anchor_may_be_given_as_a_resource_with_an_id()
    {
        var (state, versions) = Opened();

        var updated = One<ContentUpdated>(Decide(state, UpdateWith("v1", Context(Resource("report", "DiagnosticReport", "r1"), Bundle(Put(Observation)))), versions));

        Assert.Equal("r1", updated.AnchorId);
    }

    // ---- update: Hub:Compatibility:LenientUpdates (rulings.md 36) -------------------------------------------

    private static readonly ContentPolicy Lenient = Policy with { LenientUpdates = true };

    /// <summary>OHIF's measurement update: only an `updates` entry, no `report` key, no `context.versionId`.</summary>
    private static string BareUpdate(string? versionId = null) => UpdateWith(versionId, Context(Bundle(Put(Observation))));

    [Fact]
    public void Rulings_36_strict_by_default_an_update_without_its_anchor_key_is_rejected()
    {
        var (state, versions) = Opened();

        var rejection = Rejected(Decide(state, BareUpdate("v1"), versions), RejectionKind.Invalid);

        Assert.Equal("`DiagnosticReport-update` must carry exactly one `report` context entry.", rejection.Message);
    }

    [Fact]
    public void Rulings_36_lenient_an_update_without_anchor_key_or_version_applies_to_the_current_anchor_and_version()
    {
        var (state, versions) = Opened();

        var updated = One<ContentUpdated>(Decide(state, BareUpdate(), versions, Lenient));

        Assert.Equal(("DiagnosticReport", "r1", "v2", "v1"), (updated.AnchorType, updated.AnchorId, updated.VersionId, updated.PriorVersionId));
        Assert.Equal([new ContentChange("PUT", "Observation", "o1", Observation, ContentChange.Create)], updated.Changes);
        // Forwarded as sent, with only the hub's version keys added (rulings.md 9).
        Assert.Equal(Event("DiagnosticReport-update", Context(Bundle(Put(Observation))), id: "upd-1", eventExtras: Versions("v2", "v1")), updated.Notification);
        Assert.Equal("accepted leniently (Hub:Compatibility:LenientUpdates): without a `report` entry, applied to the current DiagnosticReport/r1; "
            + "without `context.versionId`, applied to its current version v1", updated.Leniency);
    }

    [Fact]
    public void Rulings_36_lenient_an_update_with_its_anchor_but_no_version_applies_to_the_current_version()
    {
        var (state, versions) = Opened();
        state = Apply(state, Decide(state, Update("v1", Put(Observation)), versions));

        var updated = One<ContentUpdated>(Decide(state, Update(null, Delete("Observation/o1")), versions, Lenient));

        Assert.Equal(("r1", "v3", "v2"), (updated.AnchorId, updated.VersionId, updated.PriorVersionId));
        Assert.Equal("accepted leniently (Hub:Compatibility:LenientUpdates): without `context.versionId`, applied to its current version v2", updated.Leniency);
    }

    [Fact]
    public void Rulings_36_lenient_an_update_naming_its_anchor_and_version_is_decided_strictly_and_not_marked()
    {
        var (state, versions) = Opened();

        Assert.Null(One<ContentUpdated>(Decide(state, Update("v1", Put(Observation)), versions, Lenient)).Leniency);
        Assert.Contains("'stale' is not the current version", Rejected(Decide(state, Update("stale", Put(Observation)), versions, Lenient), RejectionKind.Invalid).Message);
        Assert.Contains("'stale' is not the current version", Rejected(Decide(state, BareUpdate("stale"), versions, Lenient), RejectionKind.Invalid).Message);
    }

    [Fact]
    public void Rulings_36_lenient_without_the_anchor_key_a_suspended_report_is_used_when_the_current_anchor_is_of_another_type()
    {
        var (state, versions) = Opened();
        state = StateAfter(state, OpenReport("r2", "open-2"), versions);
        state = StateAfter(state, Event("Patient-open", Context(Patient), id: "open-3"), versions);

        var updated = One<ContentUpdated>(Decide(state, BareUpdate(), versions, Lenient));

        // r2 was opened after r1: it is the current report.
        Assert.Equal(("r2", "v2"), (updated.AnchorId, updated.PriorVersionId));
    }

    [Fact]
    public void Rulings_36_lenient_without_the_anchor_key_and_no_open_anchor_of_that_type_is_a_conflict()
    {
        var versions = VersionCounter();
        var state = StateAfter(KnownTopic(), Event("Patient-open", Context(Patient), id: "open-1"), versions);

        var rejection = Rejected(Decide(state, BareUpdate(), versions, Lenient), RejectionKind.Conflict);

        Assert.Equal("`DiagnosticReport-update` names no `report` and no DiagnosticReport context is open on this topic (HUB-CTX-05).", rejection.Message);
    }

    [Fact]
    public void Rulings_18_a_replay_applies_an_update_recorded_without_its_anchor_key_to_the_targets_current_report()
    {
        var (state, versions) = Opened();

        var published = Accepted(TopicDecisions.Replay(state, Request(BareUpdate("source-version")), versions, Policy));

        var updated = Assert.IsType<ContentUpdated>(Assert.Single(published.Events));
        Assert.Equal(("r1", "v1"), (updated.AnchorId, updated.PriorVersionId));
    }

    // ---- update: shape of the request ----------------------------------------------------------------------

    public static TheoryData<string, string> BadUpdateContexts => new()
    {
        { Context(ReportRef), "exactly one `updates`" },
        { Context(ReportRef, Bundle(), Bundle()), "exactly one `updates`" },
        { Context(Bundle(Put(Observation))), "exactly one `report`" },
        { Context(ReportRef, """{"key":"updates","resource":{"resourceType":"Parameters"}}"""), "must hold a Bundle" },
        { Context(ReportRef, """{"key":"updates","reference":{"reference":"Bundle/b1"}}"""), "must hold a Bundle" },
        { Context(ReportRef, """{"key":"updates","resource":{"resourceType":"Bundle","entry":{}}}"""), "`Bundle.entry` must be an array" },
    };

    [Theory]
    [MemberData(nameof(BadUpdateContexts))]
    public void HUB_CS_06_an_update_needs_its_anchor_and_exactly_one_updates_bundle(string context, string reason)
    {
        var (state, versions) = Opened();

        Assert.Contains(reason, Rejected(Decide(state, UpdateWith("v1", context), versions), RejectionKind.Invalid).Message);
    }

    [Fact]
    public void HUB_CS_04_a_bundle_without_entries_still_moves_the_version()
    {
        var (state, versions) = Opened();

        var updated = One<ContentUpdated>(Decide(state, UpdateWith("v1", Context(ReportRef, """{"key":"updates","resource":{"resourceType":"Bundle","type":"transaction"}}""")), versions));

        Assert.Empty(updated.Changes);
        Assert.Equal("v2", updated.VersionId);
    }

    [Fact]
    public void HUB_CS_14_a_bundle_with_more_entries_than_the_policy_allows_is_too_large()
    {
        var (state, versions) = Opened();
        var policy = Policy with { MaxBundleEntries = 2 };
        var three = new[] { "o1", "o2", "o3" }.Select(id => Put(Observation.Replace("\"o1\"", $"\"{id}\""))).ToArray();

        Assert.Equal(2, One<ContentUpdated>(Decide(state, Update("v1", three[..2]), versions, policy)).Changes.Length);
        Assert.Contains("at most 2", Rejected(Decide(state, Update("v1", three), versions, policy), RejectionKind.TooLarge).Message);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("put")]
    [InlineData("Post")]
    public void AMB_04_post_with_an_id_and_any_method_case_count_as_put(string method)
    {
        var (state, versions) = Opened();

        var change = Assert.Single(One<ContentUpdated>(Decide(state, Update("v1", Put(Observation, method)), versions)).Changes);

        Assert.Equal(new ContentChange(ContentChange.Put, "Observation", "o1", Observation, ContentChange.Create), change);
    }

    [Theory]
    [InlineData("""{"request":{"method":"DELETE","url":"Observation/o1"}}""")]
    [InlineData("""{"fullUrl":"https://fhir.example.com/Observation/o1","request":{"method":"DELETE"}}""")]
    [InlineData("""{"fullUrl":"Observation/o1","request":{"method":"delete","url":"https://fhir.example.com/Observation/o1/_history/2"}}""")]
    [InlineData("""{"fullUrl":"Observation/o1","request":{"method":"DELETE","url":"urn:uuid:5c1a"}}""")]
    public void HUB_CS_07_a_delete_names_its_target_by_request_url_else_full_url(string entry)
    {
        var (state, versions) = Opened();

        var change = Assert.Single(One<ContentUpdated>(Decide(state, Update("v1", entry), versions)).Changes);

        Assert.Equal(new ContentChange(ContentChange.Delete, "Observation", "o1", null, ContentChange.Delete), change);
    }

    public static TheoryData<string, string> BadEntries => new()
    {
        { "\"x\"", "must be an object" },
        { """{"resource":{"resourceType":"Observation","id":"o1"}}""", "PUT or DELETE" },
        { """{"request":{"url":"Observation/o1"},"resource":{"resourceType":"Observation","id":"o1"}}""", "PUT or DELETE" },
        { """{"request":{"method":"PATCH"},"resource":{"resourceType":"Observation","id":"o1"}}""", "PUT or DELETE" },
        { """{"request":{"method":"GET","url":"Observation/o1"}}""", "PUT or DELETE" },
        { """{"request":{"method":"PUT"}}""", "with a `resourceType`" },
        { """{"request":{"method":"PUT"},"resource":{"id":"o1"}}""", "with a `resourceType`" },
        { """{"request":{"method":"POST"},"resource":{"resourceType":"Observation"}}""", "must have an `id`" },
        { """{"request":{"method":"PUT"},"resource":{"resourceType":"Observation","id":""}}""", "must have an `id`" },
        { """{"request":{"method":"DELETE"}}""", "must name `Type/id`" },
        { """{"request":{"method":"DELETE","url":"urn:uuid:1"}}""", "must name `Type/id`" },
        { Put(Observation) + "," + Put(Observation), "Observation/o1 appears more than once" },
        { Put(Observation) + "," + Delete("Observation/o1"), "Observation/o1 appears more than once" },
    };

    [Theory]
    [MemberData(nameof(BadEntries))]
    public void HUB_CS_07_bundle_entries_must_be_a_put_with_a_resource_or_a_delete_of_a_target_each_resource_once(string entries, string reason)
    {
        var (state, versions) = Opened();

        Assert.Contains(reason, Rejected(Decide(state, Update("v1", entries), versions), RejectionKind.Invalid).Message);
    }

    // ---- update: IRA identity rules (HUB-CS-09) ------------------------------------------------------------

    [Theory]
    [InlineData("Patient/p1")]
    [InlineData("ImagingStudy/s1")]
    [InlineData("DiagnosticReport/r1")]
    public void HUB_CS_09_a_resource_of_the_open_context_cannot_be_deleted(string target)
    {
        var (state, versions) = Opened();

        Assert.Contains($"{target} is part of the open context", Rejected(Decide(state, Update("v1", Delete(target)), versions), RejectionKind.Invalid).Message);
    }

    [Theory]
    [InlineData("""{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:mrn","value":"999"}]}""")]
    [InlineData("""{"resourceType":"Patient","id":"p1"}""")]
    [InlineData("""{"resourceType":"ImagingStudy","id":"s1","identifier":[{"system":"urn:dicom:uid","value":"urn:oid:1.2.3"},{"type":"ACSN","value":"343"}]}""")]
    [InlineData("""{"resourceType":"ImagingStudy","id":"s1","identifier":[{"system":"urn:dicom:uid","value":"urn:oid:9.9"},{"type":"ACSN","value":"342"}]}""")]
    public void HUB_CS_09_the_patient_and_study_identifiers_cannot_be_changed(string resource)
    {
        var (state, versions) = Opened();

        Assert.Contains("cannot be changed", Rejected(Decide(state, Update("v1", Put(resource)), versions), RejectionKind.Invalid).Message);
    }

    [Theory]
    [InlineData("""{"resourceType":"Patient","id":"p1","identifier":[{"system":"urn:mrn","value":"185444"}],"name":[{"family":"Zoë"}]}""")]
    [InlineData("""{"resourceType":"Patient","id":"p1","identifier":[ { "value" : "185444", "system" : "urn:mrn" } ]}""")]
    [InlineData("""{"resourceType":"DiagnosticReport","id":"r1","status":"final","identifier":[{"value":"new"}]}""")]
    public void HUB_CS_08_context_resources_may_change_other_than_the_patient_and_study_identifiers(string resource)
    {
        var (state, versions) = Opened();

        Assert.Equal(resource, Assert.Single(One<ContentUpdated>(Decide(state, Update("v1", Put(resource)), versions)).Changes).Resource);
    }

    // ---- update: what the session keeps ----------------------------------------------------------------------

    [Fact]
    public void HUB_GCC_05_updates_appear_only_in_the_content_bundle_in_first_added_order_as_last_put()
    {
        var (state, versions) = Opened();
        const string selection = """{"resourceType":"ImagingSelection","id":"i1","status":"available"}""";
        const string changedObservation = """{"resourceType":"Observation","id":"o1","status":"final"}""";
        const string finalReport = """{"resourceType":"DiagnosticReport","id":"r1","status":"final"}""";
        state = Apply(state, Decide(state, Update("v1", Put(Observation), Put(selection)), versions));
        state = Apply(state, Decide(state, Update("v2", Put(changedObservation), Put(finalReport), Delete("Observation/never-added")), versions));

        Assert.Equal(
            "{\"context.type\":\"DiagnosticReport\",\"context.versionId\":\"v3\",\"context\":[" + Report + "," + Patient + "," + Study + ","
            + "{\"key\":\"content\",\"resource\":{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":["
            + "{\"fullUrl\":\"Observation/o1\",\"resource\":" + changedObservation + "},"
            + "{\"fullUrl\":\"ImagingSelection/i1\",\"resource\":" + selection + "},"
            + "{\"fullUrl\":\"DiagnosticReport/r1\",\"resource\":" + finalReport + "}]}}]}",
            CurrentContext.Render(state));
    }

    [Fact]
    public void HUB_CS_07_a_delete_removes_the_resource_from_the_content()
    {
        var (state, versions) = Opened();
        state = Apply(state, Decide(state, Update("v1", Put(Observation)), versions));
        state = Apply(state, Decide(state, Update("v2", Delete("Observation/o1")), versions));

        Assert.Empty(state.Current!.Content);
        Assert.EndsWith("{\"key\":\"content\",\"resource\":{\"resourceType\":\"Bundle\",\"type\":\"collection\"}}]}", CurrentContext.Render(state));
    }

    [Fact]
    public void AMB_13_a_re_open_keeps_the_content_and_names_the_version_of_the_last_update_as_prior()
    {
        var (state, versions) = Opened();
        state = Apply(state, Decide(state, Update("v1", Put(Observation)), versions));
        state = StateAfter(state, OpenReport("r2", "open-2"), versions);

        var reopened = One<ContextOpened>(Decide(state, OpenReport(eventId: "open-3"), versions));
        state = TestData.Apply(state, [reopened]);

        Assert.Equal(("v4", "v2"), (reopened.VersionId, reopened.PriorVersionId));
        Assert.Equal(["Observation/o1"], state.Current!.Content.Select(r => r.Key));
    }

    [Fact]
    public void HUB_CS_12_a_close_discards_the_content_so_a_later_open_starts_empty()
    {
        var (state, versions) = Opened();
        state = Apply(state, Decide(state, Update("v1", Put(Observation)), versions));
        state = StateAfter(state, Event("DiagnosticReport-close", Context(ReportRef)), versions);
        state = StateAfter(state, OpenReport(eventId: "open-again"), versions);

        Assert.Empty(state.Current!.Content);
        Assert.Equal("v3", state.Current.VersionId);
    }

    [Fact]
    public void HUB_WS_04_the_replayed_open_carries_the_version_of_the_last_update()
    {
        var (state, versions) = Opened();
        state = Apply(state, Decide(state, Update("v1", Put(Observation)), versions));
        var subscriber = new Subscription("ep-9", "New", ["DiagnosticReport-open"], 60, SubscriptionStatus.Active, T0, T0.AddSeconds(60));

        var replayed = Assert.Single(CurrentContext.OpensFor(state, subscriber));

        Assert.Equal(Event("DiagnosticReport-open", Context(Report, Patient, Study), id: "open-1", eventExtras: Versions("v2")), replayed);
    }

    // ---- select --------------------------------------------------------------------------------------------

    /// <summary>r1 open (v1) with Observation/o1 in its content (v2).</summary>
    private static (TopicSession State, Func<string> Versions) WithContent()
    {
        var (state, versions) = Opened();
        return (Apply(state, Decide(state, Update("v1", Put(Observation)), versions)), versions);
    }

    [Fact]
    public void AMB_02_a_select_echoes_the_current_version_without_bumping_it()
    {
        var (state, versions) = WithContent();
        var json = Select(SelectRef("Observation/o1"));

        var selected = One<ContentSelected>(Decide(state, json, versions));

        Assert.Equal(("sel-1", "DiagnosticReport-select", "DiagnosticReport", "r1", "v2", (string?)null, false),
            (selected.EventId, selected.EventName, selected.AnchorType, selected.AnchorId, selected.VersionId, selected.PriorVersionId, selected.Partial));
        Assert.Equal(["Observation/o1"], selected.Selected);
        Assert.Equal(Event("DiagnosticReport-select", Context(ReportRef, SelectRef("Observation/o1")), id: "sel-1", eventExtras: Versions("v2")), selected.Notification);
        Assert.Equal("v3", versions());
    }

    [Fact]
    public void AMB_02_with_BumpVersionOnSelect_a_select_moves_the_version_and_names_the_prior()
    {
        var (state, versions) = WithContent();

        var selected = One<ContentSelected>(Decide(state, Select(SelectRef("Observation/o1")), versions, Policy with { BumpVersionOnSelect = true }));
        state = TestData.Apply(state, [selected]);

        Assert.Equal(("v3", "v2"), (selected.VersionId, selected.PriorVersionId));
        Assert.Contains(Versions("v3", "v2"), selected.Notification);
        Assert.Equal("v3", state.Current!.VersionId);
    }

    [Fact]
    public void AMB_02_a_select_does_not_check_a_supplied_version()
    {
        var (state, versions) = WithContent();
        var json = Event("DiagnosticReport-select", Context(ReportRef, SelectRef("Observation/o1")), eventExtras: ",\"context.versionId\":\"stale\"");

        Assert.Equal("v2", One<ContentSelected>(Decide(state, json, versions)).VersionId);
    }

    [Theory]
    [InlineData("ImagingStudy/s1")]
    [InlineData("Patient/p1")]
    [InlineData("DiagnosticReport/r1")]
    [InlineData("https://fhir.example.com/Observation/o1")]
    public void AMB_07_resources_of_the_open_context_and_of_its_content_are_known(string reference)
    {
        var (state, versions) = WithContent();

        Assert.Single(One<ContentSelected>(Decide(state, Select(SelectRef(reference)), versions)).Selected);
    }

    [Fact]
    public void HUB_SEL_04_the_selection_replaces_the_previous_one_and_repeats_collapse()
    {
        var (state, versions) = WithContent();
        state = Apply(state, Decide(state, Select(SelectRef("Observation/o1"), SelectRef("ImagingStudy/s1"), SelectRef("Observation/o1")), versions));
        Assert.Equal(["Observation/o1", "ImagingStudy/s1"], state.Current!.Selection);

        state = Apply(state, Decide(state, Select(SelectRef("Patient/p1")), versions));

        Assert.Equal(["Patient/p1"], state.Current!.Selection);
    }

    [Fact]
    public void AMB_07_unknown_references_are_left_out_of_the_distributed_select_and_make_it_partial()
    {
        var (state, versions) = WithContent();
        var json = Select(SelectRef("Observation/o1"), SelectRef("Observation/unknown"));

        var selected = One<ContentSelected>(Decide(state, json, versions), partial: true);

        Assert.True(selected.Partial);
        Assert.Equal(["Observation/o1"], selected.Selected);
        Assert.Equal(Event("DiagnosticReport-select", Context(ReportRef, SelectRef("Observation/o1")), id: "sel-1", eventExtras: Versions("v2")), selected.Notification);
    }

    [Fact]
    public void AMB_05_in_the_array_form_only_the_known_items_are_kept()
    {
        var (state, versions) = WithContent();
        var json = Select("""{"key":"select","resource":[{"resourceType":"Observation","id":"o1"},{"resourceType":"Observation","id":"zzz"}]}""");

        var selected = One<ContentSelected>(Decide(state, json, versions), partial: true);

        Assert.Equal(
            Event("DiagnosticReport-select", Context(ReportRef, """{"key":"select","resource":[{"resourceType":"Observation","id":"o1"}]}"""), id: "sel-1", eventExtras: Versions("v2")),
            selected.Notification);
    }

    [Fact]
    public void AMB_07_a_select_naming_only_unknown_resources_is_partial_and_distributes_nothing()
    {
        var (state, versions) = WithContent();

        var published = Accepted(Decide(state, Select(SelectRef("Observation/unknown")), versions, Policy with { BumpVersionOnSelect = true }));

        Assert.True(published.Partial);
        Assert.Empty(published.Events);
        Assert.Equal("v3", versions());
    }

    [Theory]
    [InlineData("""{"key":"select","reference":[]}""")]
    [InlineData("""{"key":"select","resource":[]}""")]
    public void AMB_05_an_empty_select_array_clears_the_selection(string clear)
    {
        var (state, versions) = WithContent();
        state = Apply(state, Decide(state, Select(SelectRef("Observation/o1")), versions));

        var selected = One<ContentSelected>(Decide(state, Select(clear), versions));
        state = TestData.Apply(state, [selected]);

        Assert.Empty(selected.Selected);
        Assert.Empty(state.Current!.Selection);
    }

    public static TheoryData<string, string> BadSelects => new()
    {
        { Select(), "at least one `select`" },
        { Select(Reference("Select", "Observation/o1")), "at least one `select`" },
        { Select("""{"key":"select","string":"Observation/o1"}"""), "must hold a `reference` or a `resource`" },
        { Select(SelectRef("urn:uuid:1")), "must name a resource" },
        { Select("""{"key":"select","reference":["Observation/o1"]}"""), "must name a resource" },
        { Select("""{"key":"select","resource":{"resourceType":"Observation"}}"""), "must name a resource" },
        { Select(SelectRef("Observation/o1"), """{"key":"select","reference":{}}"""), "must name a resource" },
    };

    [Theory]
    [MemberData(nameof(BadSelects))]
    public void HUB_SEL_01_a_select_needs_select_entries_that_each_name_a_resource(string json, string reason)
    {
        var (state, versions) = WithContent();

        Assert.Contains(reason, Rejected(Decide(state, json, versions), RejectionKind.Invalid).Message);
    }

    [Fact]
    public void HUB_CTX_05_after_a_close_the_anchor_accepts_no_update_or_select()
    {
        var (state, versions) = WithContent();
        state = StateAfter(state, Event("DiagnosticReport-close", Context(ReportRef)), versions);

        Rejected(Decide(state, Update("v2", Put(Observation)), versions), RejectionKind.Conflict);
        Rejected(Decide(state, Select(SelectRef("Observation/o1")), versions), RejectionKind.Conflict);
    }
}
