using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.ContentSharing;

public sealed class UpdateTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    /// <summary>A topic with report r1 open; returns the topic and r1's versionId.</summary>
    private async Task<(string Topic, string Version)> OpenReportAsync(string reportId = "r1")
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, reportId));
        return (topic, await CurrentVersionAsync(topic));
    }

    private async Task<string> CurrentVersionAsync(string topic) => (string)(await _hub.GetContextAsync(topic))["context.versionId"]!;

    private static JsonArray ContentEntries(JsonObject context) =>
        context["context"]!.AsArray().Single(e => (string?)e!["key"] == "content")!["resource"]!["entry"]?.AsArray() ?? [];

    [Fact]
    public async Task HUB_CS_02_each_open_assigns_a_new_version_id_unique_within_the_topic()
    {
        var (topic, first) = await OpenReportAsync();
        await _hub.PublishAsync(ReportOpen(topic, "r2"));
        var second = await CurrentVersionAsync(topic);
        Assert.NotEqual(first, second);
        Assert.True(Guid.TryParse(first, out _) && Guid.TryParse(second, out _));
    }

    [Fact]
    public async Task HUB_CS_03_an_update_naming_a_stale_version_is_400_and_changes_nothing()
    {
        var (topic, version) = await OpenReportAsync();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-update");
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1")]));
        await subscriber.ReceiveAsync();
        using var stale = await _hub.PublishJsonAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource("o2"), "Observation/o2")]));
        await HubClient.AssertOperationOutcome(stale, HttpStatusCode.BadRequest, "invalid");
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
        Assert.Single(ContentEntries(await _hub.GetContextAsync(topic)));
    }

    [Fact]
    public async Task HUB_CS_03_an_update_without_a_version_is_400_and_versionId_is_accepted_as_an_alias()
    {
        var (topic, version) = await OpenReportAsync();
        using var missing = await _hub.PublishJsonAsync(ReportUpdate(topic, "r1", null, [Put(ObservationResource("o1"), "Observation/o1")]));
        await HubClient.AssertOperationOutcome(missing, HttpStatusCode.BadRequest, "invalid");
        var alias = ReportUpdate(topic, "r1", null, [Put(ObservationResource("o1"), "Observation/o1")])
            .Replace("\"hub.event\":\"DiagnosticReport-update\"", $"\"hub.event\":\"DiagnosticReport-update\",\"versionId\":\"{version}\"");
        await _hub.PublishAsync(alias);
    }

    [Fact]
    public async Task HUB_CS_04_an_update_is_applied_whole_or_not_at_all()
    {
        var (topic, version) = await OpenReportAsync();
        using var response = await _hub.PublishJsonAsync(ReportUpdate(topic, "r1", version,
            [Put(ObservationResource("o1"), "Observation/o1"), """{"request":{"method":"PATCH","url":"Observation/o2"}}"""]));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        var context = await _hub.GetContextAsync(topic);
        Assert.Empty(ContentEntries(context));
        Assert.Equal(version, (string?)context["context.versionId"]);
    }

    [Fact]
    public async Task HUB_CS_04_two_updates_racing_on_one_version_exactly_one_wins()
    {
        var (topic, version) = await OpenReportAsync();
        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(i =>
            _hub.PublishJsonAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource($"o{i}"), $"Observation/o{i}")]))));
        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Accepted));
        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.BadRequest));
        Assert.Single(ContentEntries(await _hub.GetContextAsync(topic)));
        foreach (var r in responses) r.Dispose();
    }

    [Fact]
    public async Task HUB_CS_05_the_distributed_update_carries_the_new_and_prior_version_and_the_same_bundle()
    {
        var (topic, version) = await OpenReportAsync();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-update");
        var request = ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1")], bundleId: "upd-8i7tbu");
        await _hub.PublishAsync(request);
        var update = await subscriber.ReceiveAsync();
        var newVersion = (string?)update["event"]!["context.versionId"];
        Assert.NotEqual(version, newVersion);
        Assert.Equal(version, (string?)update["event"]!["context.priorVersionId"]);
        Assert.Equal(newVersion, await CurrentVersionAsync(topic));
        Assert.Equal(HubClient.Canonical(ContextOf(request)), HubClient.Canonical(update["event"]!["context"]));
    }

    [Fact]
    public async Task HUB_CS_06_the_anchor_may_be_a_reference_or_a_resource_and_updates_is_required()
    {
        var (topic, version) = await OpenReportAsync();
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1")], anchorAsResource: true));

        var noUpdates = Envelope(topic, "DiagnosticReport-update", """[{"key":"report","reference":{"reference":"DiagnosticReport/r1"}}]""")
            .Replace("\"hub.event\":\"DiagnosticReport-update\"", $"\"hub.event\":\"DiagnosticReport-update\",\"context.versionId\":\"{await CurrentVersionAsync(topic)}\"");
        using var missingUpdates = await _hub.PublishJsonAsync(noUpdates);
        await HubClient.AssertOperationOutcome(missingUpdates, HttpStatusCode.BadRequest, "invalid");

        var noReport = ReportUpdate(topic, "r1", version, []).Replace("\"key\":\"report\"", "\"key\":\"rapport\"");
        using var missingReport = await _hub.PublishJsonAsync(noReport);
        await HubClient.AssertOperationOutcome(missingReport, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task HUB_CS_07_put_adds_or_replaces_delete_removes_by_url_or_full_url_and_post_with_id_is_a_put()
    {
        var (topic, version) = await OpenReportAsync();
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version,
        [
            Put(ObservationResource("o1"), "Observation/o1"),
            """{"request":{"method":"POST"},"resource":{"resourceType":"Observation","id":"o2","status":"preliminary"}}""",
            Put(ImagingSelectionResource("is1"), "ImagingSelection/is1"),
        ]));
        version = await CurrentVersionAsync(topic);
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version,
        [
            Put(ObservationResource("o1", "final"), "Observation/o1"),
            Delete("Observation/o2"),
            """{"fullUrl":"https://fhir.example.org/ImagingSelection/is1","request":{"method":"DELETE"}}""",
            Delete("Observation/never-there"),
        ]));
        var entries = ContentEntries(await _hub.GetContextAsync(topic));
        var only = Assert.Single(entries);
        Assert.Equal("Observation/o1", (string?)only!["fullUrl"]);
        Assert.Equal("final", (string?)only["resource"]!["status"]);
    }

    [Theory]
    [InlineData("""{"request":{"method":"POST"},"resource":{"resourceType":"Observation","status":"preliminary"}}""")]
    [InlineData("""{"request":{"method":"PUT","url":"Observation/x"},"resource":{"resourceType":"Observation"}}""")]
    [InlineData("""{"request":{"method":"DELETE"}}""")]
    [InlineData("""{"resource":{"resourceType":"Observation","id":"x"}}""")]
    [InlineData("""{"request":{"method":"PUT","url":"Observation/d"},"resource":{"resourceType":"Observation","id":"d"}},{"request":{"method":"DELETE","url":"Observation/d"}}""")]
    [InlineData("""[]""")]
    public async Task HUB_CS_07_malformed_bundle_entries_are_400(string entries)
    {
        var (topic, version) = await OpenReportAsync();
        using var response = await _hub.PublishJsonAsync(ReportUpdate(topic, "r1", version, [entries]));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task HUB_CS_08_HUB_GCC_05_an_update_to_a_context_resource_shows_in_content_while_the_context_stays_as_opened()
    {
        var (topic, version) = await OpenReportAsync();
        var opened = await _hub.GetContextAsync(topic);
        var finalReport = """{"resourceType":"DiagnosticReport","id":"r1","status":"final"}""";
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(finalReport, "DiagnosticReport/r1")]));
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal(HubClient.Canonical(opened["context"]![0]), HubClient.Canonical(context["context"]![0]));
        Assert.Equal("final", (string?)Assert.Single(ContentEntries(context))!["resource"]!["status"]);
    }

    public static TheoryData<string, string> IdentityViolations() => new()
    {
        { "delete the patient", Delete("Patient/pat-1") },
        { "delete the study", Delete("ImagingStudy/stu-1") },
        { "delete the report", Delete("DiagnosticReport/r1") },
        { "change the patient identifier", Put("""{"resourceType":"Patient","id":"pat-1","identifier":[{"system":"urn:oid:1.2.840.114350","value":"other"}]}""", "Patient/pat-1") },
        { "change the study identifiers", Put("""{"resourceType":"ImagingStudy","id":"stu-1","status":"available","identifier":[{"system":"urn:dicom:uid","value":"urn:oid:9.9"}]}""", "ImagingStudy/stu-1") },
    };

    [Theory]
    [MemberData(nameof(IdentityViolations))]
    public async Task HUB_CS_09_an_update_may_not_delete_context_resources_or_change_patient_or_study_identifiers(string why, string entry)
    {
        var (topic, version) = await OpenReportAsync();
        using var response = await _hub.PublishJsonAsync(ReportUpdate(topic, "r1", version, [entry]));
        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        Assert.Contains("HUB-CS-09", (string?)outcome["issue"]![0]!["diagnostics"] + why);
    }

    [Fact]
    public async Task HUB_CS_09_a_study_update_that_keeps_its_identifiers_is_accepted()
    {
        var (topic, version) = await OpenReportAsync();
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(StudyResource("stu-1").Replace("\"available\"", "\"registered\""), "ImagingStudy/stu-1")]));
    }

    [Fact]
    public async Task HUB_CS_12_closing_a_report_disposes_its_content()
    {
        var (topic, version) = await OpenReportAsync();
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1")]));
        await _hub.PublishAsync(ReportClose(topic, "r1"));
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        Assert.Empty(ContentEntries(await _hub.GetContextAsync(topic)));
    }

    [Fact]
    public async Task HUB_CS_13_an_open_report_that_is_not_current_accepts_updates_against_its_own_version()
    {
        var topic = NewTopic();
        await using var listener = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        var r1Version = (string)(await listener.ReceiveAsync())["event"]!["context.versionId"]!;
        await _hub.PublishAsync(ReportOpen(topic, "r2"));
        await listener.ReceiveAsync();
        await _hub.PublishAsync(ReportUpdate(topic, "r1", r1Version, [Put(ObservationResource("o1"), "Observation/o1")]));
        Assert.Equal(r1Version, (string?)(await listener.ReceiveAsync())["event"]!["context.priorVersionId"]);
        Assert.Equal("r2", (string?)(await _hub.GetContextAsync(topic))["context"]![0]!["resource"]!["id"]);
    }

    [Fact]
    public async Task HUB_CS_14_a_bundle_with_more_entries_than_the_limit_is_413()
    {
        await using var hub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:Limits:MaxBundleEntries"] = "3" });
        var topic = NewTopic();
        await hub.Client.SubscribeAsync(topic, "DiagnosticReport-open");
        await hub.Client.PublishAsync(ReportOpen(topic, "r1"));
        var version = (string)(await hub.Client.GetContextAsync(topic))["context.versionId"]!;
        using var response = await hub.Client.PublishJsonAsync(ReportUpdate(topic, "r1", version,
            Enumerable.Range(0, 4).Select(i => Put(ObservationResource($"o{i}"), $"Observation/o{i}")).ToArray()));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.RequestEntityTooLarge, "too-long");
    }

    [Fact]
    public async Task HUB_GCC_04_content_is_a_collection_bundle_of_resources_as_last_put_without_requests()
    {
        var (topic, version) = await OpenReportAsync();
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ImagingSelectionResource("is1"), "ImagingSelection/is1")]));
        var context = await _hub.GetContextAsync(topic);
        var content = context["context"]!.AsArray().Last()!;
        Assert.Equal("content", (string?)content["key"]);
        Assert.Equal("collection", (string?)content["resource"]!["type"]);
        var entry = Assert.Single(ContentEntries(context))!.AsObject();
        Assert.Equal(new[] { "fullUrl", "resource" }, entry.Select(p => p.Key).ToArray());
        Assert.Equal(HubClient.Canonical(JsonNode.Parse(ImagingSelectionResource("is1"))), HubClient.Canonical(entry["resource"]));
    }

    [Fact]
    public async Task HUB_CTX_05_update_of_a_report_that_is_not_open_is_409()
    {
        var (topic, version) = await OpenReportAsync();
        using var other = await _hub.PublishJsonAsync(ReportUpdate(topic, "r-unknown", version, []));
        await HubClient.AssertOperationOutcome(other, HttpStatusCode.Conflict, "conflict");
        await _hub.PublishAsync(ReportClose(topic, "r1"));
        using var closed = await _hub.PublishJsonAsync(ReportUpdate(topic, "r1", version, []));
        await HubClient.AssertOperationOutcome(closed, HttpStatusCode.Conflict, "conflict");
    }
}
