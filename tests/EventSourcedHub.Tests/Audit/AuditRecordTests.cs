using EventSourcedHub.Audit;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Audit;

/// <summary>The audit trail: one record per topic-stream event, written from the committed log (AuditTrail).</summary>
public sealed class AuditRecordTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    [Fact]
    public async Task every_stream_event_of_a_reporting_session_has_one_audit_record_with_the_event_timestamp()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(fixture.Client, topic, "pat-audit-1");

        await fixture.Hub.Services.GetRequiredService<AuditTrail>().CaughtUpAsync(topic, TimeSpan.FromSeconds(10), CancellationToken.None);
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var records = await query.Query<AuditRecord>().Where(r => r.Topic == topic && r.StreamVersion > 0).OrderBy(r => r.StreamVersion).ToListAsync();
        Assert.Equal(
            ["subscribe", "confirm", "DiagnosticReport-open", "DiagnosticReport-update", "DiagnosticReport-select", "DiagnosticReport-update",
             "DiagnosticReport-close", "unsubscribe"],
            records.Select(r => r.Subtype));
        Assert.Equal(Enumerable.Range(1, ReportingSession.Events).Select(v => (long)v), records.Select(r => r.StreamVersion));
        Assert.Equal(ReportingSession.App, records[0].Agent);
        Assert.Equal(ReportingSession.App, records[1].Agent);
        Assert.Equal(ReportingSession.App, records[^1].Agent);
        Assert.Equal("127.0.0.1", records[2].Agent);
        Assert.Equal(["Patient/pat-audit-1"], records[2].PatientRefs);
        Assert.Contains("ImagingStudy/stu-1", records[2].EntityRefs);
        Assert.Contains("DiagnosticReport/rpt-1", records[2].EntityRefs);

        await using var connection = new NpgsqlConnection(fixture.Hub.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("select version, timestamp from fhircast.mt_events where stream_id = @topic order by version", connection);
        command.Parameters.AddWithValue("topic", topic);
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new List<DateTimeOffset>();
        while (await reader.ReadAsync()) stored.Add(reader.GetFieldValue<DateTimeOffset>(1));
        Assert.Equal(stored, records.Select(r => r.Recorded));
    }

    [Fact]
    public async Task each_content_change_has_one_provenance_create_for_new_resources_and_delete_for_deletes()
    {
        var topic = NewTopic();
        await ReportingSession.RunAsync(fixture.Client, topic, "pat-audit-2");

        await fixture.Hub.Services.GetRequiredService<AuditTrail>().CaughtUpAsync(topic, TimeSpan.FromSeconds(10), CancellationToken.None);
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var provenances = await query.Query<ProvenanceRecord>().Where(p => p.Topic == topic).OrderBy(p => p.StreamVersion).ThenBy(p => p.Index).ToListAsync();
        Assert.Equal(ReportingSession.ContentChanges, provenances.Count);
        Assert.Equal(["Observation/obs-1 CREATE", "ImagingSelection/isel-1 CREATE", "Observation/obs-1 DELETE"],
            provenances.Select(p => $"{p.Target} {p.Activity}"));
        Assert.Equal([$"{topic}-update-1", $"{topic}-update-1", $"{topic}-update-2"], provenances.Select(p => p.EventId));
        Assert.All(provenances, p => Assert.Equal("127.0.0.1", p.Agent));
    }

    [Fact]
    public async Task a_second_put_of_a_shared_resource_is_an_update_provenance()
    {
        var topic = NewTopic();
        await fixture.Client.SubscribeAsync(topic, "UserLogout");
        await fixture.Client.PublishAsync(ReportOpen(topic, "rpt-9"));
        var v1 = (string)(await fixture.Client.GetContextAsync(topic))["context.versionId"]!;
        await fixture.Client.PublishAsync(ReportUpdate(topic, "rpt-9", v1, [Put(ObservationResource("obs-9"), "Observation/obs-9")]));
        var v2 = (string)(await fixture.Client.GetContextAsync(topic))["context.versionId"]!;
        await fixture.Client.PublishAsync(ReportUpdate(topic, "rpt-9", v2, [Put(ObservationResource("obs-9", "final"), "Observation/obs-9")]));

        await fixture.Hub.Services.GetRequiredService<AuditTrail>().CaughtUpAsync(topic, TimeSpan.FromSeconds(10), CancellationToken.None);
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var provenances = await query.Query<ProvenanceRecord>().Where(p => p.Topic == topic).OrderBy(p => p.StreamVersion).ThenBy(p => p.Index).ToListAsync();
        Assert.Equal(["CREATE", "UPDATE"], provenances.Select(p => p.Activity));
    }
}
