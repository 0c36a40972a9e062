using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;

namespace EventSourcedHub.Tests.Discovery;

public sealed class DiscoveryTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonObject> DiscoverAsync(string path)
    {
        using var response = await _hub.Http.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    [Theory]
    [InlineData("/api/hub/.well-known/fhircast-configuration")]
    [InlineData("/.well-known/fhircast-configuration")]
    public async Task HUB_DISC_01_the_configuration_is_served_under_the_hub_url_and_the_root(string path)
    {
        var document = await DiscoverAsync(path);
        Assert.True(document.ContainsKey("eventsSupported"));
    }

    [Fact]
    public async Task HUB_DISC_02_events_supported_lists_the_catalog()
    {
        var events = (await DiscoverAsync("/api/hub/.well-known/fhircast-configuration"))["eventsSupported"]!.AsArray().Select(e => (string?)e).ToArray();
        foreach (var name in new[] { "Patient-open", "Patient-close", "DiagnosticReport-open", "DiagnosticReport-update", "SyncError", "Home-open" })
            Assert.Contains(name, events);
    }

    [Fact]
    public async Task HUB_DISC_03_websocket_support_is_true()
    {
        Assert.True((bool)(await DiscoverAsync("/api/hub/.well-known/fhircast-configuration"))["websocketSupport"]!);
    }

    [Fact]
    public async Task HUB_DISC_04_fhircast_version_is_3_0_0()
    {
        Assert.Equal("3.0.0", (string?)(await DiscoverAsync("/api/hub/.well-known/fhircast-configuration"))["fhircastVersion"]);
    }

    [Fact]
    public async Task HUB_DISC_05_capabilities_state_get_current_context_support()
    {
        var capabilities = (await DiscoverAsync("/api/hub/.well-known/fhircast-configuration"))["capabilities"]!;
        Assert.True((bool)capabilities["supportsGetCurrentContext"]!);
        Assert.NotNull(capabilities["supportsNonCurrentContextUpdates"]);
    }

    [Fact]
    public async Task HUB_DISC_06_the_deprecated_get_current_support_flag_is_sent_too()
    {
        Assert.True((bool)(await DiscoverAsync("/api/hub/.well-known/fhircast-configuration"))["getCurrentSupport"]!);
    }

    [Fact]
    public async Task HUB_DISC_07_fhir_version_is_omitted_because_payloads_may_be_r4_or_r5()
    {
        Assert.False((await DiscoverAsync("/api/hub/.well-known/fhircast-configuration")).ContainsKey("fhirVersion"));
    }

    [Fact]
    public async Task HUB_DISC_08_webhook_support_is_never_advertised()
    {
        Assert.False((await DiscoverAsync("/.well-known/fhircast-configuration")).ContainsKey("webhookSupport"));
    }
}
