using System.Net;
using EventSourcedHub.Tests.Infrastructure;

namespace EventSourcedHub.Tests.Observability;

/// <summary>
/// The hub's counters are process-wide (one static meter), so the classes that read exact values run in this collection,
/// after the parallel ones and alone: nothing else publishes meanwhile, and values are compared before and after.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics";
}

[Collection(MetricsCollection.Name)]
public sealed class MetricsTests() : OwnHubTests(new Dictionary<string, string?> { ["Hub:AckTimeoutSeconds"] = "1" })
{
    private const string Accepted = "eventsourcedhub_events_accepted_total";
    private const string Rejected = "eventsourcedhub_events_rejected_total";
    private const string Deliveries = "eventsourcedhub_deliveries_total";
    private const string LatencyCount = "eventsourcedhub_delivery_latency_milliseconds_count";
    private const string LatencySum = "eventsourcedhub_delivery_latency_milliseconds_sum";
    private const string AckTimeouts = "eventsourcedhub_ack_timeouts_total";
    private const string SyncErrors = "eventsourcedhub_sync_errors_total";
    private const string BatchCount = "eventsourcedhub_commit_batch_size_count";
    private const string BatchSum = "eventsourcedhub_commit_batch_size_sum";
    private const string OpenSockets = "eventsourcedhub_websockets_open";

    [Fact]
    public async Task a_publish_its_deliveries_an_ack_time_out_and_the_sync_error_show_in_metrics()
    {
        var topic = FhircastEvents.NewTopic();
        var before = await PrometheusText.ScrapeAsync(Hub.Http);

        await using var watcher = await Hub.SubscribeAndConnectAsync(topic, "Patient-open,SyncError", "watcher");
        await using var silent = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "silent");
        Assert.Equal(2, (await PrometheusText.ScrapeAsync(Hub.Http)).Value(OpenSockets));

        await Hub.PublishAsync(FhircastEvents.PatientOpen(topic, "pat-1"));
        await watcher.ReceiveAndAckAsync();
        await silent.ReceiveAsync();
        // The silent subscriber does not ack within 1 s: it is ended and the watcher hears of it.
        var syncError = await watcher.ReceiveAsync();
        Assert.Equal("SyncError", (string?)syncError["event"]!["hub.event"]);
        await silent.ReceiveUntilClosedAsync();

        var after = await ScrapeUntilAsync(m => m.Value(OpenSockets) == 1 && m.Value(Deliveries) - before.Value(Deliveries) >= 3);
        Assert.Equal(1, Delta(before, after, Accepted, ("fhircast_event", "Patient-open")));
        // Two Patient-open notifications and the SyncError, all committed by this process, so all timed.
        Assert.Equal(3, Delta(before, after, Deliveries));
        Assert.Equal(3, Delta(before, after, LatencyCount));
        Assert.True(Delta(before, after, LatencySum) > 0);
        Assert.Equal(1, Delta(before, after, AckTimeouts));
        Assert.Equal(1, Delta(before, after, SyncErrors));
        // Two subscribes, two confirmations, the publish, the drop with its SyncError: six appends in however many batches.
        Assert.Equal(6, Delta(before, after, BatchSum));
        Assert.InRange(Delta(before, after, BatchCount), 1, 6);
        Assert.Equal(1, after.Value(OpenSockets));
        Assert.Equal(1, after.Value("eventsourcedhub_cluster_leader"));
        Assert.True(after.Has("eventsourcedhub_audit_queue_depth"), "no audit queue depth");
        Assert.True(after.Has("eventsourcedhub_audit_lag"), "no audit lag");
        // The standard instrumentation is exported beside the hub's own.
        Assert.True(after.Has("http_server_request_duration_seconds_count"), "no ASP.NET Core metrics");
        Assert.True(after.Has("dotnet_gc_collections_total"), "no runtime metrics");
    }

    [Fact]
    public async Task rejected_events_are_counted_by_status_and_only_known_event_names_are_shown()
    {
        var before = await PrometheusText.ScrapeAsync(Hub.Http);

        using (var unknownTopic = await Hub.PublishJsonAsync(FhircastEvents.PatientOpen(FhircastEvents.NewTopic(), "pat-1")))
            Assert.Equal(HttpStatusCode.BadRequest, unknownTopic.StatusCode);
        using (var madeUp = await Hub.PublishJsonAsync(FhircastEvents.Custom(FhircastEvents.NewTopic(), "Confidential-open")))
            Assert.Equal(HttpStatusCode.BadRequest, madeUp.StatusCode);
        using (var notJson = await Hub.PublishJsonAsync("{}", mediaType: "text/plain"))
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, notJson.StatusCode);

        var after = await PrometheusText.ScrapeAsync(Hub.Http);
        Assert.Equal(1, Delta(before, after, Rejected, ("fhircast_event", "Patient-open"), ("http_response_status_code", "400")));
        Assert.Equal(1, Delta(before, after, Rejected, ("fhircast_event", "unknown"), ("http_response_status_code", "400")));
        Assert.Equal(1, Delta(before, after, Rejected, ("fhircast_event", "unknown"), ("http_response_status_code", "415")));
        Assert.DoesNotContain("Confidential", after.Text);
    }

    [Fact]
    public async Task metrics_name_no_topic_and_no_context()
    {
        var topic = FhircastEvents.NewTopic();
        await using var subscriber = await Hub.SubscribeAndConnectAsync(topic, "Patient-open");
        await Hub.PublishAsync(FhircastEvents.PatientOpen(topic, "patient-secret-4711"));
        await subscriber.ReceiveAndAckAsync();

        var metrics = await PrometheusText.ScrapeAsync(Hub.Http);
        Assert.DoesNotContain(topic, metrics.Text);
        Assert.DoesNotContain("patient-secret-4711", metrics.Text);
    }

    [Fact]
    public async Task a_commit_of_another_process_is_delivered_counted_and_its_notify_catch_up_measured()
    {
        await using var other = await TestHub.StartAsync(connectionString: Server.ConnectionString);
        var topic = FhircastEvents.NewTopic();
        await using var subscriber = await other.Client.SubscribeAndConnectAsync(topic, "Patient-open");
        var before = await PrometheusText.ScrapeAsync(Hub.Http);

        await Hub.PublishAsync(FhircastEvents.PatientOpen(topic, "pat-1"));
        await subscriber.ReceiveAndAckAsync();

        var after = await ScrapeUntilAsync(m => m.Value(Deliveries) > before.Value(Deliveries));
        Assert.Equal(1, Delta(before, after, "eventsourcedhub_notify_catch_up_milliseconds_count"));
        Assert.Equal(1, Delta(before, after, Deliveries));
        // Committed elsewhere: this process does not know when, so the delivery is not timed.
        Assert.Equal(0, Delta(before, after, LatencyCount));
    }

    private static double Delta(PrometheusText before, PrometheusText after, string name, params (string, string)[] labels) =>
        after.Value(name, labels) - before.Value(name, labels);

    /// <summary>Deliveries are counted after the socket write, which may finish just after the client has read the frame.</summary>
    private async Task<PrometheusText> ScrapeUntilAsync(Func<PrometheusText, bool> done)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var metrics = await PrometheusText.ScrapeAsync(Hub.Http);
            if (done(metrics) || DateTime.UtcNow > deadline) return metrics;
            await Task.Delay(50);
        }
    }
}
