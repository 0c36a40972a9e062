using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Tests.Security;

namespace EventSourcedHub.Tests.WebConsole;

/// <summary>An open `GET /api/console/events` stream, read frame by frame.</summary>
internal sealed class FeedReader : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;

    private FeedReader(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public static async Task<FeedReader> OpenAsync(HttpClient http)
    {
        var response = await http.GetAsync("/api/console/events", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var feed = new FeedReader(response, reader);
        Assert.Equal(": connected", await feed.FrameAsync());
        return feed;
    }

    /// <summary>The next frame (its lines joined by newlines), or null when the stream ended.</summary>
    public async Task<string?> FrameAsync(TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? TimeSpan.FromSeconds(10));
        var lines = new List<string>();
        while (await _reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Length == 0) return string.Join("\n", lines);
            lines.Add(line);
        }
        return null;
    }

    /// <summary>The data of the next `commit` about <paramref name="topic"/>, skipping other topics' commits.</summary>
    public async Task<JsonObject> CommitOfAsync(string topic)
    {
        while (await FrameAsync() is { } frame)
        {
            var lines = frame.Split('\n');
            if (lines[0] != "event: commit") continue;
            var data = JsonNode.Parse(lines[1]["data: ".Length..])!.AsObject();
            if ((string?)data["topic"] == topic) return data;
        }
        throw new Xunit.Sdk.XunitException("The feed ended.");
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _response.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The console's files and its live feed over plain HTTP (issue 15).</summary>
public sealed class ConsoleFeedTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    [Fact]
    public async Task Issue_15_the_console_feed_sends_each_commit_with_its_topic_stream_version_and_event_names()
    {
        await using var feed = await FeedReader.OpenAsync(_hub.Http);
        var topic = FhircastEvents.NewTopic();

        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "Patient-open");
        await _hub.PublishAsync(FhircastEvents.PatientOpen(topic, "pat-feed"));

        Assert.Equal("""{"topic":"TOPIC","version":1,"events":["subscribed"],"remote":false}""".Replace("TOPIC", topic), (await feed.CommitOfAsync(topic)).ToJsonString());
        Assert.Equal("""{"topic":"TOPIC","version":2,"events":["subscription_confirmed"],"remote":false}""".Replace("TOPIC", topic), (await feed.CommitOfAsync(topic)).ToJsonString());
        Assert.Equal("""{"topic":"TOPIC","version":3,"events":["context_opened"],"remote":false}""".Replace("TOPIC", topic), (await feed.CommitOfAsync(topic)).ToJsonString());
    }

    [Fact]
    public async Task Rulings_37_the_console_is_served_at_the_root_by_the_hub_with_every_module_it_imports()
    {
        using var root = await _hub.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, root.StatusCode);
        Assert.Equal("text/html", root.Content.Headers.ContentType?.MediaType);
        var html = await root.Content.ReadAsStringAsync();
        Assert.Contains("""<script type="module" src="app.js"></script>""", html);
        Assert.Contains("""<link rel="stylesheet" href="console.css">""", html);
        using var css = await _hub.Http.GetAsync("/console.css");
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);

        // Every module, followed from app.js through its imports, is served by the hub as JavaScript.
        var pending = new Queue<string>(["app.js"]);
        var served = new HashSet<string>();
        while (pending.TryDequeue(out var module))
        {
            if (!served.Add(module)) continue;
            using var response = await _hub.Http.GetAsync($"/{module}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{module}: {(int)response.StatusCode}");
            Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
            foreach (Match import in Regex.Matches(await response.Content.ReadAsStringAsync(), @"from '\./([a-z-]+\.js)'")) pending.Enqueue(import.Groups[1].Value);
        }
        Assert.Equal(["api.js", "app.js", "audit.js", "dom.js", "live.js", "replay.js", "session.js", "sessions.js", "timeline.js"], served.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Issue_15_the_hub_stops_promptly_while_a_console_page_follows_the_feed()
    {
        var hub = await TestHub.StartAsync();
        using var http = new HttpClient { BaseAddress = hub.BaseAddress };
        await using var feed = await FeedReader.OpenAsync(http);

        var stopping = Stopwatch.StartNew();
        await hub.DisposeAsync();

        // Without ending the stream the host would wait its whole shutdown time-out (30 s) for the open request.
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(10), $"the hub took {stopping.Elapsed} to stop");
        Assert.Null(await feed.FrameAsync());
    }
}

/// <summary>The feed names every topic: with tokens it needs the audit read scope on a token bound to no topic.</summary>
public sealed class ConsoleFeedWithTokensTests : IAsyncLifetime
{
    private readonly TokenIssuer _issuer = new();
    private TestHub _server = null!;

    public async Task InitializeAsync() => _server = await TestHub.StartAsync(_issuer.HubSettings());

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _issuer.Dispose();
    }

    private Task<HttpResponseMessage> FeedAsync(string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/console/events");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return _server.Client.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    [Fact]
    public async Task Issue_15_the_console_page_itself_needs_no_token()
    {
        using var root = await _server.Client.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, root.StatusCode);
        using var module = await _server.Client.Http.GetAsync("/app.js");
        Assert.Equal(HttpStatusCode.OK, module.StatusCode);
    }

    [Fact]
    public async Task Issue_15_the_console_feed_without_a_token_is_401()
    {
        using var response = await FeedAsync(null);
        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.Unauthorized, "login");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("A valid bearer token is required (Authorization: Bearer <token>); it is missing, expired, not yet valid, or not from this hub's issuer and audience.",
            (string?)outcome["issue"]![0]!["diagnostics"]);
    }

    [Fact]
    public async Task Issue_15_the_console_feed_with_a_token_without_the_audit_scope_is_403()
    {
        using var response = await FeedAsync(_issuer.Token("fhircast/*.*"));
        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal("The token has no `user/AuditEvent.read` or `system/AuditEvent.read` scope.", (string?)outcome["issue"]![0]!["diagnostics"]);
    }

    [Fact]
    public async Task Issue_15_the_console_feed_with_a_token_bound_to_a_topic_is_403()
    {
        using var response = await FeedAsync(_issuer.Token("user/AuditEvent.read", topic: "one-session"));
        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal("A token bound to one topic (`hub.topic` claim) can read only that session, under /api/sessions/{topic}/.", (string?)outcome["issue"]![0]!["diagnostics"]);
    }

    [Fact]
    public async Task Issue_15_the_console_feed_with_an_audit_token_streams()
    {
        _server.Client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _issuer.Token("user/AuditEvent.read fhircast/*.*"));
        await using var feed = await FeedReader.OpenAsync(_server.Client.Http);
        var topic = FhircastEvents.NewTopic();
        await _server.Client.SubscribeAsync(topic, "Patient-open");
        Assert.Equal(1, (int?)(await feed.CommitOfAsync(topic))["version"]);
    }
}
