using System.Diagnostics;
using System.Globalization;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using HdrHistogram;
using Marten;

namespace EventSourcedHub.Bench;

/// <summary>
/// Issue 7 scenario (d): get current context p99 with 10,000 topics. Seeds the topics through the store with the hub's
/// own decisions (a subscription and a report open each), then times `GET {hub}/{topic}` over HTTP against a hub process.
/// </summary>
public static class CurrentContextBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var topicCount = BenchArgs.Number(args, "--topics", 10_000);
        var requests = BenchArgs.Number(args, "--requests", 5_000);
        var clients = BenchArgs.Number(args, "--clients", 4);
        await using var database = await BenchDatabase.StartAsync();
        var topics = await SeedAsync(database.ConnectionString, topicCount);
        using var hub = await HubProcess.StartAsync(database.ConnectionString);
        using var http = new HttpClient { BaseAddress = hub.BaseAddress };
        for (var i = 0; i < 200; i++) (await http.GetAsync($"/api/hub/{topics[i]}")).Dispose(); // warm up

        var histogram = new LongConcurrentHistogram(1, TimeStamp.Seconds(10), 3);
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) < requests)
            {
                var topic = topics[Random.Shared.Next(topics.Length)];
                var start = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync($"/api/hub/{topic}");
                await response.Content.ReadAsByteArrayAsync();
                histogram.RecordValue(Math.Max(1, (Stopwatch.GetTimestamp() - start) * 1_000_000 / Stopwatch.Frequency));
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {topic}: {(int)response.StatusCode}");
            }
        })));
        var perSecond = requests / clock.Elapsed.TotalSeconds;
        string Ms(double p) => (histogram.GetValueAtPercentile(p) / 1000.0).ToString("0.00", CultureInfo.InvariantCulture);
        Machine.Record($"""
            ### Get current context with {topicCount} topics ({DateTimeOffset.UtcNow:yyyy-MM-dd}, commit {Machine.Commit()}, {Machine.Describe()})

            `dotnet run -c Release --project bench/EventSourcedHub.Bench -- current-context --topics {topicCount} --requests {requests} --clients {clients}`;
            random topics, {clients} concurrent HTTP clients, hub process and PostgreSQL on the same machine. Target: p99 ≤ 2 ms.

            | requests/s | p50 ms | p90 ms | p99 ms | max ms |
            |---|---|---|---|---|
            | {perSecond:0} | {Ms(50)} | {Ms(90)} | {Ms(99)} | {Ms(100)} |
            """);
        return 0;
    }

    private static async Task<string[]> SeedAsync(string connectionString, int count)
    {
        using var store = DocumentStore.For(opts => HubStore.Configure(opts, connectionString));
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        var topics = Enumerable.Range(0, count).Select(i => $"ctx-{i:00000}-{Guid.NewGuid():N}").ToArray();
        foreach (var batch in topics.Chunk(250))
        {
            await using var session = store.LightweightSession();
            foreach (var topic in batch)
            {
                var subscribed = new Subscribed($"ep-{topic}", "bench", ["DiagnosticReport-open"], 7200, DateTimeOffset.UtcNow);
                var state = TopicSession.Evolve(TopicSession.Start(topic), subscribed);
                var open = $$$"""{"timestamp":"2025-03-01T14:58:45.988Z","id":"open-{{{topic}}}","event":{"hub.topic":"{{{topic}}}","hub.event":"DiagnosticReport-open","context":[{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"r1","status":"unknown"}},{"key":"patient","resource":{"resourceType":"Patient","id":"p1"}},{"key":"study","resource":{"resourceType":"ImagingStudy","id":"s1","status":"available"}}]}}""";
                var events = TopicDecisions.Publish(state, NotificationRequest.Parse(open, null).Value!, () => Guid.NewGuid().ToString(),
                    ContentPolicy.Default with { DeriveOpenEvents = false }).Value!.Events;
                session.Events.StartStream<TopicSession>(topic, [subscribed, .. events]);
                session.StoreObjects(TopicDocuments.All(TopicSession.Fold(topic, [subscribed, .. events])));
            }
            await session.SaveChangesAsync();
        }
        return topics;
    }

}
