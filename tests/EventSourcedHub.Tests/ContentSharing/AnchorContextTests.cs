using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.ContentSharing;

/// <summary>Several open report contexts in one session (IRA rapid switching).</summary>
public sealed class AnchorContextTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<string> CurrentReportAsync(string topic) => (string)(await _hub.GetContextAsync(topic))["context"]![0]!["resource"]!["id"]!;

    [Fact]
    public async Task HUB_CTX_02_IRA_HUB_06_opening_another_report_suspends_the_current_one_with_its_content_and_version()
    {
        var topic = NewTopic();
        await using var listener = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        var v1 = (string)(await listener.ReceiveAsync())["event"]!["context.versionId"]!;
        await _hub.PublishAsync(ReportUpdate(topic, "r1", v1, [Put(ObservationResource("o1"), "Observation/o1")]));
        var v1b = (string)(await listener.ReceiveAsync())["event"]!["context.versionId"]!;
        await _hub.PublishAsync(ReportOpen(topic, "r2"));
        Assert.Equal("r2", await CurrentReportAsync(topic));

        // r1 is suspended, not closed: it still accepts an update against its own latest version.
        await _hub.PublishAsync(ReportUpdate(topic, "r1", v1b, [Put(ObservationResource("o2"), "Observation/o2")]));
    }

    [Fact]
    public async Task HUB_CTX_03_reopening_a_suspended_report_resumes_it_with_its_content_and_a_new_version_after_the_last()
    {
        var topic = NewTopic();
        await using var listener = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        var v1 = (string)(await listener.ReceiveAsync())["event"]!["context.versionId"]!;
        await _hub.PublishAsync(ReportUpdate(topic, "r1", v1, [Put(ObservationResource("o1"), "Observation/o1")]));
        var last = (string)(await listener.ReceiveAsync())["event"]!["context.versionId"]!;
        await _hub.PublishAsync(ReportOpen(topic, "r2"));
        await listener.ReceiveAsync();

        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        var resumed = await listener.ReceiveAsync();
        Assert.Equal(last, (string?)resumed["event"]!["context.priorVersionId"]);
        Assert.NotEqual(last, (string?)resumed["event"]!["context.versionId"]);
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("r1", (string?)context["context"]![0]!["resource"]!["id"]);
        Assert.Equal("Observation/o1", (string?)context["context"]!.AsArray().Last()!["resource"]!["entry"]![0]!["fullUrl"]);
    }

    [Fact]
    public async Task HUB_CTX_04_IRA_HUB_06_closing_the_current_report_leaves_the_context_empty_even_with_another_open()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        await _hub.PublishAsync(ReportOpen(topic, "r2"));
        await _hub.PublishAsync(ReportClose(topic, "r2"));
        Assert.Equal("", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        Assert.Equal("r1", await CurrentReportAsync(topic));
    }

    [Fact]
    public async Task HUB_CTX_05_IRA_HUB_05_update_select_and_close_of_a_report_that_is_not_open_are_409()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        foreach (var request in new[] { ReportUpdate(topic, "r2", "v", []), ReportSelect(topic, "r2", "Observation/o"), ReportClose(topic, "r2") })
        {
            using var response = await _hub.PublishJsonAsync(request);
            await HubClient.AssertOperationOutcome(response, HttpStatusCode.Conflict, "conflict");
        }
    }

    [Fact]
    public async Task HUB_CTX_06_a_report_close_without_the_report_id_is_400()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        using var response = await _hub.PublishJsonAsync(Envelope(topic, "DiagnosticReport-close", """[{"key":"report","resource":{"resourceType":"DiagnosticReport"}}]"""));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Theory]
    [InlineData("patient")]
    [InlineData("study")]
    public async Task HUB_CTX_07_a_report_open_without_patient_or_study_is_400(string missing)
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        var open = ReportOpen(topic, "r1").Replace($"\"key\":\"{missing}\"", "\"key\":\"other\"");
        using var response = await _hub.PublishJsonAsync(open);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task HUB_CTX_08_IRA_HUB_07_the_hub_never_originates_opens_or_closes_when_the_context_changes()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-close");
        await _hub.PublishAsync(ReportOpen(topic, "r1", id: "o1"));
        await _hub.PublishAsync(ReportOpen(topic, "r2", id: "o2"));
        await _hub.PublishAsync(ReportClose(topic, "r2", id: "c2"));
        Assert.Equal(["o1", "o2", "c2"], new[] { await subscriber.ReceiveAsync(), await subscriber.ReceiveAsync(), await subscriber.ReceiveAsync() }.Select(m => (string?)m["id"]));
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_CTX_09_subscribers_of_lesser_events_get_implied_opens_once_and_ira_subscribers_get_none()
    {
        var topic = NewTopic();
        await using var ehr = await _hub.SubscribeAndConnectAsync(topic, "Patient-open", "EHR");
        await using var pacs = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open,Patient-open", "PACS");
        await using var ira = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,Patient-open", "Reporting");
        var open = ReportOpen(topic, "r1", patientId: "pat-9", studyId: "stu-9", id: "report-open");
        await _hub.PublishAsync(open);

        var patientOpen = await ehr.ReceiveAndAckAsync();
        Assert.Equal("Patient-open", (string?)patientOpen["event"]!["hub.event"]);
        Assert.NotEqual("report-open", (string?)patientOpen["id"]);
        Assert.Equal((string?)JsonNode.Parse(open)!["timestamp"], (string?)patientOpen["timestamp"]);
        Assert.Equal("pat-9", (string?)Assert.Single(patientOpen["event"]!["context"]!.AsArray())!["resource"]!["id"]);

        var implied = new[] { await pacs.ReceiveAndAckAsync(), await pacs.ReceiveAndAckAsync() };
        Assert.Equal(["ImagingStudy-open", "Patient-open"], implied.Select(m => (string?)m["event"]!["hub.event"]).Order());
        var studyOpen = implied.Single(m => (string?)m["event"]!["hub.event"] == "ImagingStudy-open");
        Assert.Equal(["study", "patient"], studyOpen["event"]!["context"]!.AsArray().Select(e => (string?)e!["key"]));

        Assert.Equal("report-open", (string?)(await ira.ReceiveAndAckAsync())["id"]);
        await ira.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));

        // A second report for the same patient implies no second Patient-open: nothing changed for the EHR.
        await _hub.PublishAsync(ReportOpen(topic, "r2", patientId: "pat-9", studyId: "stu-9"));
        await ehr.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
        // The implied opens changed no state: the current context is the report.
        Assert.Equal("DiagnosticReport", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task HUB_CTX_09_implied_opens_can_be_switched_off()
    {
        await using var hub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:DeriveOpenEvents"] = "false" });
        var topic = NewTopic();
        await using var ehr = await hub.Client.SubscribeAndConnectAsync(topic, "Patient-open", "EHR");
        await hub.Client.PublishAsync(ReportOpen(topic, "r1"));
        await ehr.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(500));
    }
}
