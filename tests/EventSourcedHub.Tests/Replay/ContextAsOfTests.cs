using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Domain;
using EventSourcedHub.Tests.Infrastructure;
using FsCheck;
using FsCheck.Fluent;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Replay;

/// <summary>A hub that snapshots every 3 versions, so that time travel mixes snapshots and folded events.</summary>
public sealed class SnapshottingHubFixture() : HubFixture(new Dictionary<string, string?> { ["Hub:SnapshotInterval"] = "3" });

/// <summary>The context of a session as it was at any stream version or moment.</summary>
public sealed class ContextAsOfTests(SnapshottingHubFixture fixture) : IClassFixture<SnapshottingHubFixture>
{
    private readonly HubClient _hub = fixture.Hub.Client;

    private async Task<(HttpStatusCode Status, string Body, string? Version)> AsOfAsync(string topic, string query)
    {
        using var response = await _hub.Http.GetAsync($"/api/sessions/{topic}/context?{query}");
        var version = response.Headers.TryGetValues("X-Stream-Version", out var v) ? v.Single() : null;
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), version);
    }

    private async Task<IReadOnlyList<JasperFx.Events.IEvent>> StreamOf(string topic)
    {
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await query.Events.FetchStreamAsync(topic);
    }

    [Fact]
    public async Task the_context_as_of_a_version_or_a_moment_is_what_get_current_context_answered_then()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");                        // v1
        await _hub.PublishAsync(PatientOpen(topic, "p1"));                       // v2
        var afterFirstOpen = HubClient.Canonical(await _hub.GetContextAsync(topic));
        await Task.Delay(20);
        await _hub.PublishAsync(StudyOpen(topic, "s1", "p1"));                   // v3
        await _hub.PublishAsync(Envelope(topic, "ImagingStudy-close", $$$"""[{"key":"study","resource":{{{StudyResource("s1")}}}}]""")); // v4

        var (status, body, version) = await AsOfAsync(topic, "version=2");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("2", version);
        Assert.Equal(afterFirstOpen, HubClient.Canonical(JsonNode.Parse(body)));
        Assert.Equal("""{"context.type":"","context":[]}""", HubClient.Canonical(JsonNode.Parse((await AsOfAsync(topic, "version=1")).Body)));
        Assert.Equal("""{"context.type":"","context":[]}""", HubClient.Canonical(JsonNode.Parse((await AsOfAsync(topic, "version=4")).Body)));

        var recordedAtTwo = (await StreamOf(topic))[1].Timestamp;
        var atTwo = await AsOfAsync(topic, $"at={Uri.EscapeDataString(recordedAtTwo.ToString("O"))}");
        Assert.Equal("2", atTwo.Version);
        Assert.Equal(afterFirstOpen, HubClient.Canonical(JsonNode.Parse(atTwo.Body)));
    }

    [Theory]
    [InlineData("", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("version=1&at=2025-01-01T00:00:00Z", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("version=0", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("version=x", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("at=yesterday", HttpStatusCode.BadRequest, "invalid")]
    [InlineData("version=99", HttpStatusCode.NotFound, "not-found")]
    [InlineData("at=2001-01-01T00:00:00Z", HttpStatusCode.NotFound, "not-found")]
    public async Task context_as_of_with_bad_or_impossible_points_is_an_operation_outcome(string query, HttpStatusCode status, string code)
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        using var response = await _hub.Http.GetAsync($"/api/sessions/{topic}/context?{query}");
        await HubClient.AssertOperationOutcome(response, status, code);
    }

    [Fact]
    public async Task context_as_of_for_an_unknown_topic_is_404()
    {
        using var response = await _hub.Http.GetAsync($"/api/sessions/{NewTopic()}/context?version=1");
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.NotFound, "not-found");
    }

    /// <summary>One step of a generated reporting session; some are rejected by the hub, which is part of the property.</summary>
    public sealed record Step(string Kind, int Report, int Resource);

    private static readonly Gen<Step> Steps =
        from kind in Gen.Elements("open", "open", "update", "update", "delete", "select", "close", "home")
        from report in Gen.Choose(1, 3)
        from resource in Gen.Choose(1, 4)
        select new Step(kind, report, resource);

    [Fact]
    public void time_travel_to_every_version_equals_the_fold_of_that_many_events_and_ends_at_the_current_context()
    {
        var sessions = Gen.ListOf(Steps).Select(s => s.Take(30).ToList()).Where(s => s.Count > 0);
        Prop.ForAll(sessions.ToArbitrary(), (Action<List<Step>>)(steps => RunSessionAsync(steps).GetAwaiter().GetResult()))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(8).WithStartSize(10));
    }

    private async Task RunSessionAsync(List<Step> steps)
    {
        var topic = NewTopic();
        await using var listener = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select,DiagnosticReport-close,Home-open");
        var versions = new Dictionary<int, string>();
        foreach (var step in steps)
        {
            var report = $"r{step.Report}";
            var request = step.Kind switch
            {
                "open" => ReportOpen(topic, report),
                "update" => ReportUpdate(topic, report, versions.GetValueOrDefault(step.Report, "none"), [Put(ObservationResource($"o{step.Resource}"), $"Observation/o{step.Resource}")]),
                "delete" => ReportUpdate(topic, report, versions.GetValueOrDefault(step.Report, "none"), [Delete($"Observation/o{step.Resource}")]),
                "select" => ReportSelect(topic, report, $"Observation/o{step.Resource}"),
                "close" => ReportClose(topic, report),
                _ => HomeOpen(topic),
            };
            using var response = await _hub.PublishJsonAsync(request);
            if (response.StatusCode != HttpStatusCode.Accepted) continue;
            var notification = await listener.ReceiveAndAckAsync();
            if ((string?)notification["event"]!["context.versionId"] is { } v) versions[step.Report] = v;
        }

        var events = await StreamOf(topic);
        for (var n = 1; n <= events.Count; n++)
        {
            var expected = CurrentContext.Render(TopicSession.Fold(topic, events.Take(n).Select(e => e.Data)));
            var (status, body, _) = await AsOfAsync(topic, $"version={n}");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(expected, body);
        }
        Assert.Equal((await AsOfAsync(topic, $"version={events.Count}")).Body, HubClient.Canonical(await _hub.GetContextAsync(topic)));
    }
}
