using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Marten;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace EventSourcedHub.Bench;

/// <summary>
/// Publish throughput with and without delivery receipts (issue 4): an in-process hub on real Kestrel, N WebSocket
/// subscribers that ack every notification with `{id}`, M Patient-open events POSTed one after the other. Rounds
/// alternate receipts off and on (`Hub:DeliveryReceipts`) over the same database, each on a fresh topic.
/// </summary>
public static class PublishThroughputBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var subscribers = BenchArgs.Number(args, "--subscribers", 10);
        var events = BenchArgs.Number(args, "--events", 1000);
        var rounds = BenchArgs.Number(args, "--rounds", 2);
        await using var database = await BenchDatabase.StartAsync();

        // One unrecorded round first: JIT, Marten's compiled code and the database's caches warm up.
        await RoundAsync(database.ConnectionString, true, subscribers, Math.Min(events, 100));
        var rows = new List<string>();
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var receipts in new[] { false, true })
            {
                var (perSecond, histogram, stored) = await RoundAsync(database.ConnectionString, receipts, subscribers, events);
                var row = $"| {(receipts ? "on" : "off")} | {round} | {perSecond:0} | {Ms(histogram, 50)} | {Ms(histogram, 90)} | {Ms(histogram, 99)} | {Ms(histogram, 100)} | {stored} |";
                Console.WriteLine(row);
                rows.Add(row);
            }
        }

        const string ackShape = "{id}";
        var markdown = $"""
            ### Publish throughput with and without delivery receipts ({DateTimeOffset.UtcNow:yyyy-MM-dd}, commit {Machine.Commit()}, {Machine.Describe()})

            `dotnet run -c Release --project bench/EventSourcedHub.Bench -- publish-receipts --subscribers {subscribers} --events {events} --rounds {rounds}`;
            after one unrecorded warm-up round; in-process hub on Kestrel (loopback), {subscribers} WebSocket subscribers acking every notification with `{ackShape}`,
            {events} Patient-open events POSTed sequentially (one client), PostgreSQL on the same machine.
            Compare the rows of one run with each other: rounds vary with whatever else the machine is doing.
            "receipts stored" counts the DeliveryReceipt documents of the round's topic 2 s after its last publish.

            | receipts | round | events/s | p50 ms | p90 ms | p99 ms | max ms | receipts stored |
            |---|---|---|---|---|---|---|---|
            {string.Join("\n", rows)}
            """;
        Console.WriteLine(markdown);
        Machine.Record(markdown);
        return 0;
    }

    private static async Task<(double PerSecond, LongHistogram Histogram, long Stored)> RoundAsync(string connectionString, bool receipts, int subscribers, int events)
    {
        await using var app = await HubHost.BuildAsync([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Hub"] = connectionString,
                ["urls"] = "http://127.0.0.1:0",
                ["Hub:DeliveryReceipts"] = receipts ? "true" : "false",
                ["Hub:RunAsyncProjections"] = "false",
                ["Logging:LogLevel:Default"] = "Warning",
            });
        });
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        using var http = new HttpClient { BaseAddress = address };
        var topic = "bench-" + Guid.NewGuid().ToString("N");

        using var stop = new CancellationTokenSource();
        var sockets = new List<ClientWebSocket>();
        var ackers = new List<Task>();
        for (var i = 0; i < subscribers; i++)
        {
            using var subscribe = await http.PostAsync("/api/hub", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["hub.channel.type"] = "websocket", ["hub.mode"] = "subscribe", ["hub.topic"] = topic,
                ["hub.events"] = "Patient-open", ["subscriber.name"] = $"bench app {i}",
            }));
            if (subscribe.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"subscribe: {subscribe.StatusCode}");
            var endpoint = JsonDocument.Parse(await subscribe.Content.ReadAsStringAsync()).RootElement.GetProperty("hub.channel.endpoint").GetString()!;
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(new Uri(endpoint), CancellationToken.None);
            await ReceiveAsync(socket, stop.Token); // the confirmation
            sockets.Add(socket);
            ackers.Add(AckAllAsync(socket, stop.Token));
        }

        // Warm up (JIT, connection pool), then measure.
        for (var i = 0; i < 20; i++) await PublishAsync(http, topic, $"warm-{i}");
        var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
        var total = Stopwatch.StartNew();
        for (var i = 0; i < events; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await PublishAsync(http, topic, $"e-{i}");
            histogram.RecordValue(Stopwatch.GetTimestamp() - start);
        }
        var perSecond = events / total.Elapsed.TotalSeconds;

        await Task.Delay(TimeSpan.FromSeconds(2));
        long stored;
        await using (var query = app.Services.GetRequiredService<IDocumentStore>().QuerySession())
            stored = await query.Query<Audit.DeliveryReceipt>().Where(d => d.Topic == topic).CountAsync();

        await stop.CancelAsync();
        foreach (var socket in sockets) socket.Abort();
        await Task.WhenAll(ackers);
        foreach (var socket in sockets) socket.Dispose();
        await app.StopAsync();
        return (perSecond, histogram, stored);
    }

    private static async Task PublishAsync(HttpClient http, string topic, string id)
    {
        var body = $$$"""{"timestamp":"2025-03-01T14:58:45.988Z","id":"{{{id}}}","event":{"hub.topic":"{{{topic}}}","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"pat-{{{id}}}","identifier":[{"system":"urn:oid:1.2.840.114350","value":"{{{id}}}"}]}}]}}""";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/api/hub", content);
        if (response.StatusCode != HttpStatusCode.Accepted) throw new InvalidOperationException($"publish: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task AckAllAsync(ClientWebSocket socket, CancellationToken ct)
    {
        try
        {
            while (await ReceiveAsync(socket, ct) is { } text)
            {
                using var message = JsonDocument.Parse(text);
                if (!message.RootElement.TryGetProperty("id", out var id)) continue;
                var ack = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new Dictionary<string, string?> { ["id"] = id.GetString() }));
                await socket.SendAsync(ack, WebSocketMessageType.Text, true, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }

    private static async Task<string?> ReceiveAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), ct);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
        }
    }

    private static string Ms(LongHistogram h, double percentile) =>
        (h.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);

}
