using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Security;

/// <summary>
/// The one access layer (issue 12, rulings.md 32-33) on a `Mode=Jwt` hub with real RS256 tokens: checks read the topic
/// from the route value the handler uses, and every AuditEvent and Provenance names the client that acted.
/// </summary>
public sealed class AccessLayerTests : JwtHubTests
{

    private async Task<JsonObject> GetJsonAsync(string url)
    {
        using var response = await Hub.Http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static List<JsonObject> Resources(JsonObject bundle) =>
        bundle["entry"]?.AsArray().Select(e => e!["resource"]!.AsObject()).ToList() ?? [];

    /// <summary>Searches (with an audit token) until at least <paramref name="expected"/> match, for up to 5 s.</summary>
    private async Task<List<JsonObject>> SearchAsync(string url, int expected = 1)
    {
        Use(Issuer.Token("system/AuditEvent.read system/Provenance.read", client: "auditor"));
        for (var attempt = 0; ; attempt++)
        {
            var found = Resources(await GetJsonAsync(url));
            if (found.Count >= expected || attempt == 50) return found;
            await Task.Delay(100);
        }
    }

    [Theory]
    [InlineData("events?afterVersion=0")]
    [InlineData("audit")]
    [InlineData("export")]
    public async Task HUB_AUTH_06_an_encoded_slash_in_the_path_cannot_reach_another_topic_with_a_token_bound_to_v_x(string what)
    {
        // Two sessions whose names differ from `v/x` only by encoding; each holds another patient's data.
        Use(Issuer.Token("fhircast/*.*"));
        foreach (var topic in new[] { "v%2Fx", "v%252Fx" })
        {
            await Hub.SubscribeAsync(topic, "Patient-open");
            await Hub.PublishAsync(PatientOpen(topic, "someone-else"));
        }

        Use(Issuer.Token("fhircast/*.read system/AuditEvent.read", topic: "v/x"));
        foreach (var encoded in new[] { "v%2Fx", "v%252Fx" })
        {
            using var response = await Hub.Http.GetAsync($"/api/sessions/{encoded}/{what}");
            var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.Forbidden, "forbidden");
            Assert.StartsWith("The token is bound to another topic (`hub.topic` claim) and cannot be used for 'v%2Fx'",
                (string?)outcome["issue"]![0]!["diagnostics"], StringComparison.Ordinal);
        }

        // The handler and the check see the same topic: a token bound to the route's own value reads it.
        Use(Issuer.Token("fhircast/*.read system/AuditEvent.read", topic: "v%2Fx"));
        using var own = await Hub.Http.GetAsync($"/api/sessions/v%2Fx/{what}");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task Rulings_33_audit_events_and_provenance_name_the_client_of_the_token_with_its_name_claim()
    {
        var topic = NewTopic();
        var pacs = new Dictionary<string, object> { ["name"] = "PACS One" };
        Use(Issuer.Token("fhircast/*.*", client: "pacs-1", claims: pacs));
        await Hub.SubscribeAsync(topic, "UserLogout", name: "Viewer app");
        await Hub.PublishAsync(ReportOpen(topic, "rpt-a"));
        var version = (string)(await Hub.GetContextAsync(topic))["context.versionId"]!;
        Use(Issuer.Token("fhircast/DiagnosticReport-update.write", client: "reporting-2", claims: new Dictionary<string, object> { ["fhirUser"] = "Practitioner/dr-who" }));
        await Hub.PublishAsync(ReportUpdate(topic, "rpt-a", version, [Put(ObservationResource("obs-a"), "Observation/obs-a")]));

        var audit = await SearchAsync($"/fhir/AuditEvent?entity={Uri.EscapeDataString(topic)}&_count=100", expected: 4);
        AuditEventAgent(Single(audit, "subscribe"), "pacs-1", "PACS One");
        AuditEventAgent(Single(audit, "DiagnosticReport-open"), "pacs-1", "PACS One");
        AuditEventAgent(Single(audit, "DiagnosticReport-update"), "reporting-2", "Practitioner/dr-who");
        AuditEventAgent(Single(audit, "get-current-context"), "pacs-1", "PACS One");

        var provenance = Assert.Single(await SearchAsync("/fhir/Provenance?agent=reporting-2&target=Observation/obs-a"));
        var who = provenance["agent"]![0]!["who"]!;
        Assert.Equal("Practitioner/dr-who", (string?)who["display"]);
        Assert.Equal("reporting-2", (string?)who["identifier"]!["value"]);
        Assert.Equal("urn:eventsourcedhub:client", (string?)who["identifier"]!["system"]);

        // A refused request names the client too.
        Use(Issuer.Token("fhircast/Patient-open.read", client: "nosy-3"));
        using (var refused = await Hub.PublishJsonAsync(Custom(topic, "org.example.nosy")))
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var forbidden = await SearchAsync($"/fhir/AuditEvent?agent=nosy-3&subtype=forbidden");
        AuditEventAgent(Assert.Single(forbidden), "nosy-3", "nosy-3");
    }

    private static JsonObject Single(List<JsonObject> audit, string subtype) =>
        Assert.Single(audit, e => (string?)e["subtype"]![0]!["code"] == subtype);

    private static void AuditEventAgent(JsonObject auditEvent, string client, string display)
    {
        var agent = auditEvent["agent"]![0]!;
        Assert.Equal(client, (string?)agent["name"]);
        Assert.Equal(display, (string?)agent["who"]!["display"]);
        Assert.Equal(client, (string?)agent["who"]!["identifier"]!["value"]);
        Assert.True((bool)agent["requestor"]!);
        Assert.Equal("127.0.0.1", (string?)agent["network"]!["address"]);
    }
}

/// <summary>The rate limit runs before authentication (rulings.md 32): a flood without tokens gets 429s.</summary>
public sealed class RateLimitBeforeAuthenticationTests : IAsyncLifetime
{
    private readonly TokenIssuer _issuer = new();
    private TestHub _server = null!;

    public async Task InitializeAsync()
    {
        var settings = _issuer.HubSettings();
        settings["Hub:Limits:RequestsPerSecondPerClient"] = "5";
        _server = await TestHub.StartAsync(settings);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _issuer.Dispose();
    }

    [Fact]
    public async Task Rulings_32_sixty_simultaneous_requests_without_a_token_get_429s_and_are_audited_as_one_throttled_record()
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => _server.Client.Http.GetAsync("/fhir/AuditEvent")));
        var throttled = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        // The bucket holds twice the rate: at most 10 pass to the token check, the rest are refused before it.
        Assert.InRange(throttled.Count, 50, 60);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.TooManyRequests), r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        var outcome = await HubClient.AssertOperationOutcome(throttled[0], HttpStatusCode.TooManyRequests, "throttled");
        Assert.Equal("Too many requests from this client; retry after the time in Retry-After.", (string?)outcome["issue"]![0]!["diagnostics"]);
        Assert.True(throttled[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        foreach (var r in responses) r.Dispose();

        // Once the bucket refills, an auditor finds the refusals summed up per client and second, not one record each.
        await Task.Delay(TimeSpan.FromSeconds(3));
        _server.Client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _issuer.Token("system/AuditEvent.read"));
        var bundle = JsonNode.Parse(await _server.Client.Http.GetStringAsync("/fhir/AuditEvent?subtype=throttled&_count=100"))!;
        var records = bundle["entry"]!.AsArray().Select(e => e!["resource"]!).ToList();
        Assert.InRange(records.Count, 1, 3);
        var counted = records.Sum(r => int.Parse(((string)r["outcomeDesc"]!)["429: ".Length..].Split(' ')[0]));
        Assert.Equal(throttled.Count, counted);
        Assert.All(records, r => Assert.Equal("127.0.0.1", (string?)r["agent"]![0]!["network"]!["address"]));
    }
}
