using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Compatibility;

/// <summary>
/// The measurement update of a viewer that sends only an `updates` bundle: no `report` entry, no `context.versionId`
/// (OHIF's FHIRcast extension), posted to `{hub}/{topic}`.
/// </summary>
internal static class MeasurementUpdate
{
    public static string Body(string topic, string id) => """
        {"id":"ID","timestamp":"2025-03-01T15:00:01.250Z","event":{"hub.topic":"TOPIC","hub.event":"DiagnosticReport-update","context":[
          {"key":"updates","resource":{"resourceType":"Bundle","type":"transaction","entry":[
            {"request":{"method":"POST"},"resource":{"resourceType":"Observation","id":"m-1","status":"preliminary","valueQuantity":{"value":12.5,"unit":"mm"}}},
            {"request":{"method":"POST"},"resource":{"resourceType":"ImagingSelection","id":"m-1","status":"available","studyUid":"2.25.1"}}]}}]}}
        """.Replace("\"ID\"", $"\"{id}\"").Replace("\"TOPIC\"", $"\"{topic}\"");
}

/// <summary>`Hub:Compatibility:LenientUpdates=true` (rulings.md 36).</summary>
public sealed class LenientUpdateTests() : OwnHubTests(new Dictionary<string, string?> { ["Hub:Compatibility:LenientUpdates"] = "true" })
{
    [Fact]
    public async Task Rulings_36_an_update_without_report_or_version_applies_to_the_current_report_and_is_forwarded_with_the_hubs_versions()
    {
        var topic = NewTopic();
        await using var reporting = await Hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update", "Reporting");
        await Hub.PublishAsync(ReportOpen(topic, "rep-1", id: "open-1"));
        var openVersion = (string?)(await reporting.ReceiveAndAckAsync())["event"]!["context.versionId"];
        Assert.NotNull(openVersion);

        var body = MeasurementUpdate.Body(topic, "OHIF-m1");
        await Hub.PublishAsync(body, pathTopic: topic);

        var update = await reporting.ReceiveAndAckAsync();
        var newVersion = (string?)update["event"]!["context.versionId"];
        Assert.True(Guid.TryParse(newVersion, out _));
        Assert.NotEqual(openVersion, newVersion);
        Assert.Equal(openVersion, (string?)update["event"]!["context.priorVersionId"]);
        // Everything else as sent (rulings.md 9).
        Assert.Equal(HubClient.Canonical(ContextOf(body)), HubClient.Canonical(update["event"]!["context"]));

        var context = await Hub.GetContextAsync(topic);
        Assert.Equal(newVersion, (string?)context["context.versionId"]);
        var content = context["context"]!.AsArray().Single(e => (string?)e!["key"] == "content")!["resource"]!["entry"]!.AsArray();
        Assert.Equal(["Observation/m-1", "ImagingSelection/m-1"],
            content.Select(e => $"{(string?)e!["resource"]!["resourceType"]}/{(string?)e["resource"]!["id"]}"));

        // The audit says how it was accepted.
        using var audit = await Hub.Http.GetAsync($"/api/sessions/{topic}/audit");
        var updateAudit = JsonNode.Parse(await audit.Content.ReadAsStringAsync())!["entry"]!.AsArray()
            .Select(e => e!["resource"]!).Single(r => (string?)r["subtype"]![0]!["code"] == "DiagnosticReport-update");
        Assert.Equal($"2 change(s); accepted leniently (Hub:Compatibility:LenientUpdates): without a `report` entry, applied to the current "
            + $"DiagnosticReport/rep-1; without `context.versionId`, applied to its current version {openVersion}", (string?)updateAudit["outcomeDesc"]);
    }

    [Fact]
    public async Task Rulings_36_an_update_without_report_while_no_report_is_open_is_409()
    {
        var topic = NewTopic();
        await Hub.SubscribeAsync(topic, "Patient-open");
        await Hub.PublishAsync(PatientOpen(topic, "p1"));

        using var response = await Hub.PublishJsonAsync(MeasurementUpdate.Body(topic, "OHIF-m2"), pathTopic: topic);

        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.Conflict, "conflict");
        Assert.Equal("`DiagnosticReport-update` names no `report` and no DiagnosticReport context is open on this topic (HUB-CTX-05).",
            (string?)outcome["issue"]![0]!["diagnostics"]);
    }

    [Fact]
    public async Task Rulings_36_a_stale_version_is_still_400_when_updates_are_lenient()
    {
        var topic = NewTopic();
        await Hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await Hub.PublishAsync(ReportOpen(topic, "rep-1"));

        using var response = await Hub.PublishJsonAsync(ReportUpdate(topic, "rep-1", "stale", [Put(ObservationResource("o1"), "Observation/o1")]));

        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        Assert.Contains("`context.versionId` 'stale' is not the current version of DiagnosticReport/rep-1", (string?)outcome["issue"]![0]!["diagnostics"]);
    }
}

/// <summary>The default: FHIRcast's rules, strictly (rulings.md 36).</summary>
public sealed class StrictUpdateTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    [Fact]
    public async Task Rulings_36_by_default_an_update_without_its_report_entry_is_400_and_changes_nothing()
    {
        var hub = fixture.Client;
        var topic = NewTopic();
        await hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await hub.PublishAsync(ReportOpen(topic, "rep-1"));
        var before = HubClient.Canonical(await hub.GetContextAsync(topic));

        using var response = await hub.PublishJsonAsync(MeasurementUpdate.Body(topic, "OHIF-m3"), pathTopic: topic);

        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        Assert.Equal("`DiagnosticReport-update` must carry exactly one `report` context entry.", (string?)outcome["issue"]![0]!["diagnostics"]);
        Assert.Equal(before, HubClient.Canonical(await hub.GetContextAsync(topic)));
    }
}
