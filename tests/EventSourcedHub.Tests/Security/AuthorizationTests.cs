using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Security;

/// <summary>A hub with `Hub:Auth:Mode=Jwt`, driven end to end with real RS256 tokens.</summary>
public sealed class AuthorizationTests : JwtHubTests
{

    /// <summary>A known topic with an open patient, made with an all-powerful token.</summary>
    private async Task<string> SessionAsync()
    {
        var topic = NewTopic();
        Use(Issuer.Token("fhircast/*.*"));
        await Hub.SubscribeAsync(topic, "Patient-open");
        await Hub.PublishAsync(PatientOpen(topic, "p1"));
        Use(null);
        return topic;
    }

    public static TheoryData<string> BadTokens() => new() { "missing", "expired", "not yet valid", "wrong issuer", "wrong audience", "bad signature", "alg none", "garbage" };

    private string? BadToken(string kind) => kind switch
    {
        "missing" => null,
        "expired" => Issuer.Token("fhircast/*.*", lifetime: TimeSpan.FromMinutes(-10)),
        "not yet valid" => Issuer.Token("fhircast/*.*", notBefore: DateTime.UtcNow.AddMinutes(10), lifetime: TimeSpan.FromMinutes(30)),
        "wrong issuer" => Issuer.Token("fhircast/*.*", issuer: "https://evil.test.invalid"),
        "wrong audience" => Issuer.Token("fhircast/*.*", audience: "someone-else"),
        "bad signature" => Issuer.Token("fhircast/*.*", signWith: RSA.Create(2048)),
        "alg none" => TokenIssuer.Unsigned("fhircast/*.*"),
        _ => "not.a.token",
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task HUB_AUTH_03_an_event_without_a_valid_token_is_401_operation_outcome_and_changes_nothing(string kind)
    {
        var topic = await SessionAsync();
        Use(BadToken(kind));
        using var response = await Hub.PublishJsonAsync(PatientClose(topic, "p1"));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.Unauthorized, "login");
        Assert.StartsWith("Bearer", response.Headers.WwwAuthenticate.ToString());
        Use(Issuer.Token("fhircast/*.read"));
        Assert.Equal("Patient", (string?)(await Hub.GetContextAsync(topic))["context.type"]);
    }

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task HUB_AUTH_03_a_subscription_without_a_valid_token_is_401_text(string kind)
    {
        Use(BadToken(kind));
        using var response = await Hub.SubscribeRawAsync(NewTopic(), "Patient-open");
        await HubClient.AssertPlainTextError(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task HUB_AUTH_03_a_subscription_is_narrowed_to_the_events_the_token_may_read()
    {
        var topic = await SessionAsync();
        Use(Issuer.Token("fhircast/patient-OPEN.read fhircast/ImagingStudy-open.write"));
        await using var subscriber = await TestSubscriber.ConnectAsync(await Hub.SubscribeAsync(topic, "Patient-open,Patient-close,ImagingStudy-open"));
        Assert.Equal("Patient-open", (string?)(await subscriber.ReceiveAsync())["hub.events"]);
    }

    [Fact]
    public async Task HUB_AUTH_03_a_subscription_with_no_readable_event_is_403_text()
    {
        Use(Issuer.Token("fhircast/Patient-open.write user/AuditEvent.read"));
        using var response = await Hub.SubscribeRawAsync(NewTopic(), "Patient-open");
        await HubClient.AssertPlainTextError(response, HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("fhircast/Patient-close.write", HttpStatusCode.Accepted)]
    [InlineData("fhircast/PATIENT-CLOSE.*", HttpStatusCode.Accepted)]
    [InlineData("fhircast/*.write", HttpStatusCode.Accepted)]
    [InlineData("fhircast/Patient-close.read", HttpStatusCode.Forbidden)]
    [InlineData("fhircast/Patient-open.write", HttpStatusCode.Forbidden)]
    [InlineData("system/AuditEvent.read", HttpStatusCode.Forbidden)]
    public async Task HUB_AUTH_02_publishing_an_event_needs_its_write_scope(string scopes, HttpStatusCode expected)
    {
        var topic = await SessionAsync();
        Use(Issuer.Token(scopes));
        using var response = await Hub.PublishJsonAsync(PatientClose(topic, "p1"));
        if (expected == HttpStatusCode.Forbidden) await HubClient.AssertOperationOutcome(response, expected, "forbidden");
        else Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("fhircast/Patient-open.read", HttpStatusCode.OK)]
    [InlineData("fhircast/*.write", HttpStatusCode.Forbidden)]
    [InlineData("user/AuditEvent.read", HttpStatusCode.Forbidden)]
    public async Task HUB_AUTH_04_get_current_context_needs_a_read_scope(string scopes, HttpStatusCode expected)
    {
        var topic = await SessionAsync();
        Use(Issuer.Token(scopes));
        using var response = await Hub.GetContextRawAsync(topic);
        if (expected == HttpStatusCode.Forbidden) await HubClient.AssertOperationOutcome(response, expected, "forbidden");
        else Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task HUB_AUTH_06_a_token_bound_to_a_topic_works_there_and_nowhere_else()
    {
        var mine = await SessionAsync();
        var other = await SessionAsync();
        Use(Issuer.Token("fhircast/*.*", topic: mine));
        await Hub.PublishAsync(Custom(mine, "org.example.ok"));
        using var publishElsewhere = await Hub.PublishJsonAsync(Custom(other, "org.example.no"));
        await HubClient.AssertOperationOutcome(publishElsewhere, HttpStatusCode.Forbidden, "forbidden");
        using var readElsewhere = await Hub.GetContextRawAsync(other);
        await HubClient.AssertOperationOutcome(readElsewhere, HttpStatusCode.Forbidden, "forbidden");
        using var subscribeElsewhere = await Hub.SubscribeRawAsync(other, "Patient-open");
        await HubClient.AssertPlainTextError(subscribeElsewhere, HttpStatusCode.Forbidden);
        using var historyElsewhere = await Hub.Http.GetAsync($"/api/sessions/{other}/events?afterVersion=0");
        await HubClient.AssertOperationOutcome(historyElsewhere, HttpStatusCode.Forbidden, "forbidden");
    }

    [Theory]
    [InlineData("/fhir/AuditEvent")]
    [InlineData("/fhir/Provenance")]
    [InlineData("/api/sessions")]
    public async Task a_topic_bound_token_cannot_search_across_sessions(string path)
    {
        var topic = await SessionAsync();
        Use(Issuer.Token("system/AuditEvent.read system/Provenance.read", topic: topic));
        using var response = await Hub.Http.GetAsync(path);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.Forbidden, "forbidden");
        using var own = await Hub.Http.GetAsync($"/api/sessions/{topic}/audit");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public async Task HUB_SUB_10_the_lease_never_outlives_the_token()
    {
        var topic = await SessionAsync();
        Use(Issuer.Token("fhircast/*.read", lifetime: TimeSpan.FromMinutes(2)));
        await using var subscriber = await TestSubscriber.ConnectAsync(await Hub.SubscribeAsync(topic, "Patient-open", lease: 7200));
        Assert.InRange((int)(await subscriber.ReceiveAsync())["hub.lease_seconds"]!, 60, 150);
    }

    [Fact]
    public async Task HUB_AUTH_05_the_websocket_needs_no_token_and_the_subscriber_name_defaults_to_the_client_id()
    {
        var topic = await SessionAsync();
        Use(Issuer.Token("fhircast/*.read", client: "acme-viewer"));
        var endpoint = await Hub.SubscribeAsync(topic, "Patient-open,SyncError", name: null);
        Use(null);
        await using var subscriber = await TestSubscriber.ConnectAsync(endpoint);
        Assert.Equal("subscribe", (string?)(await subscriber.ReceiveAsync())["hub.mode"]);
        Use(Issuer.Token("system/AuditEvent.read"));
        var audit = await Hub.Http.GetStringAsync($"/api/sessions/{topic}/audit");
        Assert.Contains("acme-viewer", audit);
    }

    [Theory]
    [InlineData("/fhir/AuditEvent", "user/AuditEvent.read", HttpStatusCode.OK)]
    [InlineData("/fhir/AuditEvent", "system/AuditEvent.read", HttpStatusCode.OK)]
    [InlineData("/fhir/AuditEvent", "fhircast/*.*", HttpStatusCode.Forbidden)]
    [InlineData("/fhir/Provenance", "system/Provenance.read", HttpStatusCode.OK)]
    [InlineData("/fhir/Provenance", "system/AuditEvent.read", HttpStatusCode.Forbidden)]
    [InlineData("/api/sessions/TOPIC/verify", "user/AuditEvent.read", HttpStatusCode.OK)]
    [InlineData("/api/sessions/TOPIC/timeline", "fhircast/*.read", HttpStatusCode.Forbidden)]
    [InlineData("/api/sessions/TOPIC/export", "fhircast/*.read", HttpStatusCode.Forbidden)]
    [InlineData("/api/sessions/TOPIC/events?afterVersion=0", "fhircast/Patient-open.read", HttpStatusCode.OK)]
    [InlineData("/api/sessions/TOPIC/context?version=1", "user/AuditEvent.read", HttpStatusCode.Forbidden)]
    [InlineData("/api/sessions", "user/AuditEvent.read", HttpStatusCode.OK)]
    public async Task audit_and_history_endpoints_need_their_scopes(string path, string scopes, HttpStatusCode expected)
    {
        var topic = await SessionAsync();
        Use(Issuer.Token(scopes));
        using var response = await Hub.Http.GetAsync(path.Replace("TOPIC", topic));
        if (expected == HttpStatusCode.Forbidden) await HubClient.AssertOperationOutcome(response, expected, "forbidden");
        else Assert.Equal(expected, response.StatusCode);
        Use(null);
        using var anonymous = await Hub.Http.GetAsync(path.Replace("TOPIC", topic));
        await HubClient.AssertOperationOutcome(anonymous, HttpStatusCode.Unauthorized, "login");
    }

    [Theory]
    [InlineData("system/AuditEvent.read", HttpStatusCode.Forbidden)]
    [InlineData("system/*.write", HttpStatusCode.BadRequest)]
    public async Task importing_a_log_needs_the_system_write_scope(string scopes, HttpStatusCode expected)
    {
        Use(Issuer.Token(scopes));
        using var content = new StringContent("", System.Text.Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using var response = await Hub.Http.PostAsync($"/api/sessions/{NewTopic()}/import", content);
        await HubClient.AssertOperationOutcome(response, expected, expected == HttpStatusCode.Forbidden ? "forbidden" : "invalid");
    }

    [Theory]
    [InlineData("system/AuditEvent.read", HttpStatusCode.Forbidden)]
    [InlineData("fhircast/*.write", HttpStatusCode.Forbidden)]
    [InlineData("system/AuditEvent.read fhircast/*.write", HttpStatusCode.Accepted)]
    public async Task a_replay_needs_audit_read_on_the_source_and_a_fhircast_write_scope_for_the_target(string scopes, HttpStatusCode expected)
    {
        var topic = await SessionAsync();
        Use(Issuer.Token(scopes));
        using var response = await Hub.Http.PostAsync($"/api/sessions/{topic}/replay",
            new StringContent($$"""{"targetTopic":"{{NewTopic()}}","speed":0}""", System.Text.Encoding.UTF8, "application/json"));
        if (expected == HttpStatusCode.Forbidden) await HubClient.AssertOperationOutcome(response, expected, "forbidden");
        else Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("unauthenticated")]
    [InlineData("forbidden")]
    public async Task every_401_and_403_is_itself_audited(string subtype)
    {
        var topic = await SessionAsync();
        var marker = Guid.NewGuid().ToString("N");
        Use(subtype == "unauthenticated" ? null : Issuer.Token("fhircast/Patient-open.read"));
        using var refused = await Hub.PublishJsonAsync(Custom(topic, $"org.example.{marker}"), pathTopic: topic);
        Assert.Equal(subtype == "unauthenticated" ? HttpStatusCode.Unauthorized : HttpStatusCode.Forbidden, refused.StatusCode);

        Use(Issuer.Token("system/AuditEvent.read"));
        for (var attempt = 0; ; attempt++)
        {
            var bundle = await Hub.Http.GetStringAsync($"/fhir/AuditEvent?subtype={subtype}&_count=200");
            if (bundle.Contains(topic)) break;
            Assert.True(attempt < 30, $"no {subtype} audit record for the refused request");
            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task discovery_and_metadata_need_no_token()
    {
        Use(null);
        using var discovery = await Hub.Http.GetAsync("/api/hub/.well-known/fhircast-configuration");
        Assert.Equal(HttpStatusCode.OK, discovery.StatusCode);
        using var metadata = await Hub.Http.GetAsync("/fhir/metadata");
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
    }
}

public sealed class SafeDefaultTests
{
    [Theory]
    [InlineData("Hub:MaxLeaseSeconds", "60")]
    [InlineData("Hub:SyncErrorSeverity", "loud")]
    [InlineData("Hub:Limits:MaxContextEntries", "0")]
    [InlineData("Hub:MaxCommitBatch", "0")]
    [InlineData("Hub:Limits:MaxOpenAnchors", "1")]
    public async Task settings_that_cannot_work_stop_the_start_naming_the_key(string key, string value)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHub.StartAsync(new Dictionary<string, string?> { [key] = value }));
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public async Task a_missing_signing_key_file_stops_the_start_with_a_clear_message()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHub.StartAsync(new Dictionary<string, string?>
        {
            ["Hub:Auth:Mode"] = "Jwt", ["Hub:Auth:Issuer"] = "https://idp.test.invalid", ["Hub:Auth:Audience"] = "hub",
            ["Hub:Auth:SigningKeyPath"] = "/nonexistent/key.pem",
        }));
        Assert.Contains("Hub:Auth:SigningKeyPath", error.Message);
    }

    [Fact]
    public async Task a_hub_without_authentication_refuses_to_listen_beyond_loopback()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            TestHub.StartAsync(new Dictionary<string, string?> { ["urls"] = "http://0.0.0.0:0" }));
        Assert.Contains("Hub:Auth:Mode", error.Message);
    }

    [Theory]
    [InlineData("http://0.0.0.0:5080", false, false)]
    [InlineData("http://+:5080", false, false)]
    [InlineData("http://hub.example.org:5080", false, false)]
    [InlineData("http://127.0.0.1:5080", false, true)]
    [InlineData("http://localhost:5080", false, true)]
    [InlineData("http://[::1]:5080", false, true)]
    [InlineData("http://0.0.0.0:5080", true, true)]
    public void only_loopback_addresses_may_serve_without_authentication_unless_anonymous_is_allowed(string url, bool allowAnonymous, bool starts)
    {
        // Checked before anything binds, so no test listens beyond loopback.
        var check = () => EventSourcedHub.Security.HubAuthentication.RefuseOpenAnonymousHub(new EventSourcedHub.Security.HubAuthOptions { AllowAnonymous = allowAnonymous }, [url]);
        if (starts) check();
        else Assert.Contains("AllowAnonymous", Assert.Throws<InvalidOperationException>(check).Message);
    }
}
