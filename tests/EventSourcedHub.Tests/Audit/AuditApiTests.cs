using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>The audit read API over a real hub: session audit and timeline, FHIR search and read, metadata.</summary>
public sealed class AuditApiTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonObject> GetFhirAsync(string url, string? prefer = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (prefer is not null) request.Headers.Add("Prefer", prefer);
        using var response = await _hub.Http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(body)!.AsObject();
    }

    private static List<JsonObject> Resources(JsonObject bundle) =>
        bundle["entry"]?.AsArray().Select(e => e!["resource"]!.AsObject()).ToList() ?? [];

    private static string? Next(JsonObject bundle) =>
        (string?)bundle["link"]?.AsArray().FirstOrDefault(l => (string?)l!["relation"] == "next")?["url"];

    private static string Subtype(JsonObject auditEvent) => (string)auditEvent["subtype"]![0]!["code"]!;

    /// <summary>The AuditEvents of stream events, without the reads that a session's audit lists too.</summary>
    private static List<JsonObject> StreamEvents(List<JsonObject> auditEvents) =>
        auditEvents.Where(e => (string?)e["type"]!["code"] is not ("read" or "rejected-request" or "delivery")).ToList();

    [Fact]
    public async Task a_full_reporting_session_has_one_audit_event_per_step_and_one_provenance_per_content_change()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-full", suffix: "full");

        var bundle = await GetFhirAsync($"/api/sessions/{topic}/audit");
        Assert.Equal("Bundle", (string?)bundle["resourceType"]);
        Assert.Equal("searchset", (string?)bundle["type"]);
        var all = Resources(bundle);
        Assert.Equal(ReportingSession.Records, (int)bundle["total"]!);
        Assert.Equal(ReportingSession.Reads, all.Count(e => Subtype(e) == "get-current-context"));
        var allRecorded = all.Select(e => DateTimeOffset.Parse((string)e["recorded"]!)).ToList();
        Assert.Equal(allRecorded.Order(), allRecorded);
        var events = StreamEvents(all);
        Assert.Equal(ReportingSession.Events, events.Count);
        Assert.Equal(["subscribe", "confirm", "DiagnosticReport-open", "DiagnosticReport-update", "DiagnosticReport-select", "DiagnosticReport-update",
            "DiagnosticReport-close", "unsubscribe"], events.Select(Subtype));
        Assert.All(events, e => Assert.Equal("AuditEvent", (string?)e["resourceType"]));
        var recorded = events.Select(e => DateTimeOffset.Parse((string)e["recorded"]!)).ToList();
        Assert.Equal(recorded.Order(), recorded);

        // RAD-146 subscribe and RAD-152 unsubscribe, by the subscriber, who is the requestor.
        Assert.Contains(events[0]["subtype"]!.AsArray(), c => (string?)c!["code"] == "RAD-146");
        Assert.Contains(events[^1]["subtype"]!.AsArray(), c => (string?)c!["code"] == "RAD-152");
        Assert.Equal(ReportingSession.App, (string?)events[0]["agent"]![0]!["who"]!["display"]);
        Assert.True((bool)events[0]["agent"]![0]!["requestor"]!);
        Assert.Equal("C", (string?)events[0]["action"]);
        Assert.Equal("D", (string?)events[^1]["action"]);
        Assert.Equal("0", (string?)events[2]["outcome"]);
        var openEntities = events[2]["entity"]!.AsArray().Select(e => (string?)e!["what"]!["reference"]).Where(r => r is not null).ToList();
        Assert.Equal(["Patient/pat-full", "ImagingStudy/stu-1", "DiagnosticReport/rpt-1"], openEntities);
        Assert.Contains(events[2]["entity"]!.AsArray(), e => (string?)e!["what"]!["identifier"]?["value"] == topic);
        Assert.Contains(events[2]["entity"]!.AsArray(), e => (string?)e!["what"]!["identifier"]?["value"] == $"{topic}-open");

        var observation = Resources(await GetFhirAsync("/fhir/Provenance?target=Observation/obs-full&_sort=recorded"));
        var selection = Resources(await GetFhirAsync("/fhir/Provenance?target=ImagingSelection/isel-full"));
        Assert.Equal(ReportingSession.ContentChanges, observation.Count + selection.Count);
        Assert.Equal(["CREATE", "DELETE"], observation.Select(p => (string)p["activity"]!["coding"]![0]!["code"]!));
        Assert.Equal("CREATE", (string?)selection[0]["activity"]!["coding"]![0]!["code"]);
        Assert.Equal("Observation/obs-full", (string?)observation[0]["target"]![0]!["reference"]);
        Assert.Equal($"{topic}-update-1", (string?)observation[0]["entity"]![0]!["what"]!["identifier"]!["value"]);
        // Without tokens the author is named by its network address (rulings.md 33).
        Assert.Equal("127.0.0.1", (string?)observation[0]["agent"]![0]!["who"]!["display"]);
    }

    [Fact]
    public async Task searching_by_patient_finds_that_sessions_records_and_only_those()
    {
        var first = NewTopic();
        var second = NewTopic();
        await ReportingSession.RunAsync(_hub, first, "pat-alpha", suffix: "alpha");
        await ReportingSession.RunAsync(_hub, second, "pat-beta", suffix: "beta");

        // The open, both updates and the select name the patient; the close names only the report.
        foreach (var query in new[] { "patient=Patient/pat-alpha", "patient=pat-alpha", "patient=http://example.org/fhir/Patient/pat-alpha" })
        {
            var found = Resources(await GetFhirAsync($"/fhir/AuditEvent?{query}"));
            Assert.Equal(4, found.Count);
            Assert.All(found, e => Assert.Contains(e["entity"]!.AsArray(), x => (string?)x!["what"]!["identifier"]?["value"] == first));
            Assert.All(found, e => Assert.Contains(e["entity"]!.AsArray(), x => (string?)x!["what"]!["reference"] == "Patient/pat-alpha"));
        }
        var beta = Resources(await GetFhirAsync("/fhir/AuditEvent?patient=Patient/pat-beta"));
        Assert.Equal(4, beta.Count);
        Assert.Empty(Resources(await GetFhirAsync("/fhir/AuditEvent?patient=Patient/pat-nobody")));
        Assert.Equal(8, Resources(await GetFhirAsync("/fhir/AuditEvent?patient=Patient/pat-alpha,Patient/pat-beta")).Count);
    }

    [Fact]
    public async Task paging_with_count_2_walks_every_record_once_in_order_while_new_records_are_written()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-paging", suffix: "paging");
        var all = Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&_count=100")).Select(e => (string)e["id"]!).ToList();
        Assert.Equal(ReportingSession.Records, all.Count);

        var walked = new List<string>();
        var url = $"/fhir/AuditEvent?entity={topic}&_count=2";
        var pages = 0;
        while (url is not null)
        {
            var page = await GetFhirAsync(url);
            var ids = Resources(page).Select(e => (string)e["id"]!).ToList();
            Assert.True(ids.Count <= 2);
            walked.AddRange(ids);
            pages++;
            // New records for the same topic land between pages; they are newer, so they never shift a page.
            await _hub.PublishAsync(Custom(topic, "Audit-test"));
            url = Next(page);
            if (url is not null) Assert.StartsWith(fixture.Hub.BaseAddress.ToString().TrimEnd('/') + "/fhir/AuditEvent?", url);
        }
        Assert.Equal(all, walked);
        Assert.Equal(ReportingSession.Records / 2, pages);

        // Oldest first with _sort=date: the same records, reversed, then the ones written meanwhile.
        var ascending = new List<string>();
        url = $"/fhir/AuditEvent?entity={topic}&_count=3&_sort=date";
        while (url is not null)
        {
            var page = await GetFhirAsync(url);
            ascending.AddRange(Resources(page).Select(e => (string)e["id"]!));
            url = Next(page);
        }
        Assert.Equal(Enumerable.Reverse(all), ascending.Take(all.Count));
        Assert.Equal(all.Count + pages, ascending.Count);
    }

    [Fact]
    public async Task date_subtype_agent_and_outcome_narrow_the_search()
    {
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-filters", suffix: "filters");
        var after = DateTimeOffset.UtcNow.AddSeconds(1);
        string Date(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'"));

        Assert.Equal(ReportingSession.Records, Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&date=ge{Date(before)}&date=le{Date(after)}")).Count);
        Assert.Empty(Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&date=lt{Date(before)}")));
        Assert.Empty(Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&date=gt{Date(after)}")));
        // Precision sets the range: ge2026 starts on 1 January, le2026 ends with 31 December.
        Assert.Equal(ReportingSession.Records,
            Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&date=ge{before.UtcDateTime:yyyy}&date=le{after.UtcDateTime:yyyy-MM}")).Count);

        var updates = Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&subtype=diagnosticreport-update"));
        Assert.Equal(2, updates.Count);
        Assert.Single(Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&subtype=urn:eventsourcedhub:subscription-step|subscribe")));
        var byApp = Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&agent={Uri.EscapeDataString(ReportingSession.App)}"));
        Assert.Equal(["unsubscribe", "confirm", "subscribe"], byApp.Select(Subtype));
        Assert.Equal(ReportingSession.Records, Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&outcome=0")).Count);
        Assert.Empty(Resources(await GetFhirAsync($"/fhir/AuditEvent?entity={topic}&outcome=4")));
        Assert.Equal(3, Resources(await GetFhirAsync($"/fhir/AuditEvent?entity=DiagnosticReport/rpt-1&entity={topic}&subtype=DiagnosticReport-update,DiagnosticReport-open")).Count);
    }

    [Fact]
    public async Task each_audit_event_and_provenance_can_be_read_by_id()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-read", suffix: "read");
        var listed = StreamEvents(Resources(await GetFhirAsync($"/api/sessions/{topic}/audit")))[2];
        var read = await GetFhirAsync($"/fhir/AuditEvent/{listed["id"]}");
        Assert.Equal(HubClient.Canonical(listed), HubClient.Canonical(read));

        var provenance = Resources(await GetFhirAsync("/fhir/Provenance?target=Observation/obs-read"))[0];
        Assert.Equal(HubClient.Canonical(provenance), HubClient.Canonical(await GetFhirAsync($"/fhir/Provenance/{provenance["id"]}")));
        Assert.Equal(2, Resources(await GetFhirAsync("/fhir/Provenance?target=Observation/obs-read&agent=127.0.0.1")).Count);
    }

    [Fact]
    public async Task the_timeline_lists_every_recorded_event_in_order()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-timeline", suffix: "timeline");
        using var response = await _hub.Http.GetAsync($"/api/sessions/{topic}/timeline");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var timeline = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var all = timeline["events"]!.AsArray();
        // The session's reads are listed too, in time order, without a stream version (rulings.md 34).
        Assert.Equal(ReportingSession.Reads, all.Count(e => (string?)e!["type"] == "read"));
        var recorded = all.Select(e => DateTimeOffset.Parse((string)e!["recorded"]!)).ToList();
        Assert.Equal(recorded.Order(), recorded);
        var entries = all.Where(e => e!["version"] is not null).ToList();
        Assert.Equal(Enumerable.Range(1, ReportingSession.Events), entries.Select(e => (int)e!["version"]!));
        Assert.Equal(["subscribed", "subscription_confirmed", "context_opened", "content_updated", "content_selected", "content_updated", "context_closed", "unsubscribed"],
            entries.Select(e => (string?)e!["type"]));
        Assert.Equal("DiagnosticReport-open", (string?)entries[2]!["event"]);
        Assert.Equal($"{topic}-open", (string?)entries[2]!["id"]);
        Assert.Equal("subscribe", (string?)entries[0]!["step"]);
    }

    [Fact]
    public async Task HUB_DISC_09_the_capability_statement_advertises_the_hub_url()
    {
        var statement = await GetFhirAsync("/fhir/metadata");
        Assert.Equal("CapabilityStatement", (string?)statement["resourceType"]);
        Assert.Equal("4.0.1", (string?)statement["fhirVersion"]);
        var rest = statement["rest"]!.AsArray().Single(r => (string?)r!["mode"] == "server")!;
        var extension = rest["extension"]!.AsArray().Single(e => (string?)e!["url"] == "http://fhircast.hl7.org/StructureDefinition/fhircast-configuration-extension")!;
        var hubUrl = extension["extension"]!.AsArray().Single(e => (string?)e!["url"] == "hub.url")!;
        Assert.Equal(fixture.Hub.BaseAddress.ToString().TrimEnd('/') + "/api/hub", (string?)hubUrl["valueUrl"]);
        Assert.Equal(["AuditEvent", "Provenance"], rest["resource"]!.AsArray().Select(r => (string?)r!["type"]));
    }

    [Fact]
    public async Task an_unknown_search_parameter_is_400_not_supported_unless_handling_is_lenient()
    {
        using var strict = await _hub.Http.GetAsync("/fhir/AuditEvent?address=somewhere");
        await HubClient.AssertOperationOutcome(strict, HttpStatusCode.BadRequest, "not-supported");
        using var strictProvenance = await _hub.Http.GetAsync("/fhir/Provenance?patient=Patient/p");
        await HubClient.AssertOperationOutcome(strictProvenance, HttpStatusCode.BadRequest, "not-supported");

        var lenient = await GetFhirAsync("/fhir/AuditEvent?address=somewhere&_count=1", prefer: "handling=lenient");
        Assert.Equal("searchset", (string?)lenient["type"]);
        await GetFhirAsync("/fhir/Provenance?patient=Patient/p", prefer: "return=minimal, handling=lenient");
    }

    [Theory]
    [InlineData("/fhir/AuditEvent?date=yesterday")]
    [InlineData("/fhir/AuditEvent?date=2025-13-01")]
    [InlineData("/fhir/AuditEvent?date=ne2025-03-01")]
    [InlineData("/fhir/AuditEvent?_count=0")]
    [InlineData("/fhir/AuditEvent?_count=ten")]
    [InlineData("/fhir/AuditEvent?outcome=5")]
    [InlineData("/fhir/AuditEvent?_cursor=not-a-cursor")]
    [InlineData("/fhir/AuditEvent?patient=")]
    [InlineData("/fhir/Provenance?recorded=2025-03-01T25:00:00Z")]
    [InlineData("/fhir/Provenance?_count=-1")]
    public async Task an_invalid_search_value_is_400_invalid(string url)
    {
        using var response = await _hub.Http.GetAsync(url);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Theory]
    [InlineData("/fhir/AuditEvent?_sort=agent")]
    [InlineData("/fhir/Provenance?_sort=date")]
    public async Task sorting_on_anything_but_the_date_is_400_not_supported(string url)
    {
        using var response = await _hub.Http.GetAsync(url);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "not-supported");
    }

    [Theory]
    [InlineData("/fhir/AuditEvent/no-such-id")]
    [InlineData("/fhir/Provenance/no-such-id")]
    [InlineData("/api/sessions/no-such-topic/audit")]
    [InlineData("/api/sessions/no-such-topic/timeline")]
    public async Task an_unknown_resource_or_topic_is_404_not_found(string url)
    {
        using var response = await _hub.Http.GetAsync(url);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.NotFound, "not-found");
    }
}
