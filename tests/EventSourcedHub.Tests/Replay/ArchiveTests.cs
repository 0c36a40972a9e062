using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSourcedHub.Channels;
using EventSourcedHub.Domain;
using EventSourcedHub.Notifications;
using EventSourcedHub.Storage;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Replay;

/// <summary>Export, import into another hub, and rebuilding projections from the log.</summary>
public sealed class ArchiveTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    /// <summary>A reporting session with every kind of event; returns its topic.</summary>
    private static async Task<string> RecordSessionAsync(HubClient hub)
    {
        var topic = NewTopic();
        await using var app = await hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select,DiagnosticReport-close", "Reporting");
        await hub.PublishAsync(ReportOpen(topic, "r1"));
        var version = (string)(await app.ReceiveAndAckAsync())["event"]!["context.versionId"]!;
        await hub.PublishAsync(ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1"), Put(ImagingSelectionResource("i1"), "ImagingSelection/i1")]));
        await app.ReceiveAndAckAsync();
        await hub.PublishAsync(ReportSelect(topic, "r1", "Observation/o1"));
        await app.ReceiveAndAckAsync();
        await hub.PublishAsync(ReportOpen(topic, "r2"));
        await app.ReceiveAndAckAsync();
        await hub.PublishAsync(ReportClose(topic, "r2"));
        await app.ReceiveAndAckAsync();
        await app.CloseAsync();
        return topic;
    }

    private static async Task<string[]> ExportAsync(HubClient hub, string topic)
    {
        using var response = await hub.Http.GetAsync($"/api/sessions/{topic}/export");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static Task<HttpResponseMessage> ImportAsync(HubClient hub, string topic, string ndjson, string mediaType = "application/x-ndjson")
    {
        var content = new StringContent(ndjson, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return hub.Http.PostAsync($"/api/sessions/{topic}/import", content);
    }

    private static string WithoutRecorded(string line)
    {
        var node = JsonNode.Parse(line)!.AsObject();
        node.Remove("recorded");
        return node.ToJsonString();
    }

    [Fact]
    public async Task export_writes_one_line_per_recorded_event_in_stream_order()
    {
        var topic = await RecordSessionAsync(_hub);
        var lines = await ExportAsync(_hub, topic);
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var stream = await query.Events.FetchStreamAsync(topic);
        Assert.Equal(stream.Count, lines.Length);
        var records = lines.Select(l => JsonNode.Parse(l)!).ToArray();
        Assert.Equal(stream.Select(e => e.Version), records.Select(r => (long)r["version"]!));
        Assert.Equal(stream.Select(e => e.EventTypeName), records.Select(r => (string?)r["type"]));
        Assert.All(records, r => Assert.IsType<JsonObject>(r["data"]));
    }

    [Fact]
    public async Task a_session_exported_from_one_hub_and_imported_into_another_is_the_same_session()
    {
        var topic = await RecordSessionAsync(_hub);
        var exported = await ExportAsync(_hub, topic);

        await using var other = await TestHub.StartAsync();
        using var imported = await ImportAsync(other.Client, topic, string.Join("\n", exported) + "\n");
        Assert.Equal(HttpStatusCode.Created, imported.StatusCode);
        Assert.Equal(exported.Length, (int)JsonNode.Parse(await imported.Content.ReadAsStringAsync())!["events"]!);

        Assert.Equal(exported.Select(WithoutRecorded), (await ExportAsync(other.Client, topic)).Select(WithoutRecorded));
        Assert.Equal(HubClient.Canonical(await _hub.GetContextAsync(topic)), HubClient.Canonical(await other.Client.GetContextAsync(topic)));
        using var a = await _hub.Http.GetAsync($"/api/sessions/{topic}/events?afterVersion=0");
        using var b = await other.Client.Http.GetAsync($"/api/sessions/{topic}/events?afterVersion=0");
        Assert.Equal(
            JsonNode.Parse(await a.Content.ReadAsStringAsync())!.AsArray().Select(e => HubClient.Canonical(e!["notification"])),
            JsonNode.Parse(await b.Content.ReadAsStringAsync())!.AsArray().Select(e => HubClient.Canonical(e!["notification"])));
    }

    [Fact]
    public async Task importing_over_an_existing_topic_is_409()
    {
        var topic = await RecordSessionAsync(_hub);
        var ndjson = string.Join("\n", await ExportAsync(_hub, topic));
        using var sameTopic = await ImportAsync(_hub, topic, ndjson);
        await HubClient.AssertOperationOutcome(sameTopic, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task importing_a_log_whose_endpoints_this_hub_already_issued_is_409()
    {
        var topic = await RecordSessionAsync(_hub);
        var copy = NewTopic();
        var lines = (await ExportAsync(_hub, topic)).Select(l => l.Replace($"\"topic\":\"{topic}\"", $"\"topic\":\"{copy}\""));
        using var response = await ImportAsync(_hub, copy, string.Join("\n", lines));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.Conflict, "conflict");
    }

    public static TheoryData<string, string> BadLogs() => new()
    {
        { "The body holds no events.", "" },
        { "Line 1: not JSON", "{" },
        { "Line 1: each line must be a JSON object.", "[1]" },
        { "Line 1: `version` must be 1", """{"topic":"TOPIC","version":2,"type":"subscribed","data":{}}""" },
        { "Line 1: `type` must be one of:", """{"topic":"TOPIC","version":1,"type":"rm_rf","data":{}}""" },
        { "Line 1: `data` must be an object.", """{"topic":"TOPIC","version":1,"type":"home_opened","data":"x"}""" },
        { "Line 1: `data.eventId` is required for a home_opened event.", """{"topic":"TOPIC","version":1,"type":"home_opened","data":{}}""" },
        { "Line 1: `topic` must be '", """{"topic":"elsewhere","version":1,"type":"home_opened","data":{"eventId":"e","eventName":"Home-open","notification":"{}"}}""" },
        { "Line 1: `topic` must be '", """{"version":1,"type":"home_opened","data":{"eventId":"e","eventName":"Home-open","notification":"{}"}}""" },
    };

    [Theory]
    [MemberData(nameof(BadLogs))]
    public async Task a_malformed_log_is_400_and_imports_nothing(string diagnostics, string ndjson)
    {
        var topic = NewTopic();
        using var response = await ImportAsync(_hub, topic, ndjson.Replace("TOPIC", topic));
        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
        Assert.StartsWith(diagnostics, (string?)outcome["issue"]![0]!["diagnostics"], StringComparison.Ordinal);
        using var export = await _hub.Http.GetAsync($"/api/sessions/{topic}/export");
        Assert.Equal(HttpStatusCode.NotFound, export.StatusCode);
    }

    [Fact]
    public async Task an_import_that_is_not_utf8_is_400()
    {
        using var content = new ByteArrayContent([0x7B, 0xC3, 0x28, 0x7D, 0x0A]);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        using var response = await _hub.Http.PostAsync($"/api/sessions/{NewTopic()}/import", content);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task import_needs_ndjson_and_export_needs_a_known_topic()
    {
        using var wrongType = await ImportAsync(_hub, NewTopic(), "{}", "application/json");
        await HubClient.AssertOperationOutcome(wrongType, HttpStatusCode.UnsupportedMediaType, "not-supported");
        using var unknown = await _hub.Http.GetAsync($"/api/sessions/{NewTopic()}/export");
        await HubClient.AssertOperationOutcome(unknown, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task rebuilt_session_documents_and_projections_equal_the_ones_written_by_the_hub()
    {
        var topic = await RecordSessionAsync(_hub);
        var store = fixture.Hub.Services.GetRequiredService<IDocumentStore>();
        async Task<string> SnapshotAsync()
        {
            await using var query = store.QuerySession();
            var session = await TopicDocuments.LoadAsync(query, topic, CancellationToken.None);
            var endpoints = await query.Query<ChannelEndpoint>().Where(e => e.Topic == topic).OrderBy(e => e.Id).ToListAsync();
            var accepted = await query.Query<AcceptedNotification>().Where(a => a.Topic == topic).OrderBy(a => a.Id).ToListAsync();
            return JsonSerializer.Serialize(new { session, endpoints, accepted });
        }

        var before = await SnapshotAsync();
        await store.Advanced.Clean.DeleteDocumentsByTypeAsync(typeof(TopicHead));
        await store.Advanced.Clean.DeleteDocumentsByTypeAsync(typeof(StoredAnchor));
        await store.Advanced.Clean.DeleteDocumentsByTypeAsync(typeof(AcceptedNotification));
        await store.Advanced.Clean.DeleteDocumentsByTypeAsync(typeof(ChannelEndpoint));
        Assert.NotEqual(before, await SnapshotAsync());

        var progress = new StringWriter();
        await ProjectionRebuild.RunAsync(store, fixture.Hub.Services.GetServices<ISessionDocuments>(), 200, progress, CancellationToken.None);
        Assert.Equal(before, await SnapshotAsync());
        Assert.Contains("4/4", progress.ToString());
    }
}
