using System.Net;
using System.Net.Http.Headers;
using System.Text;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Tests.Security;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Compatibility;

/// <summary>Requests as a page on another origin makes them, and the CORS answers it must get.</summary>
public static class BrowserRequests
{
    public const string ViewerOrigin = "http://viewer.test:3000";

    public static HttpRequestMessage Preflight(string path, string method, string origin = ViewerOrigin, string headers = "authorization,content-type")
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", headers);
        return request;
    }

    /// <summary>A request as a page on <paramref name="origin"/> sends it.</summary>
    public static HttpRequestMessage FromPage(HttpMethod method, string path, HttpContent? content = null, string origin = ViewerOrigin)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Add("Origin", origin);
        return request;
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    /// <summary>The headers an answer to a page on any origin carries.</summary>
    public static void AssertOpenToAnyOrigin(HttpResponseMessage response)
    {
        Assert.Equal("*", Header(response, "Access-Control-Allow-Origin"));
        Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
        Assert.Equal("Retry-After,WWW-Authenticate", Header(response, "Access-Control-Expose-Headers"));
    }

    public static void AssertPreflightAllowed(HttpResponseMessage response, string allowOrigin = "*")
    {
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(allowOrigin, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("GET,POST,DELETE,OPTIONS", Header(response, "Access-Control-Allow-Methods"));
        Assert.Equal("Authorization,Content-Type,Accept,Prefer", Header(response, "Access-Control-Allow-Headers"));
        Assert.Equal("3600", Header(response, "Access-Control-Max-Age"));
        Assert.Null(Header(response, "Access-Control-Allow-Credentials"));
    }

    /// <summary>Every mapped route, with its route values filled in, and the methods it takes (GET for the WebSocket).</summary>
    public static IEnumerable<(string Path, string Method)> MappedRoutes(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => (System.Text.RegularExpressions.Regex.Replace(e.RoutePattern.RawText!, "{[^}]+}", "x1"), m)))
            .Distinct();
}

/// <summary>Browser apps on other origins (rulings.md 35): preflights without a token, CORS headers on every answer.</summary>
public sealed class CorsTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    [Fact]
    public async Task Rulings_35_a_preflight_on_every_mapped_route_is_answered_for_any_origin_without_credentials()
    {
        var routes = BrowserRequests.MappedRoutes(fixture.Hub.Services).ToList();
        Assert.Contains(("/api/hub", "POST"), routes);
        Assert.Contains(("/api/replays/x1", "DELETE"), routes);
        foreach (var (path, method) in routes)
        {
            using var response = await _hub.Http.SendAsync(BrowserRequests.Preflight(path, method));
            BrowserRequests.AssertPreflightAllowed(response);
        }
    }

    [Fact]
    public async Task Rulings_35_a_preflight_asking_for_a_header_the_hub_does_not_take_is_not_granted_it()
    {
        using var response = await _hub.Http.SendAsync(BrowserRequests.Preflight("/api/hub", "POST", headers: "x-custom"));

        // The browser compares the list with what it asked for and refuses the request.
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("Authorization,Content-Type,Accept,Prefer", BrowserRequests.Header(response, "Access-Control-Allow-Headers"));
    }

    [Fact]
    public async Task Rulings_35_subscribe_publish_and_get_current_context_answers_carry_the_cors_headers()
    {
        var topic = NewTopic();
        using var subscribe = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Post, "/api/hub", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["hub.mode"] = "subscribe", ["hub.channel.type"] = "websocket", ["hub.topic"] = topic, ["hub.events"] = "Patient-open",
        })));
        Assert.Equal(HttpStatusCode.Accepted, subscribe.StatusCode);
        BrowserRequests.AssertOpenToAnyOrigin(subscribe);

        using var publish = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Post, $"/api/hub/{topic}",
            new StringContent(PatientOpen(topic, "p1"), Encoding.UTF8, "application/json")));
        Assert.Equal(HttpStatusCode.Accepted, publish.StatusCode);
        BrowserRequests.AssertOpenToAnyOrigin(publish);

        using var context = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Get, $"/api/hub/{topic}"));
        Assert.Equal(HttpStatusCode.OK, context.StatusCode);
        BrowserRequests.AssertOpenToAnyOrigin(context);
    }

    [Fact]
    public async Task Rulings_35_errors_400_404_405_413_and_415_carry_the_cors_headers_and_keep_their_bodies()
    {
        using var badForm = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Post, "/api/hub",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["hub.mode"] = "bogus" })));
        Assert.Equal("`hub.mode` must be `subscribe` or `unsubscribe`.", await HubClient.AssertPlainTextError(badForm, HttpStatusCode.BadRequest));
        BrowserRequests.AssertOpenToAnyOrigin(badForm);

        using var unknownTopic = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Get, "/api/hub/never-subscribed"));
        await HubClient.AssertOperationOutcome(unknownTopic, HttpStatusCode.NotFound, "not-found");
        BrowserRequests.AssertOpenToAnyOrigin(unknownTopic);

        using var noRoute = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Get, "/no/such/path"));
        var outcome = await HubClient.AssertOperationOutcome(noRoute, HttpStatusCode.NotFound, "not-found");
        Assert.Equal("No such endpoint: /no/such/path.", (string?)outcome["issue"]![0]!["diagnostics"]);
        BrowserRequests.AssertOpenToAnyOrigin(noRoute);

        using var wrongMethod = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Delete, "/api/hub/t1"));
        await HubClient.AssertOperationOutcome(wrongMethod, HttpStatusCode.MethodNotAllowed, "not-supported");
        BrowserRequests.AssertOpenToAnyOrigin(wrongMethod);

        // Over Hub:Limits:MaxRequestBodyBytes (1 MiB): raised by Kestrel, answered by the exception handler. The client
        // waits for 100-continue (as browsers' big uploads may), so the early 413 never meets a body still being sent.
        var oversized = BrowserRequests.FromPage(HttpMethod.Post, "/api/hub", new StringContent(new string(' ', 1024 * 1024 + 1), Encoding.UTF8, "application/json"));
        oversized.Headers.ExpectContinue = true;
        using var tooLarge = await _hub.Http.SendAsync(oversized);
        outcome = await HubClient.AssertOperationOutcome(tooLarge, HttpStatusCode.RequestEntityTooLarge, "too-long");
        Assert.Equal("The request body is larger than this hub accepts.", (string?)outcome["issue"]![0]!["diagnostics"]);
        BrowserRequests.AssertOpenToAnyOrigin(tooLarge);

        using var unsupported = await _hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Post, "/api/hub", new StringContent("x", Encoding.UTF8, "text/plain")));
        await HubClient.AssertOperationOutcome(unsupported, HttpStatusCode.UnsupportedMediaType, "not-supported");
        BrowserRequests.AssertOpenToAnyOrigin(unsupported);
    }

    [Fact]
    public async Task Rulings_35_a_request_without_origin_gets_no_cors_headers()
    {
        using var response = await _hub.Http.GetAsync("/api/hub/.well-known/fhircast-configuration");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(BrowserRequests.Header(response, "Access-Control-Allow-Origin"));
    }
}

/// <summary>The answers of the rate limiter (429) and of a topic that stays busy (503) carry the CORS headers too.</summary>
public sealed class CorsOnThrottlingTests
{
    [Fact]
    public async Task Rulings_35_a_429_from_the_rate_limiter_carries_the_cors_headers_and_retry_after()
    {
        await using var server = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:Limits:RequestsPerSecondPerClient"] = "2" });
        HttpResponseMessage? throttled = null;
        for (var i = 0; i < 20 && throttled is null; i++)
        {
            var response = await server.Client.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Get, "/api/hub/.well-known/fhircast-configuration"));
            if (response.StatusCode == HttpStatusCode.TooManyRequests) throttled = response;
            else response.Dispose();
        }

        Assert.NotNull(throttled);
        await HubClient.AssertOperationOutcome(throttled, HttpStatusCode.TooManyRequests, "throttled");
        BrowserRequests.AssertOpenToAnyOrigin(throttled);
        Assert.NotNull(throttled.Headers.RetryAfter);
        throttled.Dispose();
    }

    [Fact]
    public async Task Rulings_35_a_503_for_a_topic_whose_every_append_loses_its_race_carries_the_cors_headers()
    {
        await using var server = await TestHub.StartAsync();
        var topic = NewTopic();
        await server.Client.SubscribeAsync(topic, "Patient-open");
        // Every later append to this stream fails as if another hub process had taken the version first.
        await using (var db = new NpgsqlConnection(server.ConnectionString))
        {
            await db.OpenAsync();
            await using var command = new NpgsqlCommand($"""
                CREATE FUNCTION fhircast.always_lose() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  RAISE unique_violation USING MESSAGE = 'duplicate key value violates unique constraint "pk_mt_events_stream_and_version"',
                    CONSTRAINT = 'pk_mt_events_stream_and_version', TABLE = 'mt_events', SCHEMA = 'fhircast';
                END $$;
                CREATE TRIGGER always_lose BEFORE INSERT ON fhircast.mt_events FOR EACH ROW WHEN (NEW.stream_id = '{topic}') EXECUTE FUNCTION fhircast.always_lose();
                """, db);
            await command.ExecuteNonQueryAsync();
        }

        using var response = await server.Client.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Post, "/api/hub",
            new StringContent(PatientOpen(topic, "p1"), Encoding.UTF8, "application/json")));

        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.ServiceUnavailable, "transient");
        Assert.Equal($"Topic '{topic}' is busy; retry shortly.", (string?)outcome["issue"]![0]!["diagnostics"]);
        Assert.Equal(TimeSpan.FromSeconds(EventSourcedHub.Http.ErrorResponses.RetryAfterSeconds), response.Headers.RetryAfter?.Delta);
        BrowserRequests.AssertOpenToAnyOrigin(response);
    }
}

/// <summary>With `Hub:Auth:Mode=Jwt`: preflights need no token; 401 and 403 carry the CORS headers.</summary>
public sealed class CorsWithTokensTests : IAsyncLifetime
{
    private readonly TokenIssuer _issuer = new();
    private TestHub _server = null!;

    public async Task InitializeAsync() => _server = await TestHub.StartAsync(_issuer.HubSettings());

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _issuer.Dispose();
    }

    [Fact]
    public async Task Rulings_35_with_jwt_a_preflight_on_every_mapped_route_needs_no_token()
    {
        foreach (var (path, method) in BrowserRequests.MappedRoutes(_server.Services))
        {
            using var response = await _server.Client.Http.SendAsync(BrowserRequests.Preflight(path, method));
            BrowserRequests.AssertPreflightAllowed(response);
        }
    }

    [Fact]
    public async Task Rulings_35_with_jwt_401_and_403_carry_the_cors_headers()
    {
        var topic = NewTopic();
        using var unauthenticated = await _server.Client.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Post, "/api/hub",
            new StringContent(PatientOpen(topic, "p1"), Encoding.UTF8, "application/json")));
        await HubClient.AssertOperationOutcome(unauthenticated, HttpStatusCode.Unauthorized, "login");
        BrowserRequests.AssertOpenToAnyOrigin(unauthenticated);
        Assert.Equal("Bearer", BrowserRequests.Header(unauthenticated, "WWW-Authenticate"));

        using var unauthenticatedForm = await _server.Client.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Post, "/api/hub",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["hub.mode"] = "subscribe" })));
        await HubClient.AssertPlainTextError(unauthenticatedForm, HttpStatusCode.Unauthorized);
        BrowserRequests.AssertOpenToAnyOrigin(unauthenticatedForm);

        var forbidden = BrowserRequests.FromPage(HttpMethod.Get, "/fhir/AuditEvent");
        forbidden.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _issuer.Token("fhircast/*.read"));
        using var forbiddenResponse = await _server.Client.Http.SendAsync(forbidden);
        await HubClient.AssertOperationOutcome(forbiddenResponse, HttpStatusCode.Forbidden, "forbidden");
        BrowserRequests.AssertOpenToAnyOrigin(forbiddenResponse);
    }
}

/// <summary>`Hub:Cors:AllowedOrigins` and `Hub:Cors:WebSocketOrigins` restrict which pages may call the hub.</summary>
public sealed class RestrictedOriginTests() : OwnHubTests(new Dictionary<string, string?>
{
    ["Hub:Cors:AllowedOrigins:0"] = BrowserRequests.ViewerOrigin,
    ["Hub:Cors:WebSocketOrigins"] = $"{BrowserRequests.ViewerOrigin}, https://viewer.example.org",
})
{
    [Fact]
    public async Task Rulings_35_a_listed_origin_is_allowed_by_name_and_any_other_gets_no_cors_headers()
    {
        using var allowed = await Hub.Http.SendAsync(BrowserRequests.Preflight("/api/hub", "POST"));
        BrowserRequests.AssertPreflightAllowed(allowed, BrowserRequests.ViewerOrigin);

        using var listed = await Hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Get, "/api/hub/.well-known/fhircast-configuration"));
        Assert.Equal(BrowserRequests.ViewerOrigin, BrowserRequests.Header(listed, "Access-Control-Allow-Origin"));

        using var other = await Hub.Http.SendAsync(BrowserRequests.Preflight("/api/hub", "POST", origin: "http://elsewhere.test"));
        Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
        Assert.Null(BrowserRequests.Header(other, "Access-Control-Allow-Origin"));

        using var get = await Hub.Http.SendAsync(BrowserRequests.FromPage(HttpMethod.Get, "/api/hub/.well-known/fhircast-configuration", origin: "http://elsewhere.test"));
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Null(BrowserRequests.Header(get, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Rulings_35_a_websocket_from_a_listed_origin_or_without_origin_connects()
    {
        var topic = NewTopic();
        var endpoint = await Hub.SubscribeAsync(topic, "Patient-open");
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", BrowserRequests.ViewerOrigin);
        await socket.ConnectAsync(new Uri(endpoint), CancellationToken.None);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);

        await using var native = await Hub.SubscribeAndConnectAsync(topic, "Patient-open", "No origin");
    }

    [Fact]
    public async Task Rulings_35_a_websocket_from_an_unlisted_origin_is_403_and_the_subscription_stays_unconnected()
    {
        var topic = NewTopic();
        var endpoint = await Hub.SubscribeAsync(topic, "Patient-open");
        using var upgrade = new HttpRequestMessage(HttpMethod.Get, new Uri(endpoint.Replace("ws://", "http://")));
        upgrade.Headers.Add("Origin", "http://elsewhere.test");
        upgrade.Headers.Connection.Add("Upgrade");
        upgrade.Headers.Upgrade.Add(new ProductHeaderValue("websocket"));
        upgrade.Headers.Add("Sec-WebSocket-Version", "13");
        upgrade.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));

        using var response = await Hub.Http.SendAsync(upgrade);

        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal("WebSockets from the origin 'http://elsewhere.test' are not allowed (Hub:Cors:WebSocketOrigins).", (string?)outcome["issue"]![0]!["diagnostics"]);
        // The endpoint is still waiting for a socket: one from an allowed page connects.
        using var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", "https://viewer.example.org");
        await socket.ConnectAsync(new Uri(endpoint), CancellationToken.None);
        Assert.Equal(System.Net.WebSockets.WebSocketState.Open, socket.State);
    }
}
