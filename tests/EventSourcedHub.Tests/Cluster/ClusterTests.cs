using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using Npgsql;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Cluster;

/// <summary>
/// Several hub processes on one PostgreSQL behind nginx (issue 14): every subscriber on every process gets every event
/// of its topic once, in the stream's one order, wherever the event was published.
/// </summary>
public sealed class ClusterTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private HubClusterHarness Cluster => fixture.Cluster;
    private HubProcess A => Cluster.Hubs[0];
    private HubProcess B => Cluster.Hubs[1];

    /// <summary>Reads notifications (acking each) until <paramref name="count"/> of <paramref name="eventName"/> arrived; their ids in order.</summary>
    private static async Task<List<string>> ReceiveIdsAsync(TestSubscriber subscriber, int count, string eventName)
    {
        var ids = new List<string>();
        while (ids.Count < count)
        {
            var frame = await subscriber.ReceiveAndAckAsync();
            if ((string?)frame["event"]?["hub.event"] == eventName) ids.Add((string)frame["id"]!);
        }
        return ids;
    }

    [Fact]
    public async Task an_event_published_on_one_process_reaches_subscribers_on_the_others()
    {
        var topic = NewTopic();
        await using var onA = await Cluster.ConnectOnAsync(A, topic, "Patient-open");
        await using var onB = await Cluster.ConnectOnAsync(B, topic, "Patient-open");

        await A.Client.PublishAsync(PatientOpen(topic, "p1", id: "from-a"));
        await B.Client.PublishAsync(PatientOpen(topic, "p2", id: "from-b"));
        await Cluster.Client.PublishAsync(PatientOpen(topic, "p3", id: "through-proxy"));

        Assert.Equal(["from-a", "from-b", "through-proxy"], await ReceiveIdsAsync(onA, 3, "Patient-open"));
        Assert.Equal(["from-a", "from-b", "through-proxy"], await ReceiveIdsAsync(onB, 3, "Patient-open"));
    }

    [Fact]
    public async Task concurrent_publishers_on_every_process_give_one_identical_order_everywhere()
    {
        var topic = NewTopic();
        await using var onA = await Cluster.ConnectOnAsync(A, topic, "org.example.tick");
        await using var onB = await Cluster.ConnectOnAsync(B, topic, "org.example.tick");
        await using var viaProxy = await Cluster.Client.SubscribeAndConnectAsync(topic, "org.example.tick");
        const int perPublisher = 25;
        var publishers = new[] { A.Client, B.Client, Cluster.Client };
        await Task.WhenAll(publishers.Select((client, p) => Task.Run(async () =>
        {
            for (var i = 0; i < perPublisher; i++) await client.PublishUntilAcceptedAsync(Custom(topic, "org.example.tick", id: $"p{p}-{i}"));
        })));

        var stream = await Cluster.StreamIdsAsync(topic, "org.example.tick");
        Assert.Equal(3 * perPublisher, stream.Count);
        foreach (var subscriber in new[] { onA, onB, viaProxy })
            Assert.Equal(stream, await ReceiveIdsAsync(subscriber, 3 * perPublisher, "org.example.tick"));
    }

    [Fact]
    public async Task a_second_socket_on_an_active_endpoint_through_another_process_is_409()
    {
        var topic = NewTopic();
        var endpoint = await Cluster.Client.SubscribeAsync(topic, "Patient-open");
        await using var first = await TestSubscriber.ConnectAsync(HubClusterHarness.On(A, endpoint));
        Assert.Equal("subscribe", (string?)(await first.ReceiveAsync())["hub.mode"]);

        var refused = await Assert.ThrowsAsync<System.Net.WebSockets.WebSocketException>(() => TestSubscriber.ConnectAsync(HubClusterHarness.On(B, endpoint)));
        Assert.Contains("409", refused.Message);
        // The first socket is untouched.
        await Cluster.Client.PublishAsync(PatientOpen(topic, "p1", id: "still-live"));
        Assert.Equal("still-live", (string?)(await first.ReceiveAndAckAsync())["id"]);
    }

    [Fact]
    public async Task each_subscriber_gets_one_heartbeat_per_period_whichever_process_holds_its_socket()
    {
        var topic = NewTopic();
        await using var onA = await Cluster.ConnectOnAsync(A, topic, "heartbeat");
        await using var onB = await Cluster.ConnectOnAsync(B, topic, "heartbeat");
        foreach (var subscriber in new[] { onA, onB }) await HeartbeatsAsync(subscriber);
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        foreach (var subscriber in new[] { onA, onB })
        {
            // Hub:PingIntervalSeconds=1: 4 or 5 in 4.5 s; twice as many would mean both processes beat.
            Assert.InRange(await HeartbeatsAsync(subscriber), 3, 6);
        }
    }

    /// <summary>The heartbeats received so far (every frame queued is read).</summary>
    private static async Task<int> HeartbeatsAsync(TestSubscriber subscriber)
    {
        var beats = 0;
        try
        {
            while (await subscriber.ReceiveTextAsync(TimeSpan.FromMilliseconds(100)) is { } frame)
                if (frame.Contains("\"heartbeat\"")) beats++;
        }
        catch (OperationCanceledException)
        {
            // Nothing more queued.
        }
        return beats;
    }

    [Fact]
    public async Task events_committed_while_a_process_lost_its_listening_session_still_reach_its_subscribers()
    {
        var topic = NewTopic();
        await using var onB = await Cluster.ConnectOnAsync(B, topic, "org.example.tick");
        await using (var connection = new NpgsqlConnection(Cluster.ConnectionString))
        {
            await connection.OpenAsync();
            await using var kill = new NpgsqlCommand("select pg_terminate_backend(pid) from pg_stat_activity where query like 'LISTEN %' and pid <> pg_backend_pid()", connection);
            await kill.ExecuteNonQueryAsync();
        }
        for (var i = 0; i < 5; i++) await A.Client.PublishAsync(Custom(topic, "org.example.tick", id: $"gap-{i}"));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"gap-{i}"), await ReceiveIdsAsync(onB, 5, "org.example.tick"));
    }
}
