using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.ContentSharing;

/// <summary>The IHE IRA reporting session end to end: PACS, reporting app and an AI evidence creator on one report.</summary>
public sealed class IraReportingSessionTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private const string IraEvents = "diagnosticreport-open,diagnosticreport-close,diagnosticreport-update,diagnosticreport-select,syncerror";
    private readonly HubClient _hub = fixture.Client;

    [Fact]
    public async Task IRA_HUB_01_to_07_a_full_reporting_session_keeps_three_apps_in_sync()
    {
        var topic = NewTopic();
        await using var pacs = await _hub.SubscribeAndConnectAsync(topic, IraEvents, "PACS");
        await using var reporting = await _hub.SubscribeAndConnectAsync(topic, IraEvents, "Reporting");
        await using var ai = await _hub.SubscribeAndConnectAsync(topic, IraEvents, "AI nodule detector");
        TestSubscriber[] apps = [pacs, reporting, ai];

        async Task<JsonObject[]> EveryAppReceivesAsync(string expectedEvent, string expectedId)
        {
            var received = new List<JsonObject>();
            foreach (var app in apps)
            {
                var notification = await app.ReceiveAndAckAsync();
                Assert.Equal(expectedEvent, (string?)notification["event"]!["hub.event"]);
                Assert.Equal(expectedId, (string?)notification["id"]);
                received.Add(notification);
            }
            // One and the same text for everybody.
            Assert.Single(received.Select(HubClient.Canonical).Distinct());
            return received.ToArray();
        }

        // 1. The reporting app opens the study's report.
        var open = ReportOpen(topic, "rpt-1", id: "open-1");
        await _hub.PublishAsync(open);
        var v1 = (string)(await EveryAppReceivesAsync("DiagnosticReport-open", "open-1"))[0]["event"]!["context.versionId"]!;
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("DiagnosticReport", (string?)context["context.type"]);
        Assert.Equal(v1, (string?)context["context.versionId"]);

        // 2. The AI tool adds its evidence: an R5 ImagingSelection and a preliminary Observation, kept as sent.
        var imagingSelection = ImagingSelectionResource("isel-1");
        var observation = ObservationResource("obs-1");
        await _hub.PublishAsync(ReportUpdate(topic, "rpt-1", v1,
            [Put(imagingSelection, "ImagingSelection/isel-1"), Put(observation, "Observation/obs-1")], id: "update-1", bundleId: "ai-bundle"));
        var update = (await EveryAppReceivesAsync("DiagnosticReport-update", "update-1"))[0];
        var v2 = (string)update["event"]!["context.versionId"]!;
        Assert.Equal(v1, (string?)update["event"]!["context.priorVersionId"]);
        context = await _hub.GetContextAsync(topic);
        Assert.Equal(v2, (string?)context["context.versionId"]);
        var content = context["context"]!.AsArray().Last()!["resource"]!["entry"]!.AsArray();
        Assert.Equal(HubClient.Canonical(JsonNode.Parse(imagingSelection)), HubClient.Canonical(content[0]!["resource"]));
        Assert.Equal(HubClient.Canonical(JsonNode.Parse(observation)), HubClient.Canonical(content[1]!["resource"]));

        // 3. The radiologist selects the AI findings in the reporting app.
        await _hub.PublishAsync(WithId(ReportSelect(topic, "rpt-1", "ImagingSelection/isel-1", "Observation/obs-1"), "select-1"));
        var selected = (await EveryAppReceivesAsync("DiagnosticReport-select", "select-1"))[0];
        Assert.Equal(v2, (string?)selected["event"]!["context.versionId"]);

        // 4. The radiologist makes the finding final and signs the report.
        await _hub.PublishAsync(ReportUpdate(topic, "rpt-1", v2,
            [Put(ObservationResource("obs-1", "final"), "Observation/obs-1"), Put("""{"resourceType":"DiagnosticReport","id":"rpt-1","status":"final"}""", "DiagnosticReport/rpt-1")],
            id: "update-2"));
        var v3 = (string)(await EveryAppReceivesAsync("DiagnosticReport-update", "update-2"))[0]["event"]!["context.versionId"]!;
        context = await _hub.GetContextAsync(topic);
        Assert.Equal(v3, (string?)context["context.versionId"]);
        Assert.Equal(HubClient.Canonical(ContextOf(open)), HubClient.Canonical(new JsonArray(context["context"]!.AsArray().Take(3).Select(e => e!.DeepClone()).ToArray())));
        var finalContent = context["context"]!.AsArray().Last()!["resource"]!["entry"]!.AsArray();
        Assert.Equal(["ImagingSelection/isel-1", "Observation/obs-1", "DiagnosticReport/rpt-1"], finalContent.Select(e => (string?)e!["fullUrl"]));
        Assert.Equal("final", (string?)finalContent[1]!["resource"]!["status"]);

        // 5. The report is closed: the context is empty, and nobody got anything else (no SyncError).
        await _hub.PublishAsync(ReportClose(topic, "rpt-1", id: "close-1"));
        await EveryAppReceivesAsync("DiagnosticReport-close", "close-1");
        Assert.Equal("""{"context.type":"","context":[]}""", HubClient.Canonical(await _hub.GetContextAsync(topic)));
        foreach (var app in apps) await app.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(200));
    }
}
