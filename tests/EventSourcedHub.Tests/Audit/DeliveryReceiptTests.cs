using System.Text.Json.Nodes;
using EventSourcedHub.Audit;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>Delivery receipts per notification and subscriber, shown in the session timeline (written in batches: polled).</summary>
public sealed class DeliveryReceiptTests
{
    private static async Task<JsonObject?> NotificationEntryAsync(HubClient hub, string topic, string eventId, Func<JsonArray, bool> complete)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(6);
        JsonObject? entry = null;
        while (DateTime.UtcNow < until)
        {
            using var response = await hub.Http.GetAsync($"/api/sessions/{topic}/timeline");
            var timeline = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            entry = timeline["events"]!.AsArray().Select(e => e!.AsObject()).FirstOrDefault(e => (string?)e["id"] == eventId);
            if (entry?["deliveries"] is JsonArray deliveries && complete(deliveries)) return entry;
            await Task.Delay(100);
        }
        return entry;
    }

    [Fact]
    public async Task receipts_record_a_plain_ack_as_200_with_latency_an_error_ack_and_a_timeout()
    {
        await using var testHub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:AckTimeoutSeconds"] = "1" });
        var hub = testHub.Client;
        var topic = NewTopic();
        await using var acker = await hub.SubscribeAndConnectAsync(topic, "Patient-open", "Acker");
        await using var refuser = await hub.SubscribeAndConnectAsync(topic, "Patient-open", "Refuser");
        await using var silent = await hub.SubscribeAndConnectAsync(topic, "Patient-open", "Silent");

        await hub.PublishAsync(PatientOpen(topic, "pat-receipt", id: "open-receipt"));
        await acker.ReceiveAndAckAsync();
        await refuser.ReceiveAsync();
        await refuser.SendAsync("""{"id":"open-receipt","status":409}""");
        await silent.ReceiveAsync();

        var entry = await NotificationEntryAsync(hub, topic, "open-receipt", d => d.Count == 3);
        Assert.NotNull(entry);
        var deliveries = entry["deliveries"]!.AsArray().Select(d => d!.AsObject()).ToDictionary(d => (string)d["subscriber"]!);
        Assert.Equal(["Acker", "Refuser", "Silent"], deliveries.Keys.Order(StringComparer.Ordinal));

        Assert.Equal(200, (int?)deliveries["Acker"]["status"]);
        Assert.False((bool)deliveries["Acker"]["timedOut"]!);
        var latency = (double?)deliveries["Acker"]["latencyMs"];
        Assert.NotNull(latency);
        Assert.InRange(latency.Value, 0, 5000);

        Assert.Equal(409, (int?)deliveries["Refuser"]["status"]);
        Assert.False((bool)deliveries["Refuser"]["timedOut"]!);

        Assert.Null((int?)deliveries["Silent"]["status"]);
        Assert.Null((double?)deliveries["Silent"]["latencyMs"]);
        Assert.True((bool)deliveries["Silent"]["timedOut"]!);
    }

    [Fact]
    public async Task with_receipts_off_no_delivery_is_recorded()
    {
        await using var testHub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:DeliveryReceipts"] = "false" });
        var hub = testHub.Client;
        var topic = NewTopic();
        await using var acker = await hub.SubscribeAndConnectAsync(topic, "Patient-open", "Acker");
        await hub.PublishAsync(PatientOpen(topic, "pat-off", id: "open-off"));
        await acker.ReceiveAndAckAsync();

        var entry = await NotificationEntryAsync(hub, topic, "open-off", d => d.Count > 0);
        Assert.NotNull(entry);
        Assert.Empty(entry["deliveries"]!.AsArray());
    }

    [Fact]
    public async Task a_graceful_shutdown_stores_what_is_still_queued()
    {
        // A batch window far longer than the shutdown: only the drain on shutdown can store them in time.
        var testHub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:AuditBatchMilliseconds"] = "60000" });
        var stopped = System.Diagnostics.Stopwatch.StartNew();
        var topic = NewTopic();
        var writer = testHub.Services.GetRequiredService<AuditWriter>();
        for (var i = 0; i < 3; i++)
            writer.Write(new DeliveryReceipt { Id = Guid.NewGuid().ToString(), Topic = topic, StreamVersion = i + 1, EventId = $"e{i}", EventName = "Patient-open", SentAt = DateTimeOffset.UtcNow });
        await testHub.DisposeAsync();
        Assert.True(stopped.Elapsed < TimeSpan.FromSeconds(30), "shutdown waited for the batch window");

        await using var connection = new NpgsqlConnection(testHub.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select count(*) from fhircast.mt_doc_deliveryreceipt where topic = @topic", connection);
        command.Parameters.AddWithValue("topic", topic);
        Assert.Equal(3L, (long)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task receipts_queued_before_shutdown_are_stored()
    {
        var testHub = await TestHub.StartAsync();
        var topic = NewTopic();
        await using (var acker = await testHub.Client.SubscribeAndConnectAsync(topic, "Patient-open", "Acker"))
        {
            await testHub.Client.PublishAsync(PatientOpen(topic, "pat-shutdown", id: "open-shutdown"));
            await acker.ReceiveAndAckAsync();
            // Give the hub a moment to read the ack, far less than a batch window.
            await Task.Delay(50);
            await testHub.DisposeAsync();
        }

        await using var restarted = await TestHub.StartAsync(connectionString: testHub.ConnectionString);
        using var response = await restarted.Client.Http.GetAsync($"/api/sessions/{topic}/timeline");
        var entry = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["events"]!.AsArray()
            .Single(e => (string?)e!["id"] == "open-shutdown")!;
        var delivery = Assert.Single(entry["deliveries"]!.AsArray());
        Assert.Equal(200, (int?)delivery!["status"]);
    }
}
