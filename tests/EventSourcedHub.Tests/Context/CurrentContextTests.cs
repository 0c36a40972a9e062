using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Context;

public sealed class CurrentContextTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<string> KnownTopicAsync()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        return topic;
    }

    /// <summary>The `context` entries without the appended `content` entry.</summary>
    private static string EntriesOf(JsonObject context)
    {
        var entries = context["context"]!.AsArray().Where(e => (string?)e!["key"] != "content").Select(e => e!.DeepClone());
        return HubClient.Canonical(new JsonArray(entries.ToArray()));
    }

    [Fact]
    public async Task HUB_CTX_01_the_current_context_is_the_most_recent_open_not_closed_since()
    {
        var topic = await KnownTopicAsync();
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        var study = StudyOpen(topic, "s1", "p1");
        await _hub.PublishAsync(study);
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("ImagingStudy", (string?)context["context.type"]);
        Assert.Equal(HubClient.Canonical(ContextOf(study)), EntriesOf(context));
    }

    [Fact]
    public async Task HUB_CTX_04_closing_the_current_context_leaves_it_empty_with_no_fall_back()
    {
        var topic = await KnownTopicAsync();
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.PublishAsync(StudyOpen(topic, "s1", "p1"));
        await _hub.PublishAsync(Envelope(topic, "ImagingStudy-close", $$$"""[{"key":"study","resource":{{{StudyResource("s1")}}}}]"""));
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("""{"context.type":"","context":[]}""", HubClient.Canonical(context));
    }

    [Fact]
    public async Task HUB_CTX_04_closing_a_suspended_context_keeps_the_current_one()
    {
        var topic = await KnownTopicAsync();
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        var study = StudyOpen(topic, "s1", "p1");
        await _hub.PublishAsync(study);
        await _hub.PublishAsync(PatientClose(topic, "p1"));
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("ImagingStudy", (string?)context["context.type"]);
        Assert.Equal(HubClient.Canonical(ContextOf(study)), EntriesOf(context));
    }

    [Fact]
    public async Task HUB_CTX_05_closing_an_anchor_that_is_not_open_is_409_and_changes_nothing()
    {
        var topic = await KnownTopicAsync();
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        using var unknown = await _hub.PublishJsonAsync(PatientClose(topic, "p2"));
        await HubClient.AssertOperationOutcome(unknown, HttpStatusCode.Conflict, "conflict");
        await _hub.PublishAsync(PatientClose(topic, "p1"));
        using var twice = await _hub.PublishJsonAsync(PatientClose(topic, "p1"));
        await HubClient.AssertOperationOutcome(twice, HttpStatusCode.Conflict, "conflict");
    }

    [Fact]
    public async Task HUB_CTX_10_an_open_replaces_the_whole_context_of_its_anchor()
    {
        var topic = await KnownTopicAsync();
        await _hub.PublishAsync(Envelope(topic, "Patient-open",
            $$$"""[{"key":"patient","resource":{{{PatientResource("p1")}}}},{"key":"encounter","resource":{"resourceType":"Encounter","id":"e1"}}]"""));
        var reopen = PatientOpen(topic, "p1");
        await _hub.PublishAsync(reopen);
        var context = await _hub.GetContextAsync(topic);
        Assert.Equal(HubClient.Canonical(ContextOf(reopen)), EntriesOf(context));
    }

    [Fact]
    public async Task HUB_CTX_11_home_open_empties_the_current_context_without_closing_anything()
    {
        var topic = await KnownTopicAsync();
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.PublishAsync(HomeOpen(topic));
        Assert.Equal("""{"context.type":"","context":[]}""", HubClient.Canonical(await _hub.GetContextAsync(topic)));
        // p1 is still open: closing it is accepted, not 409.
        await _hub.PublishAsync(PatientClose(topic, "p1"));
    }

    [Fact]
    public async Task HUB_GCC_01_get_current_context_is_200_application_json()
    {
        var topic = await KnownTopicAsync();
        using var response = await _hub.GetContextRawAsync(topic);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task HUB_GCC_02_the_body_has_type_version_and_the_context_exactly_as_opened_plus_a_content_bundle()
    {
        var topic = NewTopic();
        await using var subscriber = await _hub.SubscribeAndConnectAsync(topic, "DiagnosticReport-open");
        var open = ReportOpen(topic, "r1");
        await _hub.PublishAsync(open);
        var versionId = (string?)(await subscriber.ReceiveAsync())["event"]!["context.versionId"];

        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("DiagnosticReport", (string?)context["context.type"]);
        Assert.Equal(versionId, (string?)context["context.versionId"]);
        Assert.Equal(HubClient.Canonical(ContextOf(open)), EntriesOf(context));
        var content = context["context"]!.AsArray().Last()!;
        Assert.Equal("content", (string?)content["key"]);
        Assert.Equal("Bundle", (string?)content["resource"]!["resourceType"]);
        Assert.Equal("collection", (string?)content["resource"]!["type"]);
    }

    [Fact]
    public async Task HUB_GCC_03_a_known_topic_with_nothing_open_answers_the_empty_shape()
    {
        var topic = await KnownTopicAsync();
        using var response = await _hub.GetContextRawAsync(topic);
        Assert.Equal("""{"context.type":"","context":[]}""", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task HUB_GCC_06_an_unknown_topic_is_404_operation_outcome()
    {
        using var response = await _hub.GetContextRawAsync(NewTopic());
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.NotFound, "not-found");
    }

    [Fact]
    public async Task HUB_GCC_07_the_session_wide_context_is_returned_whatever_the_callers_subscription()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        Assert.Equal("DiagnosticReport", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task IRA_HUB_09_a_session_and_its_context_stay_known_after_the_last_subscriber_leaves()
    {
        var topic = NewTopic();
        var endpoint = await _hub.SubscribeAsync(topic, "Patient-open");
        await _hub.PublishAsync(PatientOpen(topic, "p1"));
        await _hub.UnsubscribeAsync(topic, endpoint);
        Assert.Equal("Patient", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
        await _hub.PublishAsync(PatientClose(topic, "p1"));
    }
}
