using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Replay;

public sealed class SessionSummaryTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonObject> SummaryOfAsync(string topic, string query = "", Func<JsonObject, bool>? until = null)
    {
        for (var i = 0; i < 100; i++)
        {
            var all = JsonNode.Parse(await _hub.Http.GetStringAsync($"/api/sessions{query}"))!.AsArray();
            if (all.SingleOrDefault(s => (string?)s!["id"] == topic) is JsonObject summary && (until?.Invoke(summary) ?? true)) return summary;
            await Task.Delay(100);
        }
        throw new TimeoutException($"No summary of {topic} appeared.");
    }

    [Fact]
    public async Task a_session_summary_counts_what_happened_and_times_each_report()
    {
        var topic = NewTopic();
        await using var app = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select,DiagnosticReport-close", "Reporting");
        await _hub.SubscribeAsync(topic, "SyncError", "Other");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        var version = (string)(await app.ReceiveAndAckAsync())["event"]!["context.versionId"]!;
        await Task.Delay(250);
        await _hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1")]));
        await _hub.PublishAsync(ReportSelect(topic, "r1", "Observation/o1"));
        await _hub.PublishAsync(ReportClose(topic, "r1"));
        await _hub.PublishAsync(Envelope(topic, "SyncError",
            """[{"key":"operationoutcome","resource":{"resourceType":"OperationOutcome","issue":[{"severity":"warning","code":"processing"}]}}]"""));

        var summary = await SummaryOfAsync(topic, until: s => (int)s["syncErrors"]! == 1);
        Assert.Equal(2, (int)summary["subscribers"]!);
        Assert.Equal(1, (int)summary["opens"]!);
        Assert.Equal(1, (int)summary["closes"]!);
        Assert.Equal(1, (int)summary["updates"]!);
        Assert.Equal(1, (int)summary["selects"]!);
        var report = Assert.Single(summary["reports"]!.AsArray())!;
        Assert.Equal("r1", (string?)report["reportId"]);
        Assert.True((double)report["openSeconds"]! >= 0.2, report.ToJsonString());
        Assert.True(DateTimeOffset.Parse((string)summary["start"]!) <= DateTimeOffset.Parse((string)summary["end"]!));
    }

    [Fact]
    public async Task sessions_are_listed_by_the_time_window_they_were_active_in()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var summary = await SummaryOfAsync(topic);
        var start = DateTimeOffset.Parse((string)summary["start"]!);
        await SummaryOfAsync(topic, $"?from={Uri.EscapeDataString(start.AddMinutes(-1).ToString("O"))}&to={Uri.EscapeDataString(start.AddMinutes(1).ToString("O"))}");
        var later = JsonNode.Parse(await _hub.Http.GetStringAsync($"/api/sessions?from={Uri.EscapeDataString(start.AddHours(1).ToString("O"))}"))!.AsArray();
        Assert.DoesNotContain(later, s => (string?)s!["id"] == topic);
    }

    [Theory]
    [InlineData("from=yesterday")]
    [InlineData("to=2025-13-45")]
    public async Task a_bad_window_is_400(string query)
    {
        using var response = await _hub.Http.GetAsync($"/api/sessions?{query}");
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }
}
