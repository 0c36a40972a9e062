using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Compatibility;

/// <summary>`Hub:PublicBaseUrl`: the hub names itself by the URL clients reach it at (HUB-GEN-01, rulings.md 4).</summary>
public sealed class PublicBaseUrlTests() : OwnHubTests(new Dictionary<string, string?> { ["Hub:PublicBaseUrl"] = "https://hub.example.org/fhircast/" })
{
    [Fact]
    public async Task HUB_GEN_01_the_endpoint_is_wss_on_the_public_host_and_base_path_and_works_through_the_real_address()
    {
        var topic = NewTopic();
        using var request = new HttpRequestMessage(HttpMethod.Post, HubClient.HubPath)
        {
            Content = new FormUrlEncodedContent([new("hub.channel.type", "websocket"), new("hub.mode", "subscribe"), new("hub.topic", topic), new("hub.events", "Patient-open")]),
        };
        // The configured URL beats any forwarded header, even from a trusted (loopback) proxy.
        request.Headers.Add("X-Forwarded-Proto", "http");
        request.Headers.Add("X-Forwarded-Host", "other.example.org");
        using var response = await Hub.Http.SendAsync(request);

        var endpoint = await HubClient.EndpointOf(response);
        Assert.Matches("^wss://hub\\.example\\.org/fhircast/api/hub/ws/[0-9a-f]{40}$", endpoint);
        // The proxy maps the public path to the hub's own: the same id on the real address connects.
        await using var subscriber = await TestSubscriber.ConnectAsync($"{Server.BaseAddress.ToString().Replace("http://", "ws://")}api/hub/ws/{new Uri(endpoint).Segments[^1]}");
        Assert.Equal("subscribe", (string?)(await subscriber.ReceiveAsync())["hub.mode"]);
    }

    [Fact]
    public async Task HUB_DISC_09_the_capability_statement_and_search_links_name_the_public_url()
    {
        var statement = JsonNode.Parse(await Hub.Http.GetStringAsync("/fhir/metadata"))!;
        var extension = statement["rest"]![0]!["extension"]!.AsArray()
            .Single(e => (string?)e!["url"] == "http://fhircast.hl7.org/StructureDefinition/fhircast-configuration-extension")!;
        Assert.Equal("https://hub.example.org/fhircast/api/hub",
            (string?)extension["extension"]!.AsArray().Single(e => (string?)e!["url"] == "hub.url")!["valueUrl"]);

        var bundle = JsonNode.Parse(await Hub.Http.GetStringAsync("/fhir/AuditEvent?_count=1"))!;
        Assert.StartsWith("https://hub.example.org/fhircast/fhir/AuditEvent?", (string?)bundle["link"]![0]!["url"]);
    }
}

/// <summary>
/// `Hub:ForwardedHeaders:KnownProxies`/`KnownNetworks`: the forwarded headers of a configured proxy are believed, those
/// of any other address are not. The tests reach the hub from loopback (trusted as a proxy on this machine) with a
/// chain naming a second proxy before it; only when that one is configured does its client's view apply.
/// </summary>
public sealed class ForwardedHeadersTests() : OwnHubTests(new Dictionary<string, string?>
{
    ["Hub:ForwardedHeaders:KnownProxies:0"] = "198.51.100.7",
    ["Hub:ForwardedHeaders:KnownNetworks"] = "203.0.113.0/24",
})
{
    private async Task<string> EndpointThroughAsync(string forwardedFor, string forwardedProto, string forwardedHost)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, HubClient.HubPath)
        {
            Content = new FormUrlEncodedContent([new("hub.channel.type", "websocket"), new("hub.mode", "subscribe"), new("hub.topic", NewTopic()), new("hub.events", "Patient-open")]),
        };
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        request.Headers.Add("X-Forwarded-Proto", forwardedProto);
        request.Headers.Add("X-Forwarded-Host", forwardedHost);
        using var response = await Hub.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return await HubClient.EndpointOf(response);
    }

    [Theory]
    [InlineData("198.51.100.7")]
    [InlineData("203.0.113.40")]
    public async Task HUB_GEN_01_behind_a_configured_proxy_the_endpoint_is_wss_on_its_public_host(string proxy)
    {
        var endpoint = await EndpointThroughAsync($"192.0.2.10, {proxy}", "https, http", "hub.example.org, internal.example");

        Assert.StartsWith("wss://hub.example.org/api/hub/ws/", endpoint);
    }

    [Fact]
    public async Task HUB_GEN_01_the_headers_an_unconfigured_proxy_passed_on_are_not_believed()
    {
        var endpoint = await EndpointThroughAsync("192.0.2.10, 198.51.100.8", "https, http", "hub.example.org, internal.example");

        // Only the loopback hop applies: the host and scheme the unconfigured proxy was reached by.
        Assert.StartsWith("ws://internal.example/api/hub/ws/", endpoint);
    }
}

/// <summary>Settings for browsers, proxies and acks that cannot work stop the start, naming the key.</summary>
public sealed class CompatibilitySettingsTests
{
    [Theory]
    [InlineData("Hub:AckTimeoutSeconds", "-1", "'Hub:AckTimeoutSeconds' must be greater than or equal to '0'.")]
    [InlineData("Hub:PublicBaseUrl", "hub.example.org", "Hub:PublicBaseUrl must be an absolute http:// or https:// URL without a query or fragment, e.g. https://hub.example.org.")]
    [InlineData("Hub:PublicBaseUrl", "wss://hub.example.org", "Hub:PublicBaseUrl must be an absolute http:// or https:// URL without a query or fragment, e.g. https://hub.example.org.")]
    [InlineData("Hub:Cors:AllowedOrigins", "https://viewer.example.org/app", "Hub:Cors:AllowedOrigins: 'https://viewer.example.org/app' is not an origin such as https://viewer.example.org.")]
    [InlineData("Hub:Cors:WebSocketOrigins", "*", "Hub:Cors:WebSocketOrigins: '*' is not an origin such as https://viewer.example.org.")]
    [InlineData("Hub:ForwardedHeaders:KnownProxies", "proxy.example.org", "Hub:ForwardedHeaders:KnownProxies: 'proxy.example.org' is not an IP address.")]
    [InlineData("Hub:ForwardedHeaders:KnownNetworks", "10.0.0.0", "Hub:ForwardedHeaders:KnownNetworks: '10.0.0.0' is not a network in CIDR form such as 10.0.0.0/24.")]
    public async Task settings_that_cannot_work_stop_the_start_with_a_message_naming_the_key(string key, string value, string message)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHub.StartAsync(new Dictionary<string, string?> { [key] = value }));

        Assert.Equal($"Invalid hub configuration: {message}", error.Message);
    }
}
