using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>A FHIRcast app's view of the hub: plain HTTP calls as a client would make them.</summary>
public sealed class HubClient(Uri baseAddress) : IDisposable
{
    public HttpClient Http { get; } = new() { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public const string HubPath = "/api/hub";

    public Task<HttpResponseMessage> PostFormAsync(params (string Key, string Value)[] fields) =>
        Http.PostAsync(HubPath, new FormUrlEncodedContent(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value))));

    public Task<HttpResponseMessage> SubscribeRawAsync(string topic, string events, string? name = "test app", int? lease = null, string? endpoint = null)
    {
        var fields = new List<(string, string)> { ("hub.channel.type", "websocket"), ("hub.mode", "subscribe"), ("hub.topic", topic), ("hub.events", events) };
        if (name is not null) fields.Add(("subscriber.name", name));
        if (lease is not null) fields.Add(("hub.lease_seconds", lease.Value.ToString()));
        if (endpoint is not null) fields.Add(("hub.channel.endpoint", endpoint));
        return PostFormAsync(fields.ToArray());
    }

    /// <summary>Subscribes and returns the endpoint URL from the 202 body.</summary>
    public async Task<string> SubscribeAsync(string topic, string events, string? name = "test app", int? lease = null)
    {
        using var response = await SubscribeRawAsync(topic, events, name, lease);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return await EndpointOf(response);
    }

    /// <summary>Subscribes, connects the WebSocket and reads the confirmation frame.</summary>
    public async Task<TestSubscriber> SubscribeAndConnectAsync(string topic, string events, string? name = "test app", int? lease = null)
    {
        var endpoint = await SubscribeAsync(topic, events, name, lease);
        var subscriber = await TestSubscriber.ConnectAsync(endpoint);
        var confirmation = await subscriber.ReceiveAsync();
        Assert.True("subscribe" == (string?)confirmation["hub.mode"], confirmation.ToJsonString());
        return subscriber;
    }

    public Task<HttpResponseMessage> UnsubscribeAsync(string topic, string endpoint, string endpointField = "hub.channel.endpoint") =>
        PostFormAsync(("hub.channel.type", "websocket"), ("hub.mode", "unsubscribe"), ("hub.topic", topic), (endpointField, endpoint));

    public Task<HttpResponseMessage> PublishJsonAsync(string json, string? pathTopic = null, string mediaType = "application/json")
    {
        var content = new StringContent(json, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType) { CharSet = "utf-8" };
        return Http.PostAsync(pathTopic is null ? HubPath : $"{HubPath}/{Uri.EscapeDataString(pathTopic)}", content);
    }

    /// <summary>
    /// Publishes as a client should (rulings.md 8): a 503 "topic busy" after too many lost races (several writers on one
    /// topic, likely on 2 busy cores) is sent again, with the same id, after its Retry-After; asserts the 202.
    /// </summary>
    public async Task PublishUntilAcceptedAsync(string json)
    {
        for (var attempt = 1; ; attempt++)
        {
            using var response = await PublishJsonAsync(json);
            if (response.StatusCode == HttpStatusCode.Accepted) return;
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable && attempt < 10,
                $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Publishes an event and asserts that the hub accepted it.</summary>
    public async Task PublishAsync(string json, string? pathTopic = null)
    {
        using var response = await PublishJsonAsync(json, pathTopic);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"expected 202, got {(int)response.StatusCode}: {body}");
    }

    public Task<HttpResponseMessage> GetContextRawAsync(string topic) => Http.GetAsync($"{HubPath}/{Uri.EscapeDataString(topic)}");

    public async Task<JsonObject> GetContextAsync(string topic)
    {
        using var response = await GetContextRawAsync(topic);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    public static async Task<string> EndpointOf(HttpResponseMessage response)
    {
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        return (string)body["hub.channel.endpoint"]!;
    }

    /// <summary>Asserts an OperationOutcome error response: status, media type, and one error issue with the given code.</summary>
    public static async Task<JsonObject> AssertOperationOutcome(HttpResponseMessage response, HttpStatusCode status, string issueCode)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
        var outcome = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("OperationOutcome", (string?)outcome["resourceType"]);
        var issue = outcome["issue"]![0]!;
        Assert.Equal("error", (string?)issue["severity"]);
        Assert.Equal(issueCode, (string?)issue["code"]);
        Assert.False(string.IsNullOrWhiteSpace((string?)issue["diagnostics"]));
        return outcome;
    }

    /// <summary>Asserts a subscription-interface error: 4xx with a plain-text developer message.</summary>
    public static async Task<string> AssertPlainTextError(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.False(string.IsNullOrWhiteSpace(body));
        return body;
    }

    public void Dispose() => Http.Dispose();

    public static string Canonical(JsonNode? node) => node?.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) ?? "null";
}
