using System.Net;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>
/// A full reporting session as the audit tests record it: subscribe and connect, open a report, update it with two PUTs,
/// select, update it with a DELETE, close it, unsubscribe. Eight stream events; three content changes; two reads of the
/// current context, which the session's audit lists too (rulings.md 34).
/// </summary>
public static class ReportingSession
{
    public const int Events = 8;
    public const int ContentChanges = 3;
    public const int Reads = 2;

    /// <summary>Every AuditEvent about the session: its events and its reads.</summary>
    public const int Records = Events + Reads;
    public const string App = "Audit reporting app";

    // FhircastEvents' update and select bodies name this patient; the session names its own instead.
    private const string SamplePatient = "Patient/pat-1";

    public static async Task RunAsync(HubClient hub, string topic, string patientId, string reportId = "rpt-1", string studyId = "stu-1", string suffix = "1")
    {
        // Subscribed to an event nobody sends: no notification to acknowledge, so no SyncError can join the log.
        var endpoint = await hub.SubscribeAsync(topic, "UserLogout", App);
        await using (var subscriber = await TestSubscriber.ConnectAsync(endpoint))
        {
            await subscriber.ReceiveAsync();
            await hub.PublishAsync(ReportOpen(topic, reportId, patientId, studyId, id: $"{topic}-open"));
            var v1 = (string)(await hub.GetContextAsync(topic))["context.versionId"]!;
            await hub.PublishAsync(ReportUpdate(topic, reportId, v1,
                [Put(ObservationResource($"obs-{suffix}"), $"Observation/obs-{suffix}"), Put(ImagingSelectionResource($"isel-{suffix}"), $"ImagingSelection/isel-{suffix}")],
                id: $"{topic}-update-1").Replace(SamplePatient, $"Patient/{patientId}"));
            await hub.PublishAsync(WithId(ReportSelect(topic, reportId, $"Observation/obs-{suffix}"), $"{topic}-select").Replace(SamplePatient, $"Patient/{patientId}"));
            var v2 = (string)(await hub.GetContextAsync(topic))["context.versionId"]!;
            await hub.PublishAsync(ReportUpdate(topic, reportId, v2, [Delete($"Observation/obs-{suffix}")], id: $"{topic}-update-2").Replace(SamplePatient, $"Patient/{patientId}"));
            await hub.PublishAsync(ReportClose(topic, reportId, id: $"{topic}-close"));
            using var unsubscribe = await hub.UnsubscribeAsync(topic, endpoint);
            Assert.Equal(HttpStatusCode.Accepted, unsubscribe.StatusCode);
            await subscriber.ReceiveUntilClosedAsync();
        }
        // Reads are audited off the request path: wait until both are stored, so what tests count next is settled.
        for (var attempt = 0; ; attempt++)
        {
            var reads = await hub.Http.GetStringAsync($"/fhir/AuditEvent?entity={Uri.EscapeDataString(topic)}&subtype=get-current-context");
            if (System.Text.Json.Nodes.JsonNode.Parse(reads)!["entry"]?.AsArray().Count == Reads) break;
            Assert.True(attempt < 50, "the session's reads were not audited within 5 s");
            await Task.Delay(100);
        }
    }
}
