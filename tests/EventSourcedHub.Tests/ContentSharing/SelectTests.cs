using System.Net;
using EventSourcedHub.Domain;
using EventSourcedHub.Tests.Infrastructure;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.ContentSharing;

public sealed class SelectTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    /// <summary>Report r1 open with Observation/o1 in its content, and a subscriber of selects connected.</summary>
    private async Task<(string Topic, string Version, TestSubscriber Subscriber)> ReportWithContentAsync()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        var opened = (string)(await _hub.GetContextAsync(topic))["context.versionId"]!;
        await _hub.PublishAsync(ReportUpdate(topic, "r1", opened, [Put(ObservationResource("o1"), "Observation/o1")]));
        var version = (string)(await _hub.GetContextAsync(topic))["context.versionId"]!;
        var subscriber = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-select");
        return (topic, version, subscriber);
    }

    private async Task<string[]> SelectionOf(string topic)
    {
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return (await EventSourcedHub.Storage.TopicDocuments.LoadAsync(query, topic, CancellationToken.None))!.FindAnchor("DiagnosticReport", "r1")!.Selection;
    }

    [Fact]
    public async Task HUB_SEL_01_a_select_with_one_key_per_reference_is_forwarded_as_received()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        var request = ReportSelect(topic, "r1", "Observation/o1", "ImagingStudy/stu-1");
        using var response = await _hub.PublishJsonAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var select = await subscriber.ReceiveAsync();
        Assert.Equal(HubClient.Canonical(ContextOf(request)), HubClient.Canonical(select["event"]!["context"]));
    }

    [Fact]
    public async Task HUB_SEL_02_a_select_without_select_entries_or_without_the_report_is_400()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        using var noSelect = await _hub.PublishJsonAsync(ReportSelect(topic, "r1"));
        await HubClient.AssertOperationOutcome(noSelect, HttpStatusCode.BadRequest, "invalid");
        using var noReport = await _hub.PublishJsonAsync(ReportSelect(topic, "r1", "Observation/o1").Replace("\"key\":\"report\"", "\"key\":\"rapport\""));
        await HubClient.AssertOperationOutcome(noReport, HttpStatusCode.BadRequest, "invalid");
    }

    [Fact]
    public async Task HUB_SEL_02_an_empty_select_array_clears_the_selection()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        await _hub.PublishAsync(ReportSelect(topic, "r1", "Observation/o1"));
        Assert.Equal(["Observation/o1"], await SelectionOf(topic));
        var clear = Envelope(topic, "DiagnosticReport-select",
            """[{"key":"report","reference":{"reference":"DiagnosticReport/r1"}},{"key":"select","reference":[]}]""");
        await _hub.PublishAsync(clear);
        Assert.Empty(await SelectionOf(topic));
        await subscriber.ReceiveAsync();
        Assert.Equal("[]", HubClient.Canonical((await subscriber.ReceiveAsync())["event"]!["context"]![1]!["reference"]));
    }

    [Fact]
    public async Task HUB_SEL_03_unknown_references_are_left_out_and_answered_206()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        using var response = await _hub.PublishJsonAsync(ReportSelect(topic, "r1", "Observation/o1", "Observation/nobody-knows"));
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        var select = await subscriber.ReceiveAsync();
        var selected = select["event"]!["context"]!.AsArray().Where(e => (string?)e!["key"] == "select").Select(e => (string?)e!["reference"]!["reference"]);
        Assert.Equal(["Observation/o1"], selected);
        Assert.Equal(["Observation/o1"], await SelectionOf(topic));
    }

    [Fact]
    public async Task HUB_SEL_03_when_every_reference_is_unknown_nothing_is_distributed_and_the_answer_is_206_even_on_retry()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        var request = ReportSelect(topic, "r1", "Observation/ghost");
        using var first = await _hub.PublishJsonAsync(request);
        using var retry = await _hub.PublishJsonAsync(request);
        Assert.Equal(HttpStatusCode.PartialContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.PartialContent, retry.StatusCode);
        await subscriber.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_SEL_03_a_resource_the_open_context_names_only_by_reference_is_known()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1").Replace(
            "{\"key\":\"study\"", "{\"key\":\"encounter\",\"reference\":{\"reference\":\"Encounter/enc-1\"}},{\"key\":\"study\""));
        using var response = await _hub.PublishJsonAsync(ReportSelect(topic, "r1", "Encounter/enc-1"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task HUB_SEL_04_a_new_select_replaces_the_previous_selection()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        await _hub.PublishAsync(ReportSelect(topic, "r1", "Observation/o1", "ImagingStudy/stu-1"));
        await _hub.PublishAsync(ReportSelect(topic, "r1", "Patient/pat-1"));
        Assert.Equal(["Patient/pat-1"], await SelectionOf(topic));
    }

    [Fact]
    public async Task HUB_SEL_05_a_select_for_an_open_report_that_is_not_current_is_accepted()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        await _hub.PublishAsync(ReportOpen(topic, "r2"));
        await _hub.PublishAsync(ReportSelect(topic, "r1", "Observation/o1"));
        Assert.Equal(["Observation/o1"], await SelectionOf(topic));
    }

    [Fact]
    public async Task HUB_SEL_06_a_select_carries_the_current_version_and_does_not_move_it()
    {
        var (topic, version, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        await _hub.PublishAsync(ReportSelect(topic, "r1", "Observation/o1"));
        var select = await subscriber.ReceiveAsync();
        Assert.Equal(version, (string?)select["event"]!["context.versionId"]);
        Assert.Null(select["event"]!["context.priorVersionId"]);
        Assert.Equal(version, (string?)(await _hub.GetContextAsync(topic))["context.versionId"]);
    }

    [Fact]
    public async Task HUB_SEL_06_with_BumpVersionOnSelect_a_select_moves_the_version()
    {
        await using var hub = await TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:BumpVersionOnSelect"] = "true" });
        var topic = NewTopic();
        await using var subscriber = await hub.Client.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-select");
        await hub.Client.PublishAsync(ReportOpen(topic, "r1"));
        var version = (string?)(await subscriber.ReceiveAsync())["event"]!["context.versionId"];
        await hub.Client.PublishAsync(ReportSelect(topic, "r1", "Patient/pat-1"));
        var select = await subscriber.ReceiveAsync();
        Assert.Equal(version, (string?)select["event"]!["context.priorVersionId"]);
        Assert.NotEqual(version, (string?)select["event"]!["context.versionId"]);
    }

    [Fact]
    public async Task HUB_SEL_07_the_ira_example_form_with_a_resource_array_is_accepted_and_forwarded_unchanged()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        var request = Envelope(topic, "DiagnosticReport-select",
            """[{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"r1"}},{"key":"select","resource":[{"resourceType":"Observation","id":"o1"},{"resourceType":"ImagingStudy","id":"stu-1"}]}]""");
        await _hub.PublishAsync(request);
        Assert.Equal(HubClient.Canonical(ContextOf(request)), HubClient.Canonical((await subscriber.ReceiveAsync())["event"]!["context"]));
        Assert.Equal(["Observation/o1", "ImagingStudy/stu-1"], await SelectionOf(topic));
    }

    [Fact]
    public async Task HUB_CTX_05_a_select_for_a_report_that_is_not_open_is_409()
    {
        var (topic, _, subscriber) = await ReportWithContentAsync();
        await using var _ = subscriber;
        using var response = await _hub.PublishJsonAsync(ReportSelect(topic, "r9", "Observation/o1"));
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.Conflict, "conflict");
    }
}
