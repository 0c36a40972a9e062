using EventSourcedHub.Domain;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Storage;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Storage;

public sealed class EventLogTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<IReadOnlyList<JasperFx.Events.IEvent>> StreamOf(string topic)
    {
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await query.Events.FetchStreamAsync(topic);
    }

    [Fact]
    public async Task every_accepted_notification_and_subscription_step_is_one_event_on_the_topics_stream()
    {
        var topic = NewTopic();
        var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        var second = await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.SubscribeRawAsync(topic, "Patient-open,Patient-close", endpoint: second);
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.PublishAsync(PatientClose(topic, "p1"));
        await _hub.PublishAsync(HomeOpen(topic));
        await _hub.PublishAsync(Custom(topic, "org.example.x"));
        using var rejected = await _hub.PublishJsonAsync(PatientClose(topic, "nobody"));
        await _hub.UnsubscribeAsync(topic, second);
        await subscriber.CloseAsync();
        await subscriber.DisposeAsync();

        string[] expected =
        [
            "subscribed", "subscription_confirmed", "subscribed", "subscription_renewed", "context_opened", "context_closed",
            "home_opened", "notification_relayed", "unsubscribed", "subscriber_dropped",
        ];
        var types = Array.Empty<string>();
        for (var i = 0; i < 50 && types.Length < expected.Length; i++)
        {
            await Task.Delay(100);
            types = (await StreamOf(topic)).Select(e => e.EventTypeName).ToArray();
        }
        Assert.Equal(expected, types);
        Assert.Equal(Enumerable.Range(1, expected.Length).Select(v => (long)v), (await StreamOf(topic)).Select(e => e.Version));
    }

    [Fact]
    public async Task the_stored_session_documents_equal_the_domain_fold_of_the_stream()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        await _hub.SubscribeAsync(topic, "ImagingStudy-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.PublishAsync(StudyOpen(topic, "s1", "p1"));
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.PublishAsync(PatientClose(topic, "p1"));

        var events = await StreamOf(topic);
        var folded = TopicSession.Fold(topic, events.Select(e => e.Data));
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var projected = (await TopicDocuments.LoadAsync(query, topic, CancellationToken.None))!;

        Assert.Equal(folded.Version, projected.Version);
        Assert.Equal(folded.CurrentAnchor, projected.CurrentAnchor);
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(folded.Anchors), System.Text.Json.JsonSerializer.Serialize(projected.Anchors));
        Assert.Equal(folded.Subscriptions.Keys.Order(), projected.Subscriptions.Keys.Order());
        Assert.All(folded.Subscriptions, s => Assert.Equal(s.Value.Status, projected.Subscriptions[s.Key].Status));
        Assert.Equal(CurrentContext.Render(folded), CurrentContext.Render(projected));
    }

    [Fact]
    public async Task two_hubs_on_one_database_racing_on_one_topic_append_every_event_once_in_one_order()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "org.example.tick");
        await using var other = await TestHub.StartAsync(connectionString: fixture.Hub.ConnectionString);
        const int perHub = 30;
        await Task.WhenAll(
            Task.Run(async () => { for (var i = 0; i < perHub; i++) await _hub.PublishUntilAcceptedAsync(Custom(topic, "org.example.tick", id: $"a{i}")); }),
            Task.Run(async () => { for (var i = 0; i < perHub; i++) await other.Client.PublishUntilAcceptedAsync(Custom(topic, "org.example.tick", id: $"b{i}")); }));

        var notifications = (await StreamOf(topic)).Select(e => e.Data).OfType<NotificationRelayed>().Select(n => n.EventId).ToArray();
        Assert.Equal(2 * perHub, notifications.Length);
        Assert.Equal(2 * perHub, notifications.Distinct().Count());
    }

    [Fact]
    public async Task a_hub_decides_on_what_another_hub_committed_not_on_what_it_last_wrote_itself()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await using var other = await TestHub.StartAsync(connectionString: fixture.Hub.ConnectionString);

        // This hub last wrote "p1 open"; the other hub closes p1: this hub's close of p1 is now a 409.
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await other.Client.PublishAsync(PatientClose(topic, "p1"));
        using var stale = await _hub.PublishJsonAsync(PatientClose(topic, "p1"));
        await HubClient.AssertOperationOutcome(stale, System.Net.HttpStatusCode.Conflict, "conflict");

        // This hub last wrote "p2 closed"; the other hub opens p2 again: this hub's close of p2 is accepted.
        await _hub.PublishAsync(PatientOpen(topic, "p2"));
        await _hub.PublishAsync(PatientClose(topic, "p2"));
        await other.Client.PublishAsync(PatientOpen(topic, "p2"));
        using var accepted = await _hub.PublishJsonAsync(PatientClose(topic, "p2"));
        Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);

        Assert.Equal(
            ["subscribed", "context_opened", "context_closed", "context_opened", "context_closed", "context_opened", "context_closed"],
            (await StreamOf(topic)).Select(e => e.EventTypeName));
    }
}
