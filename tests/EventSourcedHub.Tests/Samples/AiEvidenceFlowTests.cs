using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using AiEvidenceCreator;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Tests.Security;
using RadiologistApp;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Samples;

/// <summary>
/// The AI evidence flow of docs/integrations.md, end to end: the two sample apps (samples/AiEvidenceCreator,
/// samples/RadiologistApp), run through their entry code over real HTTP and WebSockets, each with its own token, against
/// a real hub with `Hub:Auth:Mode=Jwt`.
/// </summary>
public sealed class AiEvidenceFlowTests : IAsyncLifetime
{
    private readonly TokenIssuer _issuer = new();
    private TestHub _server = null!;

    public async Task InitializeAsync() => _server = await TestHub.StartAsync(_issuer.HubSettings());

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _issuer.Dispose();
    }

    private HubClient ClientWith(string token)
    {
        var client = new HubClient(_server.BaseAddress);
        client.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static async Task<JsonNode> GetJsonAsync(HubClient client, string path)
    {
        using var response = await client.Http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!;
    }

    private static JsonObject[] UpdatedResources(JsonNode notification, string resourceType) =>
        notification["event"]!["context"]!.AsArray().Single(e => (string?)e!["key"] == "updates")!["resource"]!["entry"]!.AsArray()
            .Select(e => e!["resource"]!.AsObject()).Where(r => (string?)r["resourceType"] == resourceType).ToArray();

    [Fact]
    public async Task IRA_HUB_01_the_ai_finding_goes_from_preliminary_to_final_with_the_selection_between_and_provenance_per_version()
    {
        var topic = NewTopic();
        using var reporting = ClientWith(_issuer.Token("fhircast/*.*", client: "reporting-app"));
        await using var report = await reporting.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select", "Reporting app");
        var hubUrl = new Uri(_server.BaseAddress, HubClient.HubPath).AbsoluteUri;
        string[] Args(string client) => ["--hub", hubUrl, "--topic", topic, "--timeout", "30",
            "--token", _issuer.Token("fhircast/DiagnosticReport-open.read fhircast/DiagnosticReport-update.* fhircast/DiagnosticReport-select.*", client: client)];
        var aiLog = new StringWriter();
        var radiologistLog = new StringWriter();
        var ai = AiEvidenceCreatorApp.RunAsync(Args("ai-evidence-creator"), aiLog, CancellationToken.None);
        var radiologist = RadiologistReviewApp.RunAsync(Args("radiologist-app"), radiologistLog, CancellationToken.None);

        await reporting.PublishAsync(ReportOpen(topic, "rep-1", "pat-1", "stu-1"));

        Assert.True(0 == await ai.WaitAsync(TimeSpan.FromSeconds(45)), aiLog.ToString());
        Assert.True(0 == await radiologist.WaitAsync(TimeSpan.FromSeconds(45)), radiologistLog.ToString());

        // The session's history: the preliminary finding, its selection, the final finding, in that order.
        using var auditor = ClientWith(_issuer.Token("fhircast/*.read user/AuditEvent.read user/Provenance.read", client: "auditor"));
        var history = (await GetJsonAsync(auditor, $"/api/sessions/{topic}/events?events=DiagnosticReport-update,DiagnosticReport-select")).AsArray()
            .Select(e => e!["notification"]!).ToArray();
        Assert.Equal(["DiagnosticReport-update", "DiagnosticReport-select", "DiagnosticReport-update"], history.Select(n => (string?)n["event"]!["hub.event"]));
        var preliminary = Assert.Single(UpdatedResources(history[0], "Observation"));
        var selection = Assert.Single(UpdatedResources(history[0], "ImagingSelection"));
        var findingId = (string)preliminary["id"]!;
        Assert.Equal("preliminary", (string?)preliminary["status"]);
        Assert.Equal("59776-5", (string?)preliminary["code"]!["coding"]![0]!["code"]);
        Assert.Equal(["ImagingStudy/stu-1", $"ImagingSelection/{(string?)selection["id"]}"], preliminary["derivedFrom"]!.AsArray().Select(r => (string?)r!["reference"]));
        Assert.Contains("confidence", (string?)preliminary["note"]![0]!["text"]);
        Assert.Equal($"Observation/{findingId}", (string?)history[1]["event"]!["context"]!.AsArray().Single(e => (string?)e!["key"] == "select")!["reference"]!["reference"]);
        var final = Assert.Single(UpdatedResources(history[2], "Observation"));
        Assert.Equal((findingId, "final"), ((string?)final["id"], (string?)final["status"]));
        // Each update named the version it was made from: the open's, then the one after the AI's update.
        Assert.Equal((string?)history[0]["event"]!["context.versionId"], (string?)history[2]["event"]!["context.priorVersionId"]);

        // The reporting app saw the same, live.
        Assert.Equal("DiagnosticReport-open", (string?)(await report.ReceiveAndAckAsync())["event"]!["hub.event"]);
        Assert.Equal("DiagnosticReport-update", (string?)(await report.ReceiveAndAckAsync())["event"]!["hub.event"]);
        Assert.Equal("DiagnosticReport-select", (string?)(await report.ReceiveAndAckAsync())["event"]!["hub.event"]);
        Assert.Equal("final", (string?)UpdatedResources(await report.ReceiveAndAckAsync(), "Observation").Single()["status"]);

        // Provenance, one per version, each naming the update that produced it.
        JsonObject[] provenance = [];
        for (var wait = 0; wait < 100 && provenance.Length < 2; wait++)
        {
            if (wait > 0) await Task.Delay(100);
            provenance = ((await GetJsonAsync(auditor, $"/fhir/Provenance?target=Observation/{findingId}&_sort=recorded"))["entry"]?.AsArray() ?? [])
                .Select(e => e!["resource"]!.AsObject()).ToArray();
        }
        Assert.Equal([$"Observation/{findingId}/_history/1", $"Observation/{findingId}/_history/2"], provenance.Select(p => (string?)p["target"]![0]!["reference"]));
        Assert.Equal(["CREATE", "UPDATE"], provenance.Select(p => (string?)p["activity"]!["coding"]![0]!["code"]));
        Assert.Equal([(string?)history[0]["id"], (string?)history[2]["id"]], provenance.Select(p => (string?)p["entity"]![0]!["what"]!["identifier"]!["value"]));
        // Which app produced each version: the client of the token each app used (rulings.md 33).
        Assert.Equal(["ai-evidence-creator", "radiologist-app"], provenance.Select(p => (string?)p["agent"]![0]!["who"]!["display"]));

        // The AuditEvents say the same of the updates and the select, and name each app's subscription.
        var timeline = (await GetJsonAsync(auditor, $"/api/sessions/{topic}/timeline"))["events"]!.AsArray().Select(e => e!.AsObject()).ToArray();
        var notifications = timeline.Where(e => (string?)e["event"] is "DiagnosticReport-open" or "DiagnosticReport-update" or "DiagnosticReport-select")
            .Select(e => ((string?)e["event"], (string?)e["id"], (string?)e["agent"]));
        Assert.Equal([("DiagnosticReport-update", (string?)history[0]["id"], "ai-evidence-creator"), ("DiagnosticReport-select", (string?)history[1]["id"], "radiologist-app"),
            ("DiagnosticReport-update", (string?)history[2]["id"], "radiologist-app")], notifications.Where(n => n.Item1 != "DiagnosticReport-open"));
        Assert.Equal("reporting-app", notifications.Single(n => n.Item1 == "DiagnosticReport-open").Item3);
        var subscriptions = timeline.Where(e => (string?)e["type"] == "subscribed").Select(e => (string?)e["agent"]).Order(StringComparer.Ordinal);
        Assert.Equal(["ai-evidence-creator", "radiologist-app", "reporting-app"], subscriptions);
    }
}
