using System.Net.Http.Headers;
using EventSourcedHub.Tests.Compatibility;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Tests.Security;
using Microsoft.Playwright;
using static EventSourcedHub.Tests.WebConsole.ConsoleBrowser;
using static Microsoft.Playwright.Assertions;

namespace EventSourcedHub.Tests.WebConsole;

/// <summary>A hub with `Hub:Auth:Mode=Jwt` and one session recorded with an all-powerful token.</summary>
public sealed class RecordedHubWithTokens : IAsyncLifetime
{
    public TokenIssuer Issuer { get; } = new();
    public TestHub Hub { get; private set; } = null!;
    public RecordedSession Session { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Hub = await TestHub.StartAsync(Issuer.HubSettings());
        Hub.Client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Issuer.Token("fhircast/*.* user/AuditEvent.read"));
        Session = await RecordedSession.RecordAsync(Hub.Client);
    }

    public async Task DisposeAsync()
    {
        await Hub.DisposeAsync();
        Issuer.Dispose();
    }
}

/// <summary>With tokens on, the console asks for one, sends it, and shows what the hub refuses to it (issue 15, item 3).</summary>
public sealed class ConsoleWithTokensTests(HeadlessChromium chromium, RecordedHubWithTokens recorded)
    : IClassFixture<HeadlessChromium>, IClassFixture<RecordedHubWithTokens>
{
    private const string Unauthenticated =
        "A valid bearer token is required (Authorization: Bearer <token>); it is missing, expired, not yet valid, or not from this hub's issuer and audience.";

    private static async Task UseTokenAsync(IPage page, string token)
    {
        await page.GetByLabel("Bearer token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Use" }).ClickAsync();
    }

    [Fact]
    public async Task Issue_15_without_a_token_the_console_says_it_needs_one()
    {
        var (context, page, problems) = await OpenAsync(chromium, recorded.Hub.BaseAddress);
        await using var _ = context;

        await Expect(page.Locator("#auth-banner")).ToHaveTextAsync(
            "This hub requires a bearer token. Paste one in the field above (it is kept in this browser tab only).", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        await Expect(page.Locator(".error[data-status='401']")).ToHaveTextAsync($"401 Unauthorized {Unauthenticated}This hub needs a bearer token: paste one above.");
        await Expect(page.Locator("#live")).ToHaveTextAsync("no live updates (401)");
        await Expect(page.Locator("#token-state")).ToHaveTextAsync("no token");
        await ScreenshotAsync(page, "token-needed");
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Issue_15_with_a_token_without_the_audit_scope_the_console_shows_the_403()
    {
        var (context, page, problems) = await OpenAsync(chromium, recorded.Hub.BaseAddress);
        await using var _ = context;

        await UseTokenAsync(page, recorded.Issuer.Token("fhircast/*.read", client: "reading-app"));

        await Expect(page.Locator(".error[data-status='403']")).ToHaveTextAsync(
            "403 Forbidden The token has no `user/AuditEvent.read` or `system/AuditEvent.read` scope.The token may not see this.", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        await Expect(page.Locator("#auth-banner")).ToBeHiddenAsync();
        await Expect(page.Locator("#live")).ToHaveTextAsync("no live updates (403)");
        await Expect(page.Locator("#token-state")).ToContainTextAsync("reading-app · fhircast/*.read · until ");
        await Expect(page.Locator("table.sessions tbody tr")).ToHaveCountAsync(0);
        await ScreenshotAsync(page, "token-forbidden");
        Assert.Empty(problems);
    }

    [Fact]
    public async Task Issue_15_with_an_audit_token_the_console_lists_and_draws_the_session_but_refuses_the_context_it_may_not_read()
    {
        var (context, page, problems) = await OpenAsync(chromium, recorded.Hub.BaseAddress);
        await using var _ = context;
        await UseTokenAsync(page, recorded.Issuer.Token("user/AuditEvent.read", client: "auditor"));

        await Expect(page.Locator($"tr[data-topic='{recorded.Session.Topic}']")).ToBeVisibleAsync(Visible);
        await Expect(page.Locator("#live")).ToHaveTextAsync("live", new LocatorAssertionsToHaveTextOptions { Timeout = 20_000 });
        // The token stays with the tab: a reload keeps it.
        await page.ReloadAsync();
        await Expect(page.Locator("#token-state")).ToContainTextAsync("auditor · user/AuditEvent.read");
        await page.Locator($"tr[data-topic='{recorded.Session.Topic}'] a").ClickAsync();

        await Expect(page.Locator("svg.timeline g.mark[data-event]")).ToHaveCountAsync(RecordedSession.Marks.Length, new LocatorAssertionsToHaveCountOptions { Timeout = 20_000 });
        await Expect(page.Locator(".verify.valid")).ToBeVisibleAsync();
        await Expect(page.Locator("#context-as-of .error[data-status='403']")).ToHaveTextAsync(
            "403 Forbidden The token has no `fhircast/*.read` (or per-event read) scope.The token may not see this.");
        await ScreenshotAsync(page, "token-audit-only");
        Assert.Empty(problems);
    }
}
