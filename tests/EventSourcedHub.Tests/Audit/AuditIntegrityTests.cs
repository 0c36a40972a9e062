using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EventSourcedHub.Audit;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>No audit record is lost to a poisoned request (issue 12, rulings.md 30), and a broken chain is never silent.</summary>
public sealed class AuditIntegrityTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<List<JsonObject>> SearchAsync(string query, int expected)
    {
        for (var attempt = 0; ; attempt++)
        {
            var bundle = JsonNode.Parse(await _hub.Http.GetStringAsync($"/fhir/AuditEvent?{query}&_count=200"))!;
            var found = bundle["entry"]?.AsArray().Select(e => e!["resource"]!.AsObject()).ToList() ?? [];
            if (found.Count >= expected || attempt == 50) return found;
            await Task.Delay(100);
        }
    }

    private const string Unstorable = "contains a NUL character or a lone UTF-16 surrogate (e.g. \\u0000, \\ud800), which this hub cannot store.";

    public static TheoryData<string, string> UnstorableEvents() => new()
    {
        { "`$.id` " + Unstorable, """{"timestamp":"2025-03-01T14:58:45.988Z","id":"\ud800","event":{"hub.topic":"TOPIC","hub.event":"Patient-open","context":[]}}""" },
        { "`$.timestamp` " + Unstorable, """{"timestamp":"\udc00","id":"e","event":{"hub.topic":"TOPIC","hub.event":"Patient-open","context":[]}}""" },
        { "`$.event.hub.event` " + Unstorable, """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"TOPIC","hub.event":"\ud800-open","context":[]}}""" },
        { "`$.event.hub.topic` " + Unstorable, """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"TOPIC\u0000","hub.event":"Patient-open","context":[]}}""" },
        { "`$.event.context[0].resource.id` " + Unstorable,
            """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"TOPIC","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"p\u0000"}}]}}""" },
        { "`$.event.context[0].resource.name` " + Unstorable,
            """{"timestamp":"2025-03-01T14:58:45.988Z","id":"e","event":{"hub.topic":"TOPIC","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"p","name":"\ud800"}}]}}""" },
    };

    [Theory]
    [MemberData(nameof(UnstorableEvents))]
    public async Task Rulings_30_an_event_with_text_postgresql_cannot_store_is_400_and_changes_nothing(string diagnostics, string body)
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        using var response = await _hub.PublishJsonAsync(body.Replace("TOPIC", topic));
        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        Assert.Equal(diagnostics, (string?)outcome["issue"]![0]!["diagnostics"]);
        Assert.Equal("", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task Rulings_30_a_nul_in_a_form_field_is_400_text_and_in_a_query_parameter_400_operation_outcome()
    {
        // ASP.NET Core's form reader refuses a NUL itself; the form's own 400 text says so.
        using var form = await _hub.SubscribeRawAsync(NewTopic(), "Patient-open", name: "a\0b");
        Assert.Equal("The form value contains invalid characters.", await HubClient.AssertPlainTextError(form, HttpStatusCode.BadRequest));

        foreach (var url in new[] { "/fhir/AuditEvent?entity=a%00b", "/fhir/Provenance?agent=%00", "/api/sessions/t/events?after=x%00" })
        {
            using var response = await _hub.Http.GetAsync(url);
            var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
            Assert.StartsWith("The query parameter `", (string?)outcome["issue"]![0]!["diagnostics"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Rulings_30_reads_interleaved_with_poisoned_requests_are_all_audited_and_the_rejections_stored_escaped()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        for (var i = 0; i < 12; i++)
        {
            await _hub.GetContextAsync(topic);
            using var poisonedName = await _hub.PublishJsonAsync(Custom(topic, "org.example.poison").Replace("\"org.example.poison\"", "\"org.example.poison\\u0000\""));
            Assert.Equal(HttpStatusCode.BadRequest, poisonedName.StatusCode);
            using var poisonedTopic = await _hub.PublishJsonAsync(Custom(topic, "org.example.poison").Replace($"\"{topic}\"", $"\"{topic}\\u0000\""));
            Assert.Equal(HttpStatusCode.BadRequest, poisonedTopic.StatusCode);
        }

        Assert.Equal(12, (await SearchAsync($"entity={topic}&subtype=get-current-context", 12)).Count);
        Assert.Equal(12, (await SearchAsync($"entity={topic}&subtype=rejected-event", 12)).Count);
        // A topic with a NUL: the record keeps it escaped, and is found by that text.
        var escaped = await SearchAsync($"entity={Uri.EscapeDataString(topic + "\\u0000")}&subtype=rejected-org.example.poison", 12);
        Assert.Equal(12, escaped.Count);
        Assert.All(escaped, e => Assert.Equal(topic + "\\u0000", (string?)e["entity"]![0]!["name"]));
    }

    [Fact]
    public async Task Rulings_30_a_document_postgresql_refuses_is_isolated_the_rest_of_its_batch_stored_and_it_is_kept_as_a_dead_letter()
    {
        var services = fixture.Hub.Services;
        var writer = services.GetRequiredService<AuditWriter>();
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var good = Enumerable.Range(0, 40).Select(i => new DeliveryReceipt
        {
            Id = Guid.NewGuid().ToString(), Topic = topic, StreamVersion = i + 1, EventId = $"good-{i}", EventName = "Patient-open",
            EndpointId = "e", SubscriberName = "app", SentAt = DateTimeOffset.UtcNow,
        }).ToList();
        var bad = new DeliveryReceipt
        {
            Id = Guid.NewGuid().ToString(), Topic = topic, StreamVersion = 99, EventId = "bad\0id", EventName = "Patient-open",
            EndpointId = "e", SubscriberName = "app", SentAt = DateTimeOffset.UtcNow,
        };
        // Half are queued while events are committed, so the audit trail takes some of them into its own transaction.
        foreach (var receipt in good.Take(20)) writer.Write(receipt);
        writer.Write(bad);
        var publishing = Task.WhenAll(Enumerable.Range(0, 10).Select(i => _hub.PublishAsync(PatientOpen(topic, $"p{i}"))));
        foreach (var receipt in good.Skip(20)) writer.Write(receipt);
        await publishing;

        await using var query = services.GetRequiredService<IDocumentStore>().QuerySession();
        for (var attempt = 0; attempt < 100 && await query.Query<DeliveryReceipt>().CountAsync(r => r.Topic == topic) < good.Count; attempt++)
            await Task.Delay(100);
        Assert.Equal(good.Select(r => r.EventId).Order(), (await query.Query<DeliveryReceipt>().Where(r => r.Topic == topic).ToListAsync()).Select(r => r.EventId).Order());

        JsonNode? letter = null;
        for (var attempt = 0; attempt < 50 && letter is null; attempt++)
        {
            letter = JsonNode.Parse(await _hub.Http.GetStringAsync("/api/audit/dead-letters"))!.AsArray()
                .FirstOrDefault(l => ((string)l!["document"]!).Contains(bad.Id, StringComparison.Ordinal));
            if (letter is null) await Task.Delay(100);
        }
        Assert.NotNull(letter);
        Assert.Equal("DeliveryReceipt", (string?)letter["documentType"]);
        Assert.Contains("bad\\u0000id", (string)letter["document"]!, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace((string?)letter["error"]));
        // The topic's own audit trail went on: every event has its AuditEvent.
        Assert.Equal(11, (await SearchAsync($"entity={topic}&subtype=Patient-open,subscribe", 11)).Count);
    }

    [Fact]
    public async Task a_missing_chain_predecessor_is_reported_by_verify_and_never_starts_a_new_chain()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        Assert.True((bool)JsonNode.Parse(await _hub.Http.GetStringAsync($"/api/sessions/{topic}/verify"))!["valid"]!);

        // Someone deletes the topic's trail progress and its chain links.
        await using (var connection = new NpgsqlConnection(fixture.Hub.ConnectionString))
        {
            await connection.OpenAsync();
            await using var delete = new NpgsqlCommand(
                "delete from fhircast.mt_doc_auditprogress where id = @topic; delete from fhircast.mt_doc_chainlink where data ->> 'Topic' = @topic", connection);
            delete.Parameters.AddWithValue("topic", topic);
            await delete.ExecuteNonQueryAsync();
        }
        await _hub.PublishAsync(PatientOpen(topic, "p2"));

        var verify = JsonNode.Parse(await _hub.Http.GetStringAsync($"/api/sessions/{topic}/verify"))!;
        Assert.False((bool)verify["valid"]!);
        Assert.Equal(1, (int)verify["firstBrokenVersion"]!);
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var progress = await query.LoadAsync<AuditProgress>(topic);
        Assert.Equal(3, progress!.BrokenAt);
        Assert.Contains("the chain link of version 2 (the predecessor of version 3) is missing", progress.BrokenReason);
        // Version 3 was chained, but not as the first link of a new chain.
        var link = Assert.Single(await query.Query<ChainLink>().Where(l => l.Topic == topic).ToListAsync());
        Assert.Equal(3, link.StreamVersion);
        Assert.NotEqual(HashChain.Link(HashChain.Genesis, link.ContentHash), link.Hash);
    }
}
