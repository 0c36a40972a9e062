using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Channels;
using EventSourcedHub.Replay;
using EventSourcedHub.Storage;
using EventSourcedHub.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Hosting;

/// <summary>Per-topic state is released when idle and read again on demand; finished replay runs are forgotten (issue 12).</summary>
public sealed class BoundedMemoryTests() : OwnHubTests(new Dictionary<string, string?>
{
    ["Hub:IdleTopicSeconds"] = "1", ["Hub:FinishedReplayRetentionMinutes"] = "0",
})
{
    [Fact]
    public async Task an_idle_topic_is_forgotten_and_read_again_from_the_store_when_it_is_next_used()
    {
        var topic = NewTopic();
        await Hub.SubscribeAsync(topic, "Patient-open");
        await Hub.PublishAsync(PatientOpen(topic, "p1"));
        var stream = Server.Services.GetRequiredService<TopicStream>();
        var distribution = Server.Services.GetRequiredService<Distribution>();
        Assert.True(stream.Held > 0 && distribution.Held > 0);

        for (var attempt = 0; attempt < 50 && (stream.Held > 0 || distribution.Held > 0); attempt++) await Task.Delay(100);
        Assert.Equal(0, stream.Held);
        Assert.Equal(0, distribution.Held);

        // Used again: its state comes back from the store, decisions and distribution as before.
        await using var subscriber = await Hub.SubscribeAndConnectAsync(topic, "Patient-open,Patient-close");
        Assert.Equal("Patient-open", (string?)(await subscriber.ReceiveAsync())["event"]!["hub.event"]);
        await Hub.PublishAsync(PatientClose(topic, "p1"));
        Assert.Equal("Patient-close", (string?)(await subscriber.ReceiveAsync())["event"]!["hub.event"]);
        using var stale = await Hub.PublishJsonAsync(PatientClose(topic, "p1"));
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
    }

    [Fact]
    public async Task a_finished_replay_run_is_forgotten_after_the_retention()
    {
        var source = NewTopic();
        await Hub.SubscribeAsync(source, "Patient-open");
        await Hub.PublishAsync(PatientOpen(source, "p1"));
        using var started = await Hub.Http.PostAsync($"/api/sessions/{source}/replay",
            new StringContent($$"""{"targetTopic":"{{NewTopic()}}","speed":0}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)JsonNode.Parse(await started.Content.ReadAsStringAsync())!["id"]!;

        HttpStatusCode status = HttpStatusCode.OK;
        for (var attempt = 0; attempt < 50 && status == HttpStatusCode.OK; attempt++)
        {
            using var run = await Hub.Http.GetAsync($"/api/replays/{id}");
            status = run.StatusCode;
            if (status == HttpStatusCode.OK) await Task.Delay(100);
        }
        Assert.Equal(HttpStatusCode.NotFound, status);
    }

    [Fact]
    public void a_cancel_after_a_run_ended_leaves_it_as_it_ended()
    {
        var run = new ReplayRun
        {
            Id = "r", SourceTopic = "s", TargetTopic = "t", FromVersion = 1, ToVersion = 1, Speed = 0, Total = 0,
            Actor = new EventSourcedHub.Security.Actor("tester"),
        };
        run.Cancelling();
        Assert.Equal("cancelling", run.Status);
        run.Finish("cancelled", DateTimeOffset.UtcNow);
        run.Cancelling();
        Assert.Equal("cancelled", run.Status);

        var completed = new ReplayRun
        {
            Id = "c", SourceTopic = "s", TargetTopic = "t", FromVersion = 1, ToVersion = 1, Speed = 0, Total = 0,
            Actor = new EventSourcedHub.Security.Actor("tester"),
        };
        completed.Finish("completed", DateTimeOffset.UtcNow);
        completed.Cancelling();
        Assert.Equal("completed", completed.Status);
        Assert.NotNull(completed.Finished);
    }
}

/// <summary>The audit queue is bounded: while it is full, requests get 503 instead of the queue growing (issue 12).</summary>
public sealed class AuditQueueBackpressureTests() : OwnHubTests(new Dictionary<string, string?>
{
    // One waiting document fills it; the writer waits a minute before storing, so it stays full during the test.
    ["Hub:Limits:AuditQueueCapacity"] = "1", ["Hub:AuditBatchMilliseconds"] = "60000",
})
{
    [Fact]
    public async Task a_full_audit_queue_answers_503_with_retry_after_until_it_drains()
    {
        using (var unknown = await Hub.GetContextRawAsync(NewTopic()))
            await HubClient.AssertOperationOutcome(unknown, HttpStatusCode.NotFound, "not-found");

        using var refused = await Hub.GetContextRawAsync(NewTopic());
        var outcome = await HubClient.AssertOperationOutcome(refused, HttpStatusCode.ServiceUnavailable, "transient");
        Assert.Equal("The hub is busy storing its audit records; retry after the time in Retry-After.", (string?)outcome["issue"]![0]!["diagnostics"]);
        Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
        using var form = await Hub.SubscribeRawAsync(NewTopic(), "Patient-open");
        Assert.Equal("The hub is busy storing its audit records; retry after the time in Retry-After.",
            await HubClient.AssertPlainTextError(form, HttpStatusCode.ServiceUnavailable));
    }
}
