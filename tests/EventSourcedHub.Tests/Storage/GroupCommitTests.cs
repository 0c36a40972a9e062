using System.Collections.Concurrent;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Storage;

/// <summary>
/// Group commit (issue 7): appends that wait while a commit is in flight share the next transaction; a lost race in a
/// batch fails that append alone. The commit loop is held on a row lock so that the batch's members are known.
/// </summary>
public sealed class GroupCommitTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;
    private GroupCommit Commits => fixture.Hub.Services.GetRequiredService<GroupCommit>();

    private static PendingAppend Tick(string topic, long expectedVersion) =>
        new(topic, expectedVersion, [new NotificationRelayed(Guid.NewGuid().ToString(), "org.example.tick", Custom(topic, "org.example.tick"))], StateChanges.None, [], null);

    private async Task<string> TopicAtVersionAsync(int subscriptions)
    {
        var topic = NewTopic();
        for (var i = 0; i < subscriptions; i++) await _hub.SubscribeAsync(topic, "org.example.tick");
        return topic;
    }

    /// <summary>Holds <paramref name="topic"/>'s stream row, so that the commit appending to it waits until released.</summary>
    private async Task<NpgsqlTransaction> HoldStreamAsync(NpgsqlConnection connection, string topic)
    {
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using var hold = new NpgsqlCommand("select 1 from fhircast.mt_streams where id = @topic for update", connection, transaction);
        hold.Parameters.AddWithValue("topic", topic);
        await hold.ExecuteScalarAsync();
        return transaction;
    }

    private async Task WaitUntilBlockedAsync()
    {
        await using var connection = new NpgsqlConnection(fixture.Hub.ConnectionString);
        await connection.OpenAsync();
        await using var waiting = new NpgsqlCommand("select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'", connection);
        for (var i = 0; i < 100; i++)
        {
            if ((long)(await waiting.ExecuteScalarAsync())! > 0) return;
            await Task.Delay(50);
        }
        Assert.Fail("The commit never waited on the held stream row.");
    }

    /// <summary>The transaction id of the event at <paramref name="version"/> of <paramref name="topic"/>'s stream.</summary>
    private async Task<string?> TransactionOfAsync(string topic, long version)
    {
        await using var connection = new NpgsqlConnection(fixture.Hub.ConnectionString);
        await connection.OpenAsync();
        await using var xmin = new NpgsqlCommand("select xmin::text from fhircast.mt_events where stream_id = @topic and version = @version", connection);
        xmin.Parameters.AddWithValue("topic", topic);
        xmin.Parameters.AddWithValue("version", version);
        return (string?)await xmin.ExecuteScalarAsync();
    }

    [Fact]
    public async Task appends_that_arrive_while_a_commit_is_in_flight_share_the_next_transaction()
    {
        var blocker = await TopicAtVersionAsync(1);
        var topics = new List<string>();
        for (var i = 0; i < 5; i++) topics.Add(await TopicAtVersionAsync(1));

        Task first;
        var queued = new List<Task>();
        await using (var connection = new NpgsqlConnection(fixture.Hub.ConnectionString))
        {
            await using var held = await HoldStreamAsync(connection, blocker);
            first = Commits.CommitAsync(Tick(blocker, 1));
            await WaitUntilBlockedAsync();
            queued.AddRange(topics.Select(t => Commits.CommitAsync(Tick(t, 1))));
            Assert.All(queued, t => Assert.False(t.IsCompleted));
            await held.CommitAsync();
        }
        await first;
        await Task.WhenAll(queued);

        var transactions = new HashSet<string?>();
        foreach (var topic in topics) transactions.Add(await TransactionOfAsync(topic, 2));
        Assert.DoesNotContain(null, transactions);
        Assert.Single(transactions);
        Assert.NotEqual(await TransactionOfAsync(blocker, 2), transactions.Single());
    }

    [Fact]
    public async Task a_stale_append_in_a_batch_fails_alone_as_a_lost_race_and_the_others_commit()
    {
        var blocker = await TopicAtVersionAsync(1);
        var before = await TopicAtVersionAsync(1);
        var stale = await TopicAtVersionAsync(2);
        var after = await TopicAtVersionAsync(1);

        Task first, ok1, lost, ok2;
        await using (var connection = new NpgsqlConnection(fixture.Hub.ConnectionString))
        {
            await using var held = await HoldStreamAsync(connection, blocker);
            first = Commits.CommitAsync(Tick(blocker, 1));
            await WaitUntilBlockedAsync();
            ok1 = Commits.CommitAsync(Tick(before, 1));
            // Decided on version 1, but the stream is at 2 (another writer won).
            lost = Commits.CommitAsync(Tick(stale, 1));
            ok2 = Commits.CommitAsync(Tick(after, 1));
            await held.CommitAsync();
        }
        await first;
        await ok1;
        await ok2;
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => lost);
        Assert.True(GroupCommit.IsLostRace(failure), failure.ToString());

        Assert.NotNull(await TransactionOfAsync(before, 2));
        Assert.NotNull(await TransactionOfAsync(after, 2));
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        Assert.Equal(["subscribed", "subscribed"], (await query.Events.FetchStreamAsync(stale)).Select(e => e.EventTypeName));
    }

    [Fact]
    public async Task concurrent_publishers_on_many_topics_get_every_event_delivered_in_order_and_share_transactions()
    {
        const int topicCount = 12, perTopic = 10;
        var topics = Enumerable.Range(0, topicCount).Select(_ => NewTopic()).ToArray();
        var subscribers = new List<TestSubscriber>();
        foreach (var topic in topics) subscribers.Add(await _hub.SubscribeAndConnectAsync(topic, "Patient-open"));

        await Task.WhenAll(topics.Select(async topic =>
        {
            for (var n = 0; n < perTopic; n++) await _hub.PublishAsync(PatientOpen(topic, $"p{n}"));
        }));

        for (var i = 0; i < topicCount; i++)
        {
            var received = new List<string>();
            for (var n = 0; n < perTopic; n++) received.Add((string)(await subscribers[i].ReceiveAndAckAsync())["event"]!["context"]![0]!["resource"]!["id"]!);
            Assert.Equal(Enumerable.Range(0, perTopic).Select(n => $"p{n}"), received);
        }

        // Fewer transactions than events: concurrent publishes were committed together.
        await using var connection = new NpgsqlConnection(fixture.Hub.ConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand(
            "select count(*), count(distinct xmin::text) from fhircast.mt_events where stream_id = any(@topics) and type = 'context_opened'", connection);
        count.Parameters.AddWithValue("topics", topics);
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(topicCount * perTopic, reader.GetInt64(0));
        Assert.True(reader.GetInt64(1) < topicCount * perTopic, $"{reader.GetInt64(1)} transactions for {topicCount * perTopic} events");
        foreach (var subscriber in subscribers) await subscriber.DisposeAsync();
    }

    [Fact]
    public async Task the_same_notification_sent_concurrently_is_accepted_once()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var notification = PatientOpen(topic, "p1");
        var answers = new ConcurrentBag<int>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var response = await _hub.PublishJsonAsync(notification);
            answers.Add((int)response.StatusCode);
        }));

        Assert.All(answers, status => Assert.Equal(202, status));
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        Assert.Single(await query.Events.FetchStreamAsync(topic), e => e.Data is ContextOpened);
    }
}
