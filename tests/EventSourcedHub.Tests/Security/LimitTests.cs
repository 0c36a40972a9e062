using System.Net;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Security;

/// <summary>Configurable limits: each refusal is a clear 4xx, never a slowdown for others or a 5xx.</summary>
public sealed class LimitTests() : OwnHubTests(new Dictionary<string, string?>
{
    ["Hub:Limits:RequestsPerSecondPerClient"] = "5", ["Hub:Limits:MaxSubscriptionsPerTopic"] = "2", ["Hub:Limits:MaxContextEntries"] = "3",
})
{

    [Fact]
    public async Task a_client_over_its_request_rate_gets_429_with_retry_after_and_recovers()
    {
        var statuses = new List<HttpResponseMessage>();
        for (var i = 0; i < 30; i++) statuses.Add(await Hub.Http.GetAsync("/api/hub/.well-known/fhircast-configuration"));
        var throttled = statuses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        await HubClient.AssertOperationOutcome(throttled, HttpStatusCode.TooManyRequests, "throttled");
        Assert.True(throttled.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        Assert.True(statuses.Count(r => r.StatusCode == HttpStatusCode.OK) >= 5);

        using var form = await Hub.SubscribeRawAsync(NewTopic(), "Patient-open");
        await HubClient.AssertPlainTextError(form, HttpStatusCode.TooManyRequests);
        foreach (var r in statuses) r.Dispose();

        await Task.Delay(TimeSpan.FromSeconds(2.5));
        using var again = await Hub.Http.GetAsync("/api/hub/.well-known/fhircast-configuration");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Fact]
    public async Task a_topic_with_the_most_live_subscriptions_refuses_another_with_403_text()
    {
        var topic = NewTopic();
        var first = await Hub.SubscribeAsync(topic, "Patient-open");
        await Hub.SubscribeAsync(topic, "Patient-open");
        using var third = await Hub.SubscribeRawAsync(topic, "Patient-open");
        Assert.Contains("MaxSubscriptionsPerTopic", await HubClient.AssertPlainTextError(third, HttpStatusCode.Forbidden));
        await Task.Delay(TimeSpan.FromSeconds(1)); // stay under this hub's tiny request rate
        await Hub.UnsubscribeAsync(topic, first);
        using var afterOneLeft = await Hub.SubscribeRawAsync(topic, "Patient-open");
        Assert.Equal(HttpStatusCode.Accepted, afterOneLeft.StatusCode);
    }

    [Fact]
    public async Task an_event_with_more_context_entries_than_allowed_is_413()
    {
        var topic = NewTopic();
        await Hub.SubscribeAsync(topic, "org.example.many");
        using var response = await Hub.PublishJsonAsync(Envelope(topic, "org.example.many",
            """[{"key":"a","data":1},{"key":"b","data":2},{"key":"c","data":3},{"key":"d","data":4}]"""));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.RequestEntityTooLarge, "too-long");
    }
}
