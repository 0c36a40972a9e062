using System.Net;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>
/// A full reporting session as the audit tests record it: subscribe and connect, open a report, update it with two PUTs,
/// select, update it with a DELETE, close it, unsubscribe. Eight stream events; three content changes.
/// </summary>
public static class ReportingSession
{
    public const int Events = 8;
    public const int ContentChanges = 3;
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
    }
}
