using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Audit;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>
/// The audit trail is written from the committed log, off the write path (issue 11): whatever was committed but not yet
/// audited when a hub died is audited when a hub starts again, and the chain stays verifiable.
/// </summary>
public sealed class AuditTrailTests
{
    [Fact]
    public async Task events_committed_while_no_hub_audited_them_are_audited_when_a_hub_starts()
    {
        var database = await TestPostgres.CreateDatabaseAsync("trail");
        await using (await TestHub.StartAsync(connectionString: database)) { }

        // Committed as a hub that died right after its commits leaves them: in the log, without audit records.
        var topic = NewTopic();
        var now = DateTimeOffset.UtcNow;
        using (var store = DocumentStore.For(opts => HubStore.Configure(opts, database)))
        {
            var events = new object[]
            {
                new Subscribed("ep-" + topic, "PACS", ["Patient-open"], 60, now),
                new ContextOpened("e1", "Patient-open", "Patient", "p1", "v1", null, "[]", PatientOpen(topic, "p1", "e1")),
                new ContextClosed("e2", "Patient-close", "Patient", "p1", PatientClose(topic, "p1", "e2")),
            };
            await using var session = store.LightweightSession();
            session.Events.StartStream<TopicSession>(topic, events);
            session.StoreObjects(TopicDocuments.All(TopicSession.Fold(topic, events)));
            await session.SaveChangesAsync();
        }

        await using var hub = await TestHub.StartAsync(connectionString: database);
        var store2 = hub.Services.GetRequiredService<IDocumentStore>();
        IReadOnlyList<AuditRecord> records = [];
        for (var i = 0; i < 100 && records.Count < 3; i++)
        {
            await Task.Delay(100);
            await using var query = store2.QuerySession();
            records = await query.Query<AuditRecord>().Where(r => r.Topic == topic && r.StreamVersion > 0).OrderBy(r => r.StreamVersion).ToListAsync();
        }
        Assert.Equal(["subscribe", "Patient-open", "Patient-close"], records.Select(r => r.Subtype));
        Assert.Equal("PACS", records[0].Agent);

        using var verify = await hub.Client.Http.GetAsync($"/api/sessions/{topic}/verify");
        var result = JsonNode.Parse(await verify.Content.ReadAsStringAsync())!;
        Assert.True((bool)result["valid"]!, result.ToJsonString());
        Assert.Equal(3, (int)result["events"]!);
    }

    [Fact]
    public async Task every_acknowledged_event_has_its_audit_event_provenance_and_chain_link_after_a_kill_9_under_load()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("hub-trail-").FullName;
        try
        {
            var topics = Enumerable.Range(0, 4).Select(_ => NewTopic()).ToArray();
            var acknowledged = topics.ToDictionary(t => t, _ => 0);
            await using (var first = await HubProcess.StartAsync(dataDirectory))
            {
                await Task.WhenAll(topics.Select(async topic =>
                {
                    await first.Client.SubscribeAsync(topic, "DiagnosticReport-open");
                    await first.Client.PublishAsync(ReportOpen(topic, "r1"));
                    for (var i = 0; i < 20; i++)
                    {
                        var version = (string)(await first.Client.GetContextAsync(topic))["context.versionId"]!;
                        await first.Client.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource($"o{i}"), $"Observation/o{i}")], id: $"u{i}"));
                        acknowledged[topic] = i + 1;
                    }
                }));
                // Straight after the last 202s: the trail is likely still behind, and nothing of the hub's shutdown runs.
                first.Kill();
            }

            await using var second = await HubProcess.StartAsync(dataDirectory);
            foreach (var topic in topics)
            {
                Assert.Equal(20, acknowledged[topic]);
                using var audit = await second.Client.Http.GetAsync($"/api/sessions/{topic}/audit");
                var subtypes = JsonNode.Parse(await audit.Content.ReadAsStringAsync())!["entry"]!.AsArray()
                    .Select(e => (string?)e!["resource"]!["subtype"]![0]!["code"]).ToList();
                Assert.Equal(22, subtypes.Count(s => s is "subscribe" or "DiagnosticReport-open" or "DiagnosticReport-update"));
                Assert.Equal(20, subtypes.Count(s => s == "DiagnosticReport-update"));

                using var verify = await second.Client.Http.GetAsync($"/api/sessions/{topic}/verify");
                var result = JsonNode.Parse(await verify.Content.ReadAsStringAsync())!;
                Assert.True((bool)result["valid"]!, result.ToJsonString());
                Assert.Equal(22, (int)result["events"]!);
            }
            using var provenance = await second.Client.Http.GetAsync("/fhir/Provenance?agent=127.0.0.1&_count=500");
            Assert.Equal(HttpStatusCode.OK, provenance.StatusCode);
            var provenances = JsonNode.Parse(await provenance.Content.ReadAsStringAsync())!["entry"]!.AsArray().Select(e => e!["resource"]!.ToJsonString()).ToList();
            foreach (var topic in topics) Assert.Equal(20, provenances.Count(p => p.Contains($"topic {topic} ")));
            await second.StopAsync();
        }
        finally
        {
            await HubProcess.StopPostgresIfRunningAsync(dataDirectory);
            Directory.Delete(dataDirectory, recursive: true);
        }
    }
}
