using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Replay;

public sealed class ReplayTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private const string ReportEvents = "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select,DiagnosticReport-close";
    private readonly HubClient _hub = fixture.Client;

    private async Task<(string Topic, List<JsonObject> Distributed)> RecordAsync(TimeSpan pause = default)
    {
        var topic = NewTopic();
        await using var app = await _hub.SubscribeAndConnectAsync(topic, ReportEvents, "Reporting");
        var distributed = new List<JsonObject>();
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        distributed.Add(await app.ReceiveAndAckAsync());
        await Task.Delay(pause);
        await _hub.PublishAsync(ReportUpdate(topic, "r1", (string)distributed[0]["event"]!["context.versionId"]!, [Put(ObservationResource("o1"), "Observation/o1")]));
        distributed.Add(await app.ReceiveAndAckAsync());
        await _hub.PublishAsync(ReportSelect(topic, "r1", "Observation/o1"));
        distributed.Add(await app.ReceiveAndAckAsync());
        await _hub.PublishAsync(ReportClose(topic, "r1"));
        distributed.Add(await app.ReceiveAndAckAsync());
        return (topic, distributed);
    }

    private async Task<JsonObject> StartAsync(string topic, object body, HttpStatusCode expected = HttpStatusCode.Accepted)
    {
        using var response = await _hub.Http.PostAsJsonAsync($"/api/sessions/{topic}/replay", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, text);
        return JsonNode.Parse(text)!.AsObject();
    }

    private async Task<JsonObject> WaitUntilDoneAsync(string id)
    {
        for (var i = 0; i < 200; i++)
        {
            var run = JsonNode.Parse(await _hub.Http.GetStringAsync($"/api/replays/{id}"))!.AsObject();
            if ((string?)run["status"] is not ("running" or "cancelling")) return run;
            await Task.Delay(50);
        }
        throw new TimeoutException("The replay did not finish.");
    }

    [Fact]
    public async Task a_replay_republishes_the_session_into_the_target_through_the_write_path()
    {
        var (source, distributed) = await RecordAsync();
        var target = NewTopic();
        await using var viewer = await _hub.SubscribeAndConnectAsync(target, ReportEvents, "Viewer");

        var started = await StartAsync(source, new { targetTopic = target, speed = 0 });
        Assert.Equal(4, (int)started["total"]!);
        var done = await WaitUntilDoneAsync((string)started["id"]!);
        Assert.Equal("completed", (string?)done["status"]);
        Assert.Equal(4, (int)done["published"]!);
        Assert.Equal(0, (int)done["rejected"]!);

        var replayed = new List<JsonObject>();
        for (var i = 0; i < 4; i++) replayed.Add(await viewer.ReceiveAndAckAsync());
        Assert.Equal(distributed.Select(d => (string?)d["event"]!["hub.event"]), replayed.Select(r => (string?)r["event"]!["hub.event"]));
        Assert.All(replayed, r => Assert.Equal(target, (string?)r["event"]!["hub.topic"]));
        Assert.Empty(distributed.Select(d => (string?)d["id"]).Intersect(replayed.Select(r => (string?)r["id"])));
        // The target has its own versions: the replayed update moved from the replayed open's version.
        Assert.Equal((string?)replayed[0]["event"]!["context.versionId"], (string?)replayed[1]["event"]!["context.priorVersionId"]);
        Assert.NotEqual((string?)distributed[0]["event"]!["context.versionId"], (string?)replayed[0]["event"]!["context.versionId"]);
        Assert.Equal(HubClient.Canonical(distributed[1]["event"]!["context"]), HubClient.Canonical(replayed[1]["event"]!["context"]));

        // Each replayed event names its source in the metadata.
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var sourceIds = (await query.Events.FetchStreamAsync(source)).Select(e => e.Data).OfType<EventSourcedHub.Domain.INotificationEvent>().Select(n => n.EventId);
        var links = (await query.Events.FetchStreamAsync(target)).Where(e => e.Data is EventSourcedHub.Domain.INotificationEvent).Select(e => e.GetHeader("replay-of-event")?.ToString());
        Assert.Equal(sourceIds, links);
    }

    [Fact]
    public async Task a_replay_creates_a_new_target_topic_and_honours_the_version_range()
    {
        var (source, _) = await RecordAsync();
        var target = NewTopic();
        var started = await StartAsync(source, new { targetTopic = target, speed = 0, fromVersion = 1, toVersion = 3 });
        var done = await WaitUntilDoneAsync((string)started["id"]!);
        Assert.Equal(1, (int)done["published"]!); // versions 1..3: subscribed, confirmed, the open
        Assert.Equal("DiagnosticReport", (string?)(await _hub.GetContextAsync(target))["context.type"]);
    }

    [Fact]
    public async Task a_replay_at_speed_one_keeps_the_recorded_pacing_and_faster_speeds_shorten_it()
    {
        var (source, _) = await RecordAsync(pause: TimeSpan.FromMilliseconds(600));
        var watch = Stopwatch.StartNew();
        await WaitUntilDoneAsync((string)(await StartAsync(source, new { targetTopic = NewTopic(), speed = 1.0 }))["id"]!);
        var original = watch.Elapsed;
        watch.Restart();
        await WaitUntilDoneAsync((string)(await StartAsync(source, new { targetTopic = NewTopic(), speed = 0 }))["id"]!);
        var unpaced = watch.Elapsed;
        Assert.True(original >= TimeSpan.FromMilliseconds(550), $"speed 1 took {original}");
        Assert.True(unpaced < original, $"speed 0 took {unpaced}, speed 1 took {original}");
    }

    [Fact]
    public async Task a_running_replay_can_be_cancelled()
    {
        var (source, _) = await RecordAsync(pause: TimeSpan.FromMilliseconds(200));
        var started = await StartAsync(source, new { targetTopic = NewTopic(), speed = 0.01 });
        using var cancel = await _hub.Http.DeleteAsync($"/api/replays/{started["id"]}");
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var done = await WaitUntilDoneAsync((string)started["id"]!);
        Assert.Equal("cancelled", (string?)done["status"]);
        Assert.True((int)done["published"]! < 4);
    }

    public static TheoryData<string> BadBodies() => new()
    {
        "not json",
        "[]",
        """{"speed":1}""",
        """{"targetTopic":""}""",
        """{"targetTopic":"t","speed":-1}""",
        """{"targetTopic":"t","speed":"fast"}""",
        """{"targetTopic":"t","fromVersion":0}""",
        """{"targetTopic":"t","fromVersion":3,"toVersion":2}""",
        """{"targetTopic":"t","toVersion":999}""",
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task a_bad_replay_request_is_400(string body)
    {
        var (source, _) = await RecordAsync();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        using var response = await _hub.Http.PostAsync($"/api/sessions/{source}/replay", content);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task replaying_into_itself_or_from_an_unknown_topic_and_unknown_replay_ids_are_errors()
    {
        var (source, _) = await RecordAsync();
        using var self = await _hub.Http.PostAsJsonAsync($"/api/sessions/{source}/replay", new { targetTopic = source });
        await HubClient.AssertOperationOutcome(self, HttpStatusCode.BadRequest, "invalid");
        using var unknown = await _hub.Http.PostAsJsonAsync($"/api/sessions/{NewTopic()}/replay", new { targetTopic = NewTopic() });
        await HubClient.AssertOperationOutcome(unknown, HttpStatusCode.NotFound, "not-found");
        using var get = await _hub.Http.GetAsync("/api/replays/nope");
        await HubClient.AssertOperationOutcome(get, HttpStatusCode.NotFound, "not-found");
        using var delete = await _hub.Http.DeleteAsync("/api/replays/nope");
        await HubClient.AssertOperationOutcome(delete, HttpStatusCode.NotFound, "not-found");
    }
}
