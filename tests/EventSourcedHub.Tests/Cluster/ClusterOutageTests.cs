using System.Diagnostics;
using System.Net;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Cluster;

/// <summary>PostgreSQL restarted under two hub processes behind nginx (issue 14), on a cluster of this test's own.</summary>
public sealed class ClusterOutageTests
{
    private const string Tick = "org.example.tick";

    [Fact]
    public async Task a_postgresql_restart_gives_503s_through_the_proxy_then_every_process_recovers_and_delivers_everything()
    {
        await using var postgres = await OwnPostgres.StartAsync();
        await using var cluster = await HubClusterHarness.StartAsync(connectionString: postgres.ConnectionString);
        var topic = NewTopic();
        await using var onB = await cluster.ConnectOnAsync(cluster.Hubs[1], topic, Tick);

        var statuses = new List<HttpStatusCode>();
        var acknowledged = new List<string>();
        var next = 0;
        async Task PublishOneAsync()
        {
            var id = $"tick-{next++}";
            using var response = await cluster.Client.PublishJsonAsync(Custom(topic, Tick, id));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.Accepted) acknowledged.Add(id);
        }

        for (var i = 0; i < 10; i++) await PublishOneAsync();
        await postgres.StopAsync();
        var outage = Stopwatch.StartNew();
        while (outage.Elapsed < TimeSpan.FromSeconds(3)) await PublishOneAsync();
        Assert.Contains(HttpStatusCode.ServiceUnavailable, statuses);

        await postgres.StartAgainAsync();
        var recovered = 0;
        for (var attempt = 0; attempt < 300 && recovered < 2; attempt++)
        {
            var before = acknowledged.Count;
            await PublishOneAsync();
            if (acknowledged.Count > before) recovered++;
            else await Task.Delay(100);
        }
        Assert.Equal(2, recovered);
        for (var i = 0; i < 10; i++) await PublishOneAsync();

        // Through the proxy only 202 or 503: never a 500, and nginx never had to answer for a hub (502/504).
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Accepted or HttpStatusCode.ServiceUnavailable, $"status {(int)s}"));
        // The subscriber on the other process gets every stored event once, in order, acknowledged ones included.
        var stream = await cluster.StreamIdsAsync(topic, Tick);
        Assert.Empty(acknowledged.Except(stream));
        var received = new List<string>();
        while (received.Count < stream.Count)
        {
            var frame = await onB.ReceiveAndAckAsync();
            if ((string?)frame["event"]?["hub.event"] == Tick) received.Add((string)frame["id"]!);
        }
        Assert.Equal(stream, received);
        Assert.Equal(1, await cluster.LeadersAsync());
    }
}
