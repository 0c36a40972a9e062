using System.Net;
using EventSourcedHub.Audit;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Storage;

/// <summary>A database written by an earlier release (one projected session document, no activity on content changes).</summary>
public sealed class UpgradeTests
{
    /// <summary>Events as an earlier release stored them: in the log only, the session's documents not in this release's shape.</summary>
    private static async Task<string> EarlierReleaseDatabaseAsync(string topic, params object[] events)
    {
        var database = await TestPostgres.CreateDatabaseAsync("upgrade");
        await using (await TestHub.StartAsync(connectionString: database)) { }
        using var store = DocumentStore.For(opts => HubStore.Configure(opts, database));
        await using var session = store.LightweightSession();
        session.Events.StartStream<TopicSession>(topic, events);
        await session.SaveChangesAsync();
        return database;
    }

    private static string ObservationPut(string id, string status) =>
        $$"""{"resourceType":"Observation","id":"{{id}}","status":"{{status}}"}""";

    [Fact]
    public async Task a_topic_recorded_by_an_earlier_release_is_known_with_its_context_after_the_upgrade_at_start()
    {
        var topic = NewTopic();
        var now = DateTimeOffset.UtcNow;
        var database = await EarlierReleaseDatabaseAsync(topic,
            new Subscribed("ep-" + topic, "PACS", ["Patient-open"], 60, now),
            new ContextOpened("e1", "Patient-open", "Patient", "p1", "v1", null, "[" + PatientResourceEntry("p1") + "]", PatientOpen(topic, "p1", "e1")));

        await using var hub = await TestHub.StartAsync(connectionString: database);
        var context = await hub.Client.GetContextAsync(topic);
        Assert.Equal(("Patient", "v1"), ((string?)context["context.type"], (string?)context["context.versionId"]));
        using var close = await hub.Client.PublishJsonAsync(PatientClose(topic, "p1"));
        Assert.Equal(HttpStatusCode.Accepted, close.StatusCode);
    }

    [Fact]
    public async Task rebuild_gives_content_changes_recorded_without_an_activity_create_or_update_from_the_content_before_them()
    {
        var topic = NewTopic();
        var now = DateTimeOffset.UtcNow;
        var database = await EarlierReleaseDatabaseAsync(topic,
            new Subscribed("ep-" + topic, "Reporting", ["DiagnosticReport-open"], 60, now),
            new ContextOpened("e1", "DiagnosticReport-open", "DiagnosticReport", "r1", "v1", null, "[]", ReportOpen(topic, "r1", id: "e1")),
            new ContentUpdated("e2", "DiagnosticReport-update", "DiagnosticReport", "r1", "v2", "v1",
                [new ContentChange(ContentChange.Put, "Observation", "o1", ObservationPut("o1", "preliminary"))], "{}"),
            new ContentUpdated("e3", "DiagnosticReport-update", "DiagnosticReport", "r1", "v3", "v2",
                [new ContentChange(ContentChange.Put, "Observation", "o1", ObservationPut("o1", "final")), new ContentChange(ContentChange.Delete, "Observation", "o9", null)], "{}"));

        await using var hub = await TestHub.StartAsync(connectionString: database);
        var store = hub.Services.GetRequiredService<IDocumentStore>();
        await ProjectionRebuild.RunAsync(store, hub.Services.GetServices<ISessionDocuments>(), 200, new StringWriter(), CancellationToken.None);
        await using var query = store.QuerySession();
        var provenance = await query.Query<ProvenanceRecord>().Where(p => p.Topic == topic).OrderBy(p => p.StreamVersion).ThenBy(p => p.Index).ToListAsync();
        Assert.Equal(["Observation/o1 CREATE", "Observation/o1 UPDATE", "Observation/o9 DELETE"], provenance.Select(p => $"{p.Target} {p.Activity}"));
    }

    private static string PatientResourceEntry(string id) => $$"""{"key":"patient","resource":{{PatientResource(id)}}}""";
}
