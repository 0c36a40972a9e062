using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using EventSourcedHub.Tests.Infrastructure;
using FsCheck;
using FsCheck.Fluent;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Storage;

/// <summary>A hub that keeps at most 3 open anchors per session, so that generated sessions also evict.</summary>
public sealed class ThreeAnchorHubFixture() : HubFixture(new Dictionary<string, string?> { ["Hub:Limits:MaxOpenAnchors"] = "3" });

/// <summary>
/// The session state the write path stores itself (issue 11): a head plus one document per open anchor, written from
/// the state the writer decided on. It must always equal the fold of the log, whatever the session did.
/// </summary>
public sealed class SessionStateTests(ThreeAnchorHubFixture fixture) : IClassFixture<ThreeAnchorHubFixture>
{
    private readonly HubClient _hub = fixture.Hub.Client;

    private const string AllEvents = "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select,DiagnosticReport-close,Patient-open,Patient-close,Home-open";

    private async Task<IReadOnlyList<JasperFx.Events.IEvent>> StreamOf(string topic)
    {
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await query.Events.FetchStreamAsync(topic);
    }

    private async Task<TopicSession> StoredAsync(string topic)
    {
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return (await TopicDocuments.LoadAsync(query, topic, CancellationToken.None))!;
    }

    private static string Describe(TopicSession state) => JsonSerializer.Serialize(new
    {
        state.Version,
        state.CurrentKey,
        state.Opens,
        Anchors = state.OpenAnchors.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => a.Value),
        Subscriptions = state.Subscriptions.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => s.Value),
    });

    /// <summary>One step of a generated session; some are rejected by the hub, which is part of the property.</summary>
    public sealed record Step(string Kind, int Anchor, int Resource);

    private static readonly Gen<Step> Steps =
        from kind in Gen.Elements("open", "open", "patient", "update", "update", "delete", "select", "close", "home")
        from anchor in Gen.Choose(1, 5)
        from resource in Gen.Choose(1, 4)
        select new Step(kind, anchor, resource);

    [Fact]
    public void the_stored_session_equals_the_fold_of_the_log_after_any_session()
    {
        var sessions = Gen.ListOf(Steps).Select(s => s.Take(30).ToList()).Where(s => s.Count > 0);
        Prop.ForAll(sessions.ToArbitrary(), (Action<List<Step>>)(steps => RunSessionAsync(steps).GetAwaiter().GetResult()))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(10).WithStartSize(15));
    }

    private async Task RunSessionAsync(List<Step> steps)
    {
        var topic = NewTopic();
        await using var listener = await _hub.SubscribeAndConnectAsync(topic, AllEvents);
        var versions = new Dictionary<int, string>();
        foreach (var step in steps)
        {
            var report = $"r{step.Anchor}";
            var request = step.Kind switch
            {
                "open" => ReportOpen(topic, report),
                "patient" => PatientOpen(topic, $"p{step.Anchor}"),
                "update" => ReportUpdate(topic, report, versions.GetValueOrDefault(step.Anchor, "none"), [Put(ObservationResource($"o{step.Resource}"), $"Observation/o{step.Resource}")]),
                "delete" => ReportUpdate(topic, report, versions.GetValueOrDefault(step.Anchor, "none"), [Delete($"Observation/o{step.Resource}")]),
                "select" => ReportSelect(topic, report, $"Observation/o{step.Resource}"),
                "close" => ReportClose(topic, report),
                _ => HomeOpen(topic),
            };
            using var response = await _hub.PublishJsonAsync(request);
            if (response.StatusCode != HttpStatusCode.Accepted) continue;
            // Hub-made closes (evictions) come first; the request's own notification is the last one for it.
            while (true)
            {
                var notification = await listener.ReceiveAndAckAsync();
                if ((string?)notification["id"] != (string?)JsonNode.Parse(request)!["id"]) continue;
                if ((string?)notification["event"]!["context.versionId"] is { } v && step.Kind != "patient") versions[step.Anchor] = v;
                break;
            }
        }

        var folded = TopicSession.Fold(topic, (await StreamOf(topic)).Select(e => e.Data));
        var stored = await StoredAsync(topic);
        Assert.Equal(Describe(folded), Describe(stored));
        Assert.True(stored.OpenAnchors.Count <= 3, $"{stored.OpenAnchors.Count} open anchors, more than Hub:Limits:MaxOpenAnchors");
        Assert.Equal(CurrentContext.Render(folded), HubClient.Canonical(await _hub.GetContextAsync(topic)));
    }

    [Fact]
    public async Task an_open_beyond_max_open_anchors_closes_the_least_recently_opened_suspended_anchor_and_says_why()
    {
        var topic = NewTopic();
        await using var app = await _hub.SubscribeAndConnectAsync(topic, "Patient-open,Patient-close");
        foreach (var open in new[] { PatientOpen(topic, "p1"), PatientOpen(topic, "p2"), PatientOpen(topic, "p3"), PatientOpen(topic, "p1", id: "reopen-p1") })
        {
            await _hub.PublishAsync(open);
            await app.ReceiveAndAckAsync();
        }

        // p1 was opened again, so p2 is now the least recently opened: the fourth anchor closes it, before the open.
        await _hub.PublishAsync(PatientOpen(topic, "p4", id: "open-p4"));
        var close = await app.ReceiveAndAckAsync();
        Assert.Equal("Patient-close", (string?)close["event"]!["hub.event"]);
        Assert.Equal(HubClient.Canonical(ContextOf(PatientOpen(topic, "p2"))), HubClient.Canonical(close["event"]!["context"]));
        Assert.Equal("open-p4", (string?)(await app.ReceiveAndAckAsync())["id"]);

        var stored = await StoredAsync(topic);
        Assert.Equal(["Patient/p3", "Patient/p1", "Patient/p4"], stored.Anchors.Select(a => a.Identity));
        Assert.Equal("Patient/p4", stored.CurrentAnchor);
        var evicted = Assert.IsType<ContextClosed>((await StreamOf(topic))[^2].Data);
        Assert.Equal(("p2", (string?)close["id"]), (evicted.AnchorId, evicted.EventId));
        Assert.Contains("Hub:Limits:MaxOpenAnchors", evicted.Reason);

        // The audit names the hub as the one who closed it, and why.
        using var audit = await _hub.Http.GetAsync($"/api/sessions/{topic}/audit");
        var closeAudit = JsonNode.Parse(await audit.Content.ReadAsStringAsync())!["entry"]!.AsArray()
            .Select(e => e!["resource"]!).Single(r => (string?)r["subtype"]![0]!["code"] == "Patient-close");
        Assert.Equal("EventSourcedHub", (string?)closeAudit["agent"]![0]!["name"]);
        Assert.Contains("Hub:Limits:MaxOpenAnchors", (string?)closeAudit["outcomeDesc"]);
        Assert.Contains("Patient/p2", closeAudit.ToJsonString());
    }

    [Fact]
    public async Task after_home_open_an_open_closes_the_least_recently_opened_anchor()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.PublishAsync(PatientOpen(topic, "p2"));
        await _hub.PublishAsync(PatientOpen(topic, "p3"));
        // Home-open leaves p3 open but not current; then a new open must close p1, the oldest suspended one.
        await _hub.PublishAsync(HomeOpen(topic));
        await _hub.PublishAsync(PatientOpen(topic, "p4"));
        Assert.Equal(["Patient/p2", "Patient/p3", "Patient/p4"], (await StoredAsync(topic)).Anchors.Select(a => a.Identity));
    }

    [Fact]
    public async Task shared_content_keeps_the_order_of_first_puts_when_read_back_from_the_store()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        async Task UpdateAsync(params string[] entries)
        {
            var version = (string)(await _hub.GetContextAsync(topic))["context.versionId"]!;
            await _hub.PublishAsync(ReportUpdate(topic, "r1", version, entries, id: Guid.NewGuid().ToString()));
        }
        await UpdateAsync(Put(ObservationResource("o1"), "Observation/o1"), Put(ObservationResource("o2"), "Observation/o2"), Put(ObservationResource("o3"), "Observation/o3"));
        await UpdateAsync(Put(ObservationResource("o1", "final"), "Observation/o1"), Delete("Observation/o2"));
        await UpdateAsync(Put(ObservationResource("o2", "final"), "Observation/o2"));

        // A second hub on the same database has nothing in memory: it reads the stored documents.
        await using var other = await TestHub.StartAsync(connectionString: fixture.Hub.ConnectionString);
        foreach (var client in new[] { _hub, other.Client })
        {
            var content = (await client.GetContextAsync(topic))["context"]!.AsArray().Single(e => (string?)e!["key"] == "content")!;
            Assert.Equal(["Observation/o1", "Observation/o3", "Observation/o2"], content["resource"]!["entry"]!.AsArray().Select(e => (string?)e!["fullUrl"]));
            Assert.Equal("final", (string?)content["resource"]!["entry"]![0]!["resource"]!["status"]);
        }
    }
}
