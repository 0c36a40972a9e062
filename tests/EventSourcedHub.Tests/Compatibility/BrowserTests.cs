using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace EventSourcedHub.Tests.Compatibility;

/// <summary>
/// Debian's Chromium, headless, driven by Playwright: never a downloaded browser. A machine without it fails here
/// with the command that installs it (.ci/run installs it).
/// </summary>
public sealed class HeadlessChromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"No Chromium at {ExecutablePath}: install it with `apt-get install -y chromium` (.ci/run does).");
        _playwright = await Playwright.CreateAsync();
        try
        {
            Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                Timeout = 60_000,
            });
        }
        catch (PlaywrightException e)
        {
            throw new InvalidOperationException($"Chromium at {ExecutablePath} could not be started by Playwright: {e.Message}", e);
        }
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>A page served from a second loopback origin, as a browser viewer (OHIF) is.</summary>
internal sealed class PageServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private PageServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<PageServer> StartAsync(string html)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapGet("/", () => Results.Content(html, "text/html; charset=utf-8"));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new PageServer(app, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// A browser app on another origin subscribes with fetch, connects the WebSocket, publishes and reads the context,
/// the way OHIF's FHIRcast extension does (an `Authorization` header, so every request is preflighted; its endpoint
/// sent back on the socket; no ack), and the interactive reference loads from the hub alone.
/// </summary>
public sealed class BrowserTests(HeadlessChromium chromium) : IClassFixture<HeadlessChromium>, IAsyncLifetime
{
    private TestHub _hub = null!;

    public async Task InitializeAsync() => _hub = await TestHub.StartAsync(new Dictionary<string, string?>
    {
        // The page never acks, as OHIF's extension; a 1 s time-out would end it if the exemption did not hold.
        ["Hub:AckTimeoutSeconds"] = "1",
        ["Hub:AcklessSubscribers"] = "OHIF-*",
    });

    public async Task DisposeAsync() => await _hub.DisposeAsync();

    private const string ViewerPage = """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>viewer</title></head><body><script>
        const hub = new URLSearchParams(location.search).get('hub');
        const topic = 'browser-' + crypto.randomUUID();
        const auth = { Authorization: 'Bearer none' };
        const received = [];
        const result = {};
        async function run() {
          const discovery = await fetch(hub + '/api/hub/.well-known/fhircast-configuration', { headers: auth });
          result.discovery = (await discovery.json()).fhircastVersion;

          const form = new URLSearchParams({ 'hub.mode': 'subscribe', 'hub.channel.type': 'websocket', 'hub.callback': location.origin + '/fhircastCallback',
            'hub.events': 'Patient-open', 'hub.topic': topic, 'hub.lease': '999', 'subscriber.name': 'OHIF-' + topic + '-' + Math.random().toString(36).slice(2) });
          const subscribed = await fetch(hub + '/api/hub', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
          result.subscribeStatus = subscribed.status;
          const endpoint = (await subscribed.json())['hub.channel.endpoint'];
          result.endpoint = endpoint;

          const socket = new WebSocket(endpoint);
          const confirmed = new Promise((resolve, reject) => {
            socket.onerror = () => reject(new Error('websocket error'));
            socket.onmessage = m => { const frame = JSON.parse(m.data); received.push(frame); if (frame['hub.mode']) resolve(frame); };
          });
          await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = () => reject(new Error('websocket failed to open')); });
          socket.send(JSON.stringify({ 'hub.channel.endpoint': endpoint }));
          result.confirmation = await confirmed;

          const notified = new Promise(resolve => { socket.onmessage = m => { const frame = JSON.parse(m.data); received.push(frame); if (frame.event) resolve(frame); }; });
          const published = await fetch(hub + '/api/hub/' + encodeURIComponent(topic), { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
            body: JSON.stringify({ timestamp: new Date().toJSON(), id: 'browser-open-1',
              event: { 'hub.topic': topic, 'hub.event': 'Patient-open', context: [{ key: 'patient', resource: { resourceType: 'Patient', id: 'pat-browser' } }] } }) });
          result.publishStatus = published.status;
          result.notification = await notified;

          // Past the 1 s ack time-out: an ackless viewer is still subscribed.
          await new Promise(resolve => setTimeout(resolve, 2500));
          result.socketOpenAfterTimeout = socket.readyState === WebSocket.OPEN;

          const context = await fetch(hub + '/api/hub/' + encodeURIComponent(topic), { headers: auth });
          result.context = await context.json();
          const unknown = await fetch(hub + '/api/hub/never-subscribed', { headers: auth });
          result.unknownTopic = { status: unknown.status, body: await unknown.json() };
          const tooLarge = await fetch(hub + '/api/hub', { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: ' '.repeat(1024 * 1024 + 1) });
          result.tooLarge = { status: tooLarge.status, body: await tooLarge.json() };
          socket.close(1000);
        }
        run().then(() => { window.__result = JSON.stringify(result); }, e => { window.__result = JSON.stringify({ error: String(e), ...result }); });
        </script></body></html>
        """;

    [Fact]
    public async Task Rulings_35_a_page_on_another_origin_subscribes_connects_publishes_and_reads_errors_through_cors()
    {
        await using var pages = await PageServer.StartAsync(ViewerPage);
        var hubOrigin = _hub.BaseAddress.GetLeftPart(UriPartial.Authority);
        Assert.NotEqual(hubOrigin, pages.Address.GetLeftPart(UriPartial.Authority));
        await using var context = await chromium.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var console = new List<string>();
        page.Console += (_, message) => console.Add(message.Text);

        await page.GotoAsync($"{pages.Address}?hub={Uri.EscapeDataString(hubOrigin)}");
        await page.WaitForFunctionAsync("() => window.__result !== undefined", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        var result = JsonNode.Parse(await page.EvaluateAsync<string>("() => window.__result"))!;

        // Every call carries `Authorization`, so the browser sent it only after a preflight the hub allowed; a refused
        // preflight or a missing Access-Control-Allow-Origin makes fetch throw, and `error` says where.
        Assert.True(result["error"] is null, $"{result["error"]}; console: {string.Join(" | ", console)}; {result.ToJsonString()}");
        Assert.Equal("3.0.0", (string?)result["discovery"]);
        Assert.Equal(202, (int?)result["subscribeStatus"]);
        Assert.StartsWith(hubOrigin.Replace("http://", "ws://") + "/api/hub/ws/", (string?)result["endpoint"]);
        Assert.Equal(999, (int?)result["confirmation"]!["hub.lease_seconds"]);
        Assert.Equal(202, (int?)result["publishStatus"]);
        Assert.Equal("browser-open-1", (string?)result["notification"]!["id"]);
        Assert.NotNull((string?)result["notification"]!["event"]!["context.versionId"]);
        Assert.True((bool?)result["socketOpenAfterTimeout"]);
        Assert.Equal("Patient", (string?)result["context"]!["context.type"]);
        // Errors are readable by the page: the CORS headers are on them too.
        Assert.Equal(404, (int?)result["unknownTopic"]!["status"]);
        Assert.Equal("Unknown topic 'never-subscribed'.", (string?)result["unknownTopic"]!["body"]!["issue"]![0]!["diagnostics"]);
        Assert.Equal(413, (int?)result["tooLarge"]!["status"]);
        Assert.Equal("too-long", (string?)result["tooLarge"]!["body"]!["issue"]![0]!["code"]);
    }

    [Fact]
    public async Task Rulings_37_the_interactive_reference_renders_from_the_hub_alone()
    {
        await using var context = await chromium.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        var hubOrigin = _hub.BaseAddress.GetLeftPart(UriPartial.Authority);
        var elsewhere = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(hubOrigin + "/", StringComparison.Ordinal) && !request.Url.StartsWith("data:", StringComparison.Ordinal)
                && !request.Url.StartsWith("blob:", StringComparison.Ordinal))
                elsewhere.Add(request.Url);
        };
        var documentLoaded = page.WaitForResponseAsync(r => r.Url == hubOrigin + "/openapi/v1.json" && r.Status == 200, new PageWaitForResponseOptions { Timeout = 30_000 });

        await page.GotoAsync($"{hubOrigin}/docs/api");
        await documentLoaded;
        await page.GetByText("Get current context").First.WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });

        Assert.Empty(elsewhere);
    }
}
