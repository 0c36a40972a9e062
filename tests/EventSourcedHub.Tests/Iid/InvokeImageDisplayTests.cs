using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Tests.Security;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Iid;

/// <summary>A hub whose IID requests without a topic go to a configured one.</summary>
public sealed class DefaultTopicHubFixture() : HubFixture(new Dictionary<string, string?> { ["Hub:Iid:DefaultTopic"] = InvokeImageDisplayTests.DefaultTopic });

/// <summary>`GET /IHEInvokeImageDisplay` (rulings.md 37) against a real hub, with viewers subscribed over real WebSockets.</summary>
public sealed class InvokeImageDisplayTests(DefaultTopicHubFixture fixture) : IClassFixture<DefaultTopicHubFixture>
{
    public const string DefaultTopic = "iid-default-session";
    private const string StudyUid = "1.2.840.113619.2.55.3.604688119.969.1268071029.320";
    private const string SecondStudyUid = "1.2.840.113619.2.55.3.604688119.969.1268071029.321";
    private const string PatientCx = "12345^^^&1.2.840.113619.6.197&ISO";

    private readonly HubClient _hub = fixture.Client;

    private Task<HttpResponseMessage> InvokeAsync(string query) => _hub.Http.GetAsync("/IHEInvokeImageDisplay?" + query);

    private static string Q(string value) => Uri.EscapeDataString(value);

    private static JsonObject Identifier(JsonNode resource, string typeCode) =>
        resource["identifier"]!.AsArray().Single(i => (string?)i!["type"]!["coding"]![0]!["code"] == typeCode)!.AsObject();

    private static JsonNode Entry(JsonObject notification, string key) =>
        notification["event"]!["context"]!.AsArray().Single(e => (string?)e!["key"] == key)!["resource"]!;

    [Fact]
    public async Task Rulings_37_a_study_url_opens_the_study_with_its_accession_and_patient_in_a_subscribed_viewer()
    {
        var topic = NewTopic();
        await using var viewer = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open", "Viewer");

        using var response = await InvokeAsync($"requestType=STUDY&studyUID={StudyUid}&accessionNumber=A12345&patientID={Q(PatientCx)}&topic={topic}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains(StudyUid, page);
        Assert.Contains("A12345", page);

        var open = await viewer.ReceiveAndAckAsync();
        Assert.Equal("ImagingStudy-open", (string?)open["event"]!["hub.event"]);
        Assert.Equal(topic, (string?)open["event"]!["hub.topic"]);
        Assert.False(string.IsNullOrEmpty((string?)open["event"]!["context.versionId"]));
        var study = Entry(open, "study");
        Assert.Equal("ImagingStudy", (string?)study["resourceType"]);
        var uid = Identifier(study, "110180");
        Assert.Equal("urn:dicom:uid", (string?)uid["system"]);
        Assert.Equal($"urn:oid:{StudyUid}", (string?)uid["value"]);
        Assert.Equal("A12345", (string?)Identifier(study, "ACSN")["value"]);
        var patient = Entry(open, "patient");
        Assert.Equal("Patient", (string?)patient["resourceType"]);
        var mrn = Identifier(patient, "MR");
        Assert.Equal("12345", (string?)mrn["value"]);
        Assert.Equal("urn:oid:1.2.840.113619.6.197", (string?)mrn["system"]);
        Assert.Equal($"Patient/{(string?)patient["id"]}", (string?)study["subject"]!["reference"]);

        var context = await _hub.GetContextAsync(topic);
        Assert.Equal("ImagingStudy", (string?)context["context.type"]);
        Assert.Contains((string)open["id"]!, page);
    }

    [Fact]
    public async Task Rulings_37_several_study_uids_open_one_study_each_in_order_and_the_last_is_current()
    {
        var topic = NewTopic();
        await using var viewer = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open", "Viewer");

        using var response = await InvokeAsync($"requestType=STUDY&studyUID={StudyUid},{SecondStudyUid}&accessionNumber=A1,A2&topic={topic}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var first = await viewer.ReceiveAndAckAsync();
        var second = await viewer.ReceiveAndAckAsync();
        Assert.Equal($"urn:oid:{StudyUid}", (string?)Identifier(Entry(first, "study"), "110180")["value"]);
        Assert.Equal("A1", (string?)Identifier(Entry(first, "study"), "ACSN")["value"]);
        Assert.Equal($"urn:oid:{SecondStudyUid}", (string?)Identifier(Entry(second, "study"), "110180")["value"]);
        Assert.Equal("A2", (string?)Identifier(Entry(second, "study"), "ACSN")["value"]);
        // No patient in the URL: no patient entry.
        Assert.DoesNotContain(first["event"]!["context"]!.AsArray(), e => (string?)e!["key"] == "patient");

        var context = await _hub.GetContextAsync(topic);
        Assert.Equal($"urn:oid:{SecondStudyUid}", (string?)Identifier(context["context"]![0]!["resource"]!, "110180")["value"]);
    }

    [Fact]
    public async Task Rulings_37_a_patient_url_opens_the_patient()
    {
        var topic = NewTopic();
        await using var viewer = await _hub.SubscribeAndConnectAsync(topic, "Patient-open", "Viewer");

        using var response = await InvokeAsync($"requestType=PATIENT&patientID={Q(PatientCx)}&topic={topic}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var open = await viewer.ReceiveAndAckAsync();
        Assert.Equal("Patient-open", (string?)open["event"]!["hub.event"]);
        var mrn = Identifier(Entry(open, "patient"), "MR");
        Assert.Equal("12345", (string?)mrn["value"]);
        Assert.Equal("urn:oid:1.2.840.113619.6.197", (string?)mrn["system"]);
    }

    [Fact]
    public async Task Rulings_37_without_a_topic_the_configured_default_topic_is_used()
    {
        await _hub.SubscribeAsync(DefaultTopic, "ImagingStudy-open", "Viewer");

        using var response = await InvokeAsync($"requestType=STUDY&studyUID={StudyUid}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(DefaultTopic, await response.Content.ReadAsStringAsync());
        var context = await _hub.GetContextAsync(DefaultTopic);
        Assert.Equal($"urn:oid:{StudyUid}", (string?)Identifier(context["context"]![0]!["resource"]!, "110180")["value"]);
    }

    [Fact]
    public async Task Rulings_37_the_page_escapes_what_the_url_says()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "ImagingStudy-open", "Viewer");

        using var response = await InvokeAsync($"requestType=STUDY&studyUID={StudyUid}&accessionNumber={Q("<script>alert(1)</script>")}&viewerType={Q("\"><b>x")}&topic={topic}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var page = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", page);
        Assert.DoesNotContain("<b>x", page);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", page);
    }

    public static TheoryData<string, string> BadRequests() => new()
    {
        { "studyUID=1.2.3&topic={topic}", "`requestType` is required: STUDY or PATIENT." },
        { "requestType=SERIES&studyUID=1.2.3&topic={topic}", "`requestType` 'SERIES' is not supported: use STUDY or PATIENT." },
        { "requestType=STUDY&topic={topic}", "`studyUID` is required with requestType=STUDY: one Study Instance UID, or several comma-separated." },
        { "requestType=STUDY&studyUID=&topic={topic}", "`studyUID` is required with requestType=STUDY: one Study Instance UID, or several comma-separated." },
        { "requestType=PATIENT&topic={topic}", "`patientID` is required with requestType=PATIENT, e.g. patientID=12345^^^&1.2.840.113619.6.197&ISO." },
        { "requestType=STUDY&studyUID=1.2.abc&topic={topic}", "`studyUID` '1.2.abc' is not a DICOM UID: only digits and dots are allowed." },
        { "requestType=STUDY&studyUID=1.02.3&topic={topic}", "`studyUID` '1.02.3' is not a DICOM UID: the component '02' has a leading zero." },
        { "requestType=STUDY&studyUID=1..3&topic={topic}", "`studyUID` '1..3' is not a DICOM UID: it has an empty component (two dots in a row, or a dot at either end)." },
        { $"requestType=STUDY&studyUID=1.{new string('2', 63)}&topic={{topic}}", $"`studyUID` '1.{new string('2', 63)}' is not a DICOM UID: it has 65 characters, at most 64 are allowed." },
        { $"requestType=STUDY&studyUID={StudyUid},1.2.x&topic={{topic}}", "`studyUID` '1.2.x' is not a DICOM UID: only digits and dots are allowed." },
        { $"requestType=STUDY&studyUID={StudyUid},{SecondStudyUid}&accessionNumber=A1&topic={{topic}}",
            "`accessionNumber` gives 1 accession number(s) for 2 study UID(s); give one per study, in the same order, or none." },
        { "requestType=STUDY&studyUID=1.2.3&keyImagesOnly=yes&topic={topic}", "`keyImagesOnly` 'yes' must be true or false." },
        { "requestType=STUDY&studyUID=1.2.3&topic=iid-never-subscribed",
            "Topic 'iid-never-subscribed' is not known to this hub: no viewer has subscribed to it. Subscribe the image display to the topic first; an IID request does not create topics." },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Rulings_37_a_bad_request_is_400_with_a_plain_message_and_opens_nothing(string query, string message)
    {
        var topic = NewTopic();
        await using var viewer = await _hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open,Patient-open", "Viewer");

        using var response = await InvokeAsync(query.Replace("{topic}", topic));

        Assert.Equal(message, await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest));
        await viewer.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal("", (string?)(await _hub.GetContextAsync(topic))["context.type"]);
    }

    [Fact]
    public async Task Rulings_37_an_unknown_topic_stays_unknown_after_a_refused_request()
    {
        var topic = NewTopic();
        using var response = await InvokeAsync($"requestType=STUDY&studyUID={StudyUid}&topic={topic}");
        await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest);
        using var context = await _hub.GetContextRawAsync(topic);
        Assert.Equal(HttpStatusCode.NotFound, context.StatusCode);
    }
}

/// <summary>The IID bridge under `Hub:Auth:Mode=Jwt`: the caller needs the write scope of the open it publishes.</summary>
public sealed class InvokeImageDisplayAuthorizationTests : JwtHubTests
{
    private const string StudyUid = "1.2.840.113619.2.55.3.604688119.969.1268071029.320";

    private async Task<(string Topic, TestSubscriber Viewer)> ViewerAsync()
    {
        var topic = NewTopic();
        Use(Issuer.Token("fhircast/*.read", client: "viewer"));
        var viewer = await Hub.SubscribeAndConnectAsync(topic, "ImagingStudy-open", "Viewer");
        return (topic, viewer);
    }

    [Fact]
    public async Task HUB_AUTH_03_an_iid_request_with_the_imaging_study_open_write_scope_opens_the_study()
    {
        var (topic, viewer) = await ViewerAsync();
        await using var _ = viewer;
        Use(Issuer.Token("fhircast/ImagingStudy-open.write", client: "ehr"));

        using var response = await Hub.Http.GetAsync($"/IHEInvokeImageDisplay?requestType=STUDY&studyUID={StudyUid}&topic={topic}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var open = await viewer.ReceiveAndAckAsync();
        Assert.Equal("ImagingStudy-open", (string?)open["event"]!["hub.event"]);

        // The audit names the caller: the token's client (rulings.md 33).
        Use(Issuer.Token("user/AuditEvent.read", client: "auditor"));
        using var timeline = await Hub.Http.GetAsync($"/api/sessions/{topic}/timeline");
        var opened = JsonNode.Parse(await timeline.Content.ReadAsStringAsync())!["events"]!.AsArray()
            .Single(e => (string?)e!["id"] == (string?)open["id"])!;
        Assert.Equal(("ImagingStudy-open", "ehr"), ((string?)opened["event"], (string?)opened["agent"]));
    }

    [Fact]
    public async Task HUB_AUTH_03_an_iid_request_without_the_write_scope_is_403_and_opens_nothing()
    {
        var (topic, viewer) = await ViewerAsync();
        await using var _ = viewer;
        Use(Issuer.Token("fhircast/Patient-open.write fhircast/*.read", client: "ehr"));

        using var response = await Hub.Http.GetAsync($"/IHEInvokeImageDisplay?requestType=STUDY&studyUID={StudyUid}&topic={topic}");

        var outcome = await HubClient.AssertOperationOutcome(response, HttpStatusCode.Forbidden, "forbidden");
        Assert.Contains("fhircast/ImagingStudy-open.write", (string?)outcome["issue"]![0]!["diagnostics"]);
        await viewer.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task HUB_AUTH_03_an_iid_request_without_a_token_is_401()
    {
        var (topic, viewer) = await ViewerAsync();
        await using var _ = viewer;
        Use(null);

        using var response = await Hub.Http.GetAsync($"/IHEInvokeImageDisplay?requestType=STUDY&studyUID={StudyUid}&topic={topic}");

        await HubClient.AssertOperationOutcome(response, HttpStatusCode.Unauthorized, "login");
        await viewer.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task Rulings_37_without_topic_the_topic_bound_token_names_the_session()
    {
        var (topic, viewer) = await ViewerAsync();
        await using var _ = viewer;
        Use(Issuer.Token("fhircast/ImagingStudy-open.write", topic: topic, client: "ehr"));

        using var response = await Hub.Http.GetAsync($"/IHEInvokeImageDisplay?requestType=STUDY&studyUID={StudyUid}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(topic, (string?)(await viewer.ReceiveAndAckAsync())["event"]!["hub.topic"]);
    }

    [Fact]
    public async Task Rulings_37_without_topic_token_binding_or_default_the_request_is_400()
    {
        Use(Issuer.Token("fhircast/ImagingStudy-open.write", client: "ehr"));

        using var response = await Hub.Http.GetAsync($"/IHEInvokeImageDisplay?requestType=STUDY&studyUID={StudyUid}");

        Assert.Equal("No topic: give `topic` in the URL, use a token bound to a topic (`hub.topic` claim), or configure Hub:Iid:DefaultTopic.",
            await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest));
    }
}
