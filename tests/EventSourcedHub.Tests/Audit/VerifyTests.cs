using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Domain;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>`GET /api/sessions/{topic}/verify`: the hash chain over a topic's stored events.</summary>
public sealed class VerifyTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonObject> VerifyAsync(string topic)
    {
        using var response = await _hub.Http.GetAsync($"/api/sessions/{Uri.EscapeDataString(topic)}/verify");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonNode.Parse(body)!.AsObject();
    }

    private async Task<int> ExecuteAsync(string sql, string topic)
    {
        await using var connection = new NpgsqlConnection(fixture.Hub.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("topic", topic);
        return await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task an_untouched_session_verifies_with_its_event_count_and_head()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-v1");

        var result = await VerifyAsync(topic);
        Assert.True((bool)result["valid"]!, result.ToJsonString());
        Assert.Equal(ReportingSession.Events, (int)result["events"]!);
        Assert.Matches("^[0-9a-f]{64}$", (string)result["head"]!);
        Assert.Equal((string?)result["head"], (string?)(await VerifyAsync(topic))["head"]);
    }

    [Fact]
    public async Task editing_a_stored_event_breaks_the_chain_at_that_version()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-v2");
        Assert.True((bool)(await VerifyAsync(topic))["valid"]!);

        var changed = await ExecuteAsync(
            """UPDATE fhircast.mt_events SET data = jsonb_set(data, '{EventId}', '"forged-id"') WHERE stream_id = @topic AND version = 4""", topic);
        Assert.Equal(1, changed);

        var result = await VerifyAsync(topic);
        Assert.False((bool)result["valid"]!);
        Assert.Equal(4, (int)result["firstBrokenVersion"]!);
        Assert.False(string.IsNullOrWhiteSpace((string?)result["reason"]));
    }

    [Fact]
    public async Task changing_an_event_timestamp_or_deleting_the_last_event_is_detected()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(_hub, topic, "pat-v3");
        await ExecuteAsync("UPDATE fhircast.mt_events SET timestamp = timestamp - interval '1 hour' WHERE stream_id = @topic AND version = 2", topic);
        Assert.Equal(2, (int)(await VerifyAsync(topic))["firstBrokenVersion"]!);

        var other = NewTopic();
        await ReportingSession.RunAsync(_hub, other, "pat-v4");
        await ExecuteAsync($"DELETE FROM fhircast.mt_events WHERE stream_id = @topic AND version = {ReportingSession.Events}", other);
        var result = await VerifyAsync(other);
        Assert.False((bool)result["valid"]!);
        Assert.Equal(ReportingSession.Events, (int)result["firstBrokenVersion"]!);
    }

    [Fact]
    public async Task events_appended_together_in_one_commit_are_chained_in_order()
    {
        var topic = NewTopic();
        var now = DateTimeOffset.UtcNow;
        var store = fixture.Hub.Services.GetRequiredService<IDocumentStore>();
        await using (var session = store.LightweightSession())
        {
            session.Events.StartStream<TopicSession>(topic,
                new Subscribed("ep-a-" + topic, "app a", ["Patient-open"], 60, now),
                new Subscribed("ep-b-" + topic, "app b", ["Patient-open"], 60, now),
                new SubscriptionAbandoned("ep-a-" + topic, now));
            await session.SaveChangesAsync();
        }

        var result = await VerifyAsync(topic);
        Assert.True((bool)result["valid"]!, result.ToJsonString());
        Assert.Equal(3, (int)result["events"]!);
    }

    [Fact]
    public async Task verify_of_an_unknown_topic_is_404_not_found()
    {
        using var response = await _hub.Http.GetAsync($"/api/sessions/{NewTopic()}/verify");
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.NotFound, "not-found");
    }
}
