using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Compatibility;
using EventSourcedHub.Tests.Infrastructure;
using Microsoft.Playwright;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.WebConsole;

/// <summary>
/// A reporting session recorded through the hub's API the way apps make one: a viewer subscribes and connects, a report
/// is opened, updated with two PUTs, a select, updated with a DELETE, closed, the viewer acks every notification, then
/// unsubscribes. Eight stream events.
/// </summary>
public sealed record RecordedSession(string Topic, string Patient)
{
    public const string Viewer = "Console test viewer";
    public const string ReportId = "rpt-console";

    /// <summary>What the timeline shows per stream version, in order.</summary>
    public static readonly string[] Marks =
    [
        "subscribe", "confirm", "DiagnosticReport-open", "DiagnosticReport-update", "DiagnosticReport-select", "DiagnosticReport-update",
        "DiagnosticReport-close", "unsubscribe",
    ];

    public string UpdateId => $"{Topic}-update-1";

    public static async Task<RecordedSession> RecordAsync(HubClient hub)
    {
        var session = new RecordedSession(NewTopic(), $"pat-{Guid.NewGuid():N}"[..16]);
        var topic = session.Topic;
        string WithPatient(string json) => json.Replace("Patient/pat-1", $"Patient/{session.Patient}");
        var endpoint = await hub.SubscribeAsync(topic, "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select,DiagnosticReport-close", Viewer);
        await using (var viewer = await TestSubscriber.ConnectAsync(endpoint))
        {
            await viewer.ReceiveAsync();
            await hub.PublishAsync(ReportOpen(topic, ReportId, session.Patient, id: $"{topic}-open"));
            await viewer.ReceiveAndAckAsync();
            var v1 = (string)(await hub.GetContextAsync(topic))["context.versionId"]!;
            await hub.PublishAsync(WithPatient(ReportUpdate(topic, ReportId, v1,
                [Put(ObservationResource("obs-1"), "Observation/obs-1"), Put(ImagingSelectionResource("isel-1"), "ImagingSelection/isel-1")], id: session.UpdateId)));
            await viewer.ReceiveAndAckAsync();
            await hub.PublishAsync(WithPatient(WithId(ReportSelect(topic, ReportId, "Observation/obs-1"), $"{topic}-select")));
            await viewer.ReceiveAndAckAsync();
            var v2 = (string)(await hub.GetContextAsync(topic))["context.versionId"]!;
            await hub.PublishAsync(WithPatient(ReportUpdate(topic, ReportId, v2, [Delete("Observation/obs-1")], id: $"{topic}-update-2")));
            await viewer.ReceiveAndAckAsync();
            await hub.PublishAsync(ReportClose(topic, ReportId, id: $"{topic}-close"));
            await viewer.ReceiveAndAckAsync();
            using var unsubscribe = await hub.UnsubscribeAsync(topic, endpoint);
            Assert.Equal(HttpStatusCode.Accepted, unsubscribe.StatusCode);
            await viewer.ReceiveUntilClosedAsync();
        }
        await session.SettledAsync(hub);
        return session;
    }

    /// <summary>
    /// Waits until the hub's written-after-commit records show the whole session (the summary, the acks' receipts), so
    /// that the pages are checked against a finished record rather than racing its writers.
    /// </summary>
    private async Task SettledAsync(HubClient hub)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var summaries = JsonNode.Parse(await hub.Http.GetStringAsync("/api/sessions"))!.AsArray();
            // Stream events only: the timeline also lists the reads and refusals about the topic (these polls among them).
            var timeline = JsonNode.Parse(await hub.Http.GetStringAsync($"/api/sessions/{Topic}/timeline"))!["events"]!.AsArray()
                .Where(e => e!["version"] is not null).ToList();
            var summarised = summaries.Any(s => (string?)s!["id"] == Topic && (long?)s["events"] == Marks.Length);
            var acked = timeline.Where(e => e!["deliveries"] is not null).All(e => e!["deliveries"]!.AsArray().Count == 1 && (int?)e["deliveries"]![0]!["status"] == 200);
            if (summarised && acked && timeline.Count == Marks.Length) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"The session was not settled: {summaries.ToJsonString()} {new JsonArray([.. timeline.Select(e => e!.DeepClone())]).ToJsonString()}");
            await Task.Delay(200);
        }
    }
}

/// <summary>Opening console pages in Chromium, checking nothing is fetched from elsewhere, and keeping screenshots.</summary>
public static class ConsoleBrowser
{
    public static readonly string ScreenshotFolder = Path.Combine(Repository.Root(), "TestResults", "console");

    /// <summary>A page on the hub's console that records script errors and requests to other origins.</summary>
    public static async Task<(IBrowserContext Context, IPage Page, List<string> Problems)> OpenAsync(HeadlessChromium chromium, Uri hub, string hash = "")
    {
        var context = await chromium.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
            AcceptDownloads = true,
        });
        var page = await context.NewPageAsync();
        var origin = hub.GetLeftPart(UriPartial.Authority);
        var problems = new List<string>();
        page.PageError += (_, error) => problems.Add($"script error: {error}");
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(origin + "/", StringComparison.Ordinal) && !request.Url.StartsWith("blob:", StringComparison.Ordinal))
                problems.Add($"request to another origin: {request.Url}");
        };
        await page.GotoAsync($"{origin}/{hash}");
        return (context, page, problems);
    }

    public static async Task ScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(ScreenshotFolder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotFolder, $"{name}.png"), FullPage = false });
    }

    public static readonly LocatorAssertionsToBeVisibleOptions Visible = new() { Timeout = 20_000 };
}
