using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EventSourcedHub.Tests.Compatibility;
using EventSourcedHub.Tests.Infrastructure;
using Microsoft.Playwright;
using static EventSourcedHub.Tests.WebConsole.ConsoleBrowser;
using static Microsoft.Playwright.Assertions;

namespace EventSourcedHub.Tests.WebConsole;

/// <summary>One hub with one recorded session, shared by the console's browser tests.</summary>
public sealed class RecordedHub : IAsyncLifetime
{
    public TestHub Hub { get; private set; } = null!;
    public RecordedSession Session { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Hub = await TestHub.StartAsync();
        Session = await RecordedSession.RecordAsync(Hub.Client);
    }

    public async Task DisposeAsync() => await Hub.DisposeAsync();
}

/// <summary>
/// The web console (issue 15, rulings.md 37) in a real headless Chromium against a real hub: a session recorded through
/// the API is listed, drawn, looked at as of each version, found by an audit search and exported, and replayed.
/// </summary>
public sealed class ConsoleTests(HeadlessChromium chromium, RecordedHub recorded) : IClassFixture<HeadlessChromium>, IClassFixture<RecordedHub>
{
    private TestHub Hub => recorded.Hub;
    private RecordedSession Session => recorded.Session;

    [Fact]
    public async Task Issue_15_the_sessions_page_lists_the_recorded_session_and_a_new_one_as_it_is_recorded()
    {
        var (context, page, problems) = await OpenAsync(chromium, Hub.BaseAddress);
        await using var _ = context;

        var row = page.Locator($"tr[data-topic='{Session.Topic}']");
        await Expect(row).ToBeVisibleAsync(Visible);
        var cells = await row.Locator("td").AllInnerTextsAsync();
        Assert.Equal(Session.Topic, cells[0]);
        Assert.Equal("8", cells[3]);
        Assert.Equal("none (1 closed)", cells[4]);
        Assert.Equal("1", cells[5]);
        Assert.Equal("0", cells[6]);

        // Live: the page hears of a commit on the hub's push channel and lists the new topic without being reloaded.
        await Expect(page.Locator("#live")).ToHaveTextAsync("live", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        var topic = FhircastEvents.NewTopic();
        await using var subscriber = await Hub.Client.SubscribeAndConnectAsync(topic, "Patient-open", "Live viewer");
        await Hub.Client.PublishAsync(FhircastEvents.PatientOpen(topic, "pat-live"));
        var live = page.Locator($"tr[data-topic='{topic}']");
        await Expect(live).ToBeVisibleAsync(Visible);
        await Expect(live.Locator("td").Nth(3)).ToHaveTextAsync("3", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        await ScreenshotAsync(page, "sessions");

        // The filter by patient keeps the sessions that named the patient.
        await page.GetByLabel("Patient").FillAsync(Session.Patient);
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Expect(row).ToBeVisibleAsync(Visible);
        await Expect(page.Locator("table.sessions tbody tr")).ToHaveCountAsync(1);
        // And by app: the live viewer took part only in the new session.
        await page.GotoAsync($"{Hub.BaseAddress.GetLeftPart(UriPartial.Authority)}/#/sessions?app={Uri.EscapeDataString("Live viewer")}");
        await Expect(live).ToBeVisibleAsync(Visible);
        await Expect(page.Locator("table.sessions tbody tr")).ToHaveCountAsync(1);
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Issue_15_the_timeline_shows_the_events_in_order_and_the_slider_shows_the_context_as_of_each_version()
    {
        var (context, page, problems) = await OpenAsync(chromium, Hub.BaseAddress);
        await using var _ = context;
        await page.Locator($"tr[data-topic='{Session.Topic}'] a").ClickAsync();

        var marks = page.Locator("svg.timeline g.mark[data-event]");
        await Expect(marks).ToHaveCountAsync(RecordedSession.Marks.Length, new LocatorAssertionsToHaveCountOptions { Timeout = 20_000 });
        Assert.Equal(RecordedSession.Marks, await marks.EvaluateAllAsync<string[]>("marks => marks.map(m => m.dataset.event)"));
        Assert.Equal(Enumerable.Range(1, RecordedSession.Marks.Length).Select(v => v.ToString()).ToArray(),
            await marks.EvaluateAllAsync<string[]>("marks => marks.map(m => m.dataset.version)"));
        // Left to right in stream order.
        var lefts = await marks.EvaluateAllAsync<double[]>("marks => marks.map(m => m.getBoundingClientRect().left)");
        Assert.Equal(lefts.Order(), lefts);
        // Five notifications, each delivered to the viewer and acked with 200.
        await Expect(page.Locator("svg.timeline g.mark.delivery")).ToHaveCountAsync(5);
        await Expect(page.Locator("svg.timeline g.mark.ack.ok")).ToHaveCountAsync(5);
        await Expect(page.Locator("svg.timeline .lane-name")).ToHaveTextAsync(["Console test viewer", "127.0.0.1"]);
        // The timeline's reads (the recording's own polls among them) are listed apart from the stream events.
        await page.GetByText("Reads and refused requests about this session").ClickAsync();
        Assert.Contains("read", await page.Locator("#others tbody tr td:nth-child(2)").AllInnerTextsAsync());
        await Expect(page.Locator(".verify.valid")).ToContainTextAsync("Hash chain verified: 8 events, head ", new LocatorAssertionsToContainTextOptions { Timeout = 20_000 });

        // The slider, moved by picking the first update: the patient, the report and the two shared resources.
        await page.Locator("g.mark[data-event='DiagnosticReport-update'][data-version='4']").ClickAsync();
        await Expect(page.Locator("#as-of")).ToHaveValueAsync("4");
        await Expect(page.Locator("#context-type")).ToHaveTextAsync("DiagnosticReport");
        await Expect(page.Locator("#context-patient")).ToHaveTextAsync($"Patient/{Session.Patient}");
        await Expect(page.Locator("#context-content li")).ToHaveTextAsync(["Observation/obs-1 — preliminary", "ImagingSelection/isel-1 — available"]);
        await Expect(page.Locator("#notification-json")).ToContainTextAsync($"\"id\": \"{Session.UpdateId}\"");
        await Expect(page.Locator("#audit-json")).ToContainTextAsync("\"resourceType\": \"AuditEvent\"");
        await ScreenshotAsync(page, "session");

        // After the DELETE only the selection is left; after the close nothing is open.
        await SlideToAsync(page, 6);
        await Expect(page.Locator("#context-content li")).ToHaveTextAsync(["ImagingSelection/isel-1 — available"]);
        await Expect(page.Locator("#context-patient")).ToHaveTextAsync($"Patient/{Session.Patient}");
        await SlideToAsync(page, 7);
        await Expect(page.Locator("#context-as-of")).ToHaveTextAsync("Nothing open at version 7.");
        await SlideToAsync(page, 3);
        await Expect(page.Locator("#context-content")).ToHaveTextAsync("no shared content");

        // A delivery mark shows its receipt.
        await page.Locator("g.mark.ack[data-version='5']").ClickAsync();
        await Expect(page.Locator("#delivery-json")).ToContainTextAsync("\"subscriber\": \"Console test viewer\"");
        await Expect(page.Locator("#delivery-json")).ToContainTextAsync("\"status\": 200");
        Assert.Empty(problems);
    }

    private static async Task SlideToAsync(IPage page, int version) =>
        await page.Locator("#as-of").EvaluateAsync("(slider, version) => { slider.value = version; slider.dispatchEvent(new Event('input')); }", version);

    [Fact]
    public async Task Issue_15_audit_search_by_patient_finds_the_session_pages_through_it_and_exports_it_as_a_bundle()
    {
        var expected = JsonNode.Parse(await Hub.Client.Http.GetStringAsync($"/fhir/AuditEvent?patient={Session.Patient}&_count=1000"))!["entry"]!.AsArray()
            .Select(e => (string)e!["resource"]!["id"]!).ToList();
        Assert.True(expected.Count >= 4, $"{expected.Count} AuditEvents name the patient");
        var (context, page, problems) = await OpenAsync(chromium, Hub.BaseAddress, "#/audit");
        await using var _ = context;

        await page.GetByLabel("Patient").FillAsync(Session.Patient);
        await page.GetByLabel("Per page").SelectOptionAsync("10");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        var rows = page.Locator("table.audit tbody tr");
        await Expect(rows).ToHaveCountAsync(expected.Count, new LocatorAssertionsToHaveCountOptions { Timeout = 20_000 });
        Assert.All(await rows.Locator("td:nth-child(5)").AllInnerTextsAsync(), topic => Assert.Equal(Session.Topic, topic));
        Assert.Equal(expected, await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.id)"));
        await ScreenshotAsync(page, "audit");

        // Two per page: the same AuditEvents, page by page, and back.
        await page.GotoAsync($"{Hub.BaseAddress.GetLeftPart(UriPartial.Authority)}/#/audit?patient={Session.Patient}&count=2");
        var seen = new List<string>();
        var status = page.Locator("#audit-status");
        await Expect(status).ToHaveTextAsync("Page 1: 2 AuditEvents, newest first.");
        await Expect(rows).ToHaveCountAsync(2);
        var firstPage = await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.id)");
        seen.AddRange(firstPage);
        var next = page.GetByRole(AriaRole.Button, new() { Name = "Next →" });
        var pageNumber = 1;
        while (await next.IsEnabledAsync())
        {
            await next.ClickAsync();
            // The status says "Searching…" while the page is read, then which page is shown.
            await Expect(status).ToHaveTextAsync(new Regex($"^Page {++pageNumber}: "));
            seen.AddRange(await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.id)"));
        }
        Assert.Equal(expected, seen);
        Assert.Equal((expected.Count + 1) / 2, pageNumber);
        var previous = page.GetByRole(AriaRole.Button, new() { Name = "← Previous" });
        while (pageNumber > 1)
        {
            await previous.ClickAsync();
            await Expect(status).ToHaveTextAsync(new Regex($"^Page {--pageNumber}: "));
        }
        await Expect(status).ToHaveTextAsync("Page 1: 2 AuditEvents, newest first.");
        await Expect(previous).ToBeDisabledAsync();
        Assert.Equal(firstPage, await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.id)"));

        // The export holds every result, not only the page shown.
        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Download all results as a FHIR Bundle" }).ClickAsync());
        var bundle = JsonNode.Parse(await File.ReadAllTextAsync(await download.PathAsync()))!;
        Assert.Equal("Bundle", (string?)bundle["resourceType"]);
        Assert.Equal("searchset", (string?)bundle["type"]);
        Assert.Equal(expected.Count, (int?)bundle["total"]);
        Assert.Equal(expected, bundle["entry"]!.AsArray().Select(e => (string)e!["resource"]!["id"]!));
        Assert.All(bundle["entry"]!.AsArray(), e => Assert.Equal("AuditEvent", (string?)e!["resource"]!["resourceType"]));
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Issue_15_a_replay_started_from_the_console_reaches_done_and_its_topic_holds_the_notifications()
    {
        var (context, page, problems) = await OpenAsync(chromium, Hub.BaseAddress);
        await using var _ = context;
        await page.Locator($"tr[data-topic='{Session.Topic}'] a").ClickAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Replay this session" }).ClickAsync();

        var target = await page.GetByLabel("Into new topic").InputValueAsync();
        Assert.StartsWith($"{Session.Topic}-replay-", target);
        await page.GetByLabel("Speed").SelectOptionAsync("10");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start replay" }).ClickAsync();

        var run = page.Locator("article.run");
        await Expect(run.Locator(".run-status")).ToHaveTextAsync("done", new LocatorAssertionsToHaveTextOptions { Timeout = 30_000 });
        await Expect(run).ToContainTextAsync("5 published, 0 rejected of 5 notifications");
        await ScreenshotAsync(page, "replay");

        var replayed = JsonNode.Parse(await Hub.Client.Http.GetStringAsync($"/api/sessions/{Uri.EscapeDataString(target)}/events"))!.AsArray();
        Assert.Equal(RecordedSession.Marks.Where(m => m.StartsWith("DiagnosticReport-", StringComparison.Ordinal)),
            replayed.Select(n => (string)n!["notification"]!["event"]!["hub.event"]!));

        // The replayed topic opens in the session view like any other.
        await run.GetByRole(AriaRole.Link, new() { Name = target }).ClickAsync();
        await Expect(page.Locator("svg.timeline g.mark[data-event='replay-started']")).ToHaveCountAsync(1, new LocatorAssertionsToHaveCountOptions { Timeout = 20_000 });
        Assert.Empty(problems);
    }
}
