using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Cluster;

/// <summary>Hub processes that die or restart while the others go on (issue 14). Each test has a cluster of its own.</summary>
public sealed class FailoverTests
{
    private const string Tick = "org.example.tick";

    [Fact]
    public async Task a_kill_9_of_a_process_under_load_loses_nothing_acknowledged_and_its_subscriber_resumes_on_another()
    {
        await using var cluster = await HubClusterHarness.StartAsync();
        var (a, b) = (cluster.Hubs[0], cluster.Hubs[1]);
        var topic = NewTopic();
        var subscriber = await cluster.ConnectOnAsync(a, topic, Tick, "viewer");

        // Publishers through the proxy until a little after the kill; only 202s count as acknowledged.
        var acknowledged = new List<string>();
        using var stop = new CancellationTokenSource();
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested && i < 2000; i++)
            {
                try
                {
                    using var response = await cluster.Client.PublishJsonAsync(Custom(topic, Tick, id: $"e{i}"));
                    if (response.StatusCode == HttpStatusCode.Accepted) lock (acknowledged) acknowledged.Add($"e{i}");
                }
                catch (HttpRequestException)
                {
                }
            }
        });
        var received = new List<string>();
        while (received.Count < 30)
        {
            var frame = await subscriber.ReceiveAndAckAsync();
            if ((string?)frame["event"]?["hub.event"] == Tick) received.Add((string)frame["id"]!);
        }
        a.Kill();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await stop.CancelAsync();
        await publishing;

        // What the dead socket had delivered stays; the app resumes through the proxy after the last event it got.
        try
        {
            while (await subscriber.ReceiveTextAsync(TimeSpan.FromMilliseconds(200)) is { } text)
                if (JsonNode.Parse(text)!["event"]?["hub.event"]?.GetValue<string>() == Tick) received.Add((string)JsonNode.Parse(text)!["id"]!);
        }
        catch (OperationCanceledException)
        {
        }
        await subscriber.DisposeAsync();
        using var resubscribe = await cluster.Client.PostFormAsync(("hub.channel.type", "websocket"), ("hub.mode", "subscribe"), ("hub.topic", topic),
            ("hub.events", Tick), ("subscriber.name", "viewer"), ("resume.after", received[^1]));
        Assert.Equal(HttpStatusCode.Accepted, resubscribe.StatusCode);
        await using var resumed = await TestSubscriber.ConnectAsync(await HubClient.EndpointOf(resubscribe));
        Assert.Equal("subscribe", (string?)(await resumed.ReceiveAsync())["hub.mode"]);

        var stream = await cluster.StreamIdsAsync(topic, Tick);
        while (received.Count < stream.Count)
        {
            var frame = await resumed.ReceiveAndAckAsync();
            if ((string?)frame["event"]?["hub.event"] == Tick) received.Add((string)frame["id"]!);
        }
        Assert.Equal(stream, received);
        Assert.All(acknowledged, id => Assert.Contains(id, stream));
        Assert.True(acknowledged.Count > 30, $"only {acknowledged.Count} events were acknowledged");
        Assert.Equal(HttpStatusCode.OK, (await b.Client.GetContextRawAsync(topic)).StatusCode);
    }

    [Fact]
    public async Task a_restarted_process_serves_what_the_others_committed_while_it_was_down()
    {
        await using var cluster = await HubClusterHarness.StartAsync();
        var topic = NewTopic();
        await cluster.Hubs[0].Client.SubscribeAsync(topic, Tick);
        cluster.Hubs[1].Kill();
        for (var i = 0; i < 5; i++) await cluster.Hubs[0].Client.PublishAsync(Custom(topic, Tick, id: $"while-down-{i}"));
        await cluster.RestartAsync(1);

        var restarted = cluster.Hubs[1];
        using var resubscribe = await restarted.Client.PostFormAsync(("hub.channel.type", "websocket"), ("hub.mode", "subscribe"), ("hub.topic", topic),
            ("hub.events", Tick), ("resume.after", "while-down-0"));
        Assert.Equal(HttpStatusCode.Accepted, resubscribe.StatusCode);
        await using var subscriber = await TestSubscriber.ConnectAsync(await HubClient.EndpointOf(resubscribe));
        Assert.Equal("subscribe", (string?)(await subscriber.ReceiveAsync())["hub.mode"]);
        await cluster.Hubs[0].Client.PublishAsync(Custom(topic, Tick, id: "live"));

        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add((string)(await subscriber.ReceiveAndAckAsync())["id"]!);
        Assert.Equal(["while-down-1", "while-down-2", "while-down-3", "while-down-4", "live"], ids);
    }

    [Fact]
    public async Task the_async_projections_and_the_audit_trail_run_on_one_process_and_move_to_another_when_it_dies()
    {
        await using var cluster = await HubClusterHarness.StartAsync();
        Assert.Equal(1, await cluster.LeadersAsync());
        var topic = NewTopic();
        await cluster.Client.SubscribeAsync(topic, Tick);
        await cluster.Client.PublishAsync(Custom(topic, Tick, id: "before"));

        // Kill whichever process leads: the first started leads (it took the lock first); kill it.
        cluster.Hubs[0].Kill();
        var survivor = cluster.Hubs[1].Client;
        for (var i = 0; i < 50 && await cluster.LeadersAsync() == 0; i++) await Task.Delay(100);
        Assert.Equal(1, await cluster.LeadersAsync());
        await survivor.PublishAsync(Custom(topic, Tick, id: "after"));

        // The new leader's trail audits the events the dead one left behind and the new ones; the chain is whole.
        using var audit = await survivor.Http.GetAsync($"/api/sessions/{topic}/audit");
        var subtypes = JsonNode.Parse(await audit.Content.ReadAsStringAsync())!["entry"]!.AsArray()
            .Select(e => (string?)e!["resource"]!["subtype"]![0]!["code"]).ToList();
        Assert.Equal(2, subtypes.Count(s => s == Tick));
        using var verify = await survivor.Http.GetAsync($"/api/sessions/{topic}/verify");
        var result = JsonNode.Parse(await verify.Content.ReadAsStringAsync())!;
        Assert.True((bool)result["valid"]!, result.ToJsonString());

        // The session summaries (Marten's async daemon) follow on the new leader.
        JsonNode? summary = null;
        for (var i = 0; i < 100 && summary?["events"]?.GetValue<long>() != 3; i++)
        {
            await Task.Delay(100);
            using var sessions = await survivor.Http.GetAsync("/api/sessions");
            var body = JsonNode.Parse(await sessions.Content.ReadAsStringAsync())!;
            summary = (body is JsonArray array ? array : body["sessions"]!.AsArray()).FirstOrDefault(s => (string?)s!["id"] == topic);
        }
        Assert.Equal(3, summary?["events"]?.GetValue<long>());
    }
}
