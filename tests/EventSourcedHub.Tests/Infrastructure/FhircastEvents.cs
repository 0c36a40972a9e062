using System.Text.Json.Nodes;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>Event request bodies as FHIRcast apps send them (shapes from fhircast-requirements.md section 3).</summary>
public static class FhircastEvents
{
    public static string NewTopic() => "topic-" + Guid.NewGuid().ToString("N");

    public static string Envelope(string topic, string eventName, string contextArray, string? id = null, string timestamp = "2025-03-01T14:58:45.988Z") =>
        $$$"""{"timestamp":"{{{timestamp}}}","id":"{{{id ?? Guid.NewGuid().ToString()}}}","event":{"hub.topic":"{{{topic}}}","hub.event":"{{{eventName}}}","context":{{{contextArray}}}}}""";

    public static string PatientResource(string id) =>
        $$$"""{"resourceType":"Patient","id":"{{{id}}}","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:oid:1.2.840.114350","value":"{{{id}}}"}]}""";

    public static string StudyResource(string id) =>
        $$$"""{"resourceType":"ImagingStudy","id":"{{{id}}}","status":"available","subject":{"reference":"Patient/p"},"identifier":[{"system":"urn:dicom:uid","value":"urn:oid:2.16.124.{{{id.Length}}}"}]}""";

    public static string ReportResource(string id) =>
        $$$"""{"resourceType":"DiagnosticReport","id":"{{{id}}}","status":"unknown","code":{"coding":[{"system":"http://loinc.org","code":"19005-8"}]}}""";

    public static string PatientOpen(string topic, string patientId, string? id = null) =>
        Envelope(topic, "Patient-open", $$$"""[{"key":"patient","resource":{{{PatientResource(patientId)}}}}]""", id);

    public static string PatientClose(string topic, string patientId, string? id = null) =>
        Envelope(topic, "Patient-close", $$$"""[{"key":"patient","resource":{{{PatientResource(patientId)}}}}]""", id);

    public static string StudyOpen(string topic, string studyId, string patientId, string? id = null) =>
        Envelope(topic, "ImagingStudy-open", $$$"""[{"key":"study","resource":{{{StudyResource(studyId)}}}},{"key":"patient","resource":{{{PatientResource(patientId)}}}}]""", id);

    public static string ReportOpen(string topic, string reportId, string patientId = "pat-1", string studyId = "stu-1", string? id = null) =>
        Envelope(topic, "DiagnosticReport-open",
            $$$"""[{"key":"report","resource":{{{ReportResource(reportId)}}}},{"key":"patient","resource":{{{PatientResource(patientId)}}}},{"key":"study","resource":{{{StudyResource(studyId)}}}}]""", id);

    public static string ReportClose(string topic, string reportId, string? id = null) =>
        Envelope(topic, "DiagnosticReport-close", $$$"""[{"key":"report","resource":{{{ReportResource(reportId)}}}}]""", id);

    public static string HomeOpen(string topic, string? id = null) => Envelope(topic, "Home-open", "[]", id);

    public static string Custom(string topic, string eventName, string? id = null) =>
        Envelope(topic, eventName, """[{"key":"extension","data":{"answer":42}}]""", id);

    public static string Put(string resourceJson, string url) => $$$"""{"request":{"method":"PUT","url":"{{{url}}}"},"resource":{{{resourceJson}}}}""";

    public static string Delete(string url) => $$$"""{"fullUrl":"{{{url}}}","request":{"method":"DELETE","url":"{{{url}}}"}}""";

    public static string ObservationResource(string id, string status = "preliminary") =>
        $$$"""{"resourceType":"Observation","id":"{{{id}}}","status":"{{{status}}}","code":{"coding":[{"system":"http://www.radlex.org","code":"RID49690"}]},"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":1.20,"unit":"cm"}}""";

    /// <summary>An R5 ImagingSelection: the hub must keep it as JSON, untouched.</summary>
    public static string ImagingSelectionResource(string id) =>
        $$$"""{"resourceType":"ImagingSelection","id":"{{{id}}}","status":"available","subject":{"reference":"Patient/pat-1"},"studyUid":"2.16.124.113543.1","instance":[{"uid":"2.16.124.113543.1.1.1","imageRegion2D":[{"regionType":"polyline","coordinate":[0.25,0.25,0.75,0.25,0.75,0.75]}]}]}""";

    public static string ReportUpdate(string topic, string reportId, string? versionId, string[] entries, string? id = null, string bundleId = "bundle-1",
        bool anchorAsResource = false)
    {
        var anchor = anchorAsResource
            ? $$$"""{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"{{{reportId}}}"}}"""
            : $$$"""{"key":"report","reference":{"reference":"DiagnosticReport/{{{reportId}}}"}}""";
        var bundle = $$$"""{"key":"updates","resource":{"resourceType":"Bundle","id":"{{{bundleId}}}","type":"transaction","entry":[{{{string.Join(",", entries)}}}]}}""";
        const string patient = """{"key":"patient","reference":{"reference":"Patient/pat-1"}}""";
        var envelope = Envelope(topic, "DiagnosticReport-update", $"[{anchor},{patient},{bundle}]", id);
        return versionId is null
            ? envelope
            : envelope.Replace("\"hub.event\":\"DiagnosticReport-update\"", $"\"hub.event\":\"DiagnosticReport-update\",\"context.versionId\":\"{versionId}\"");
    }

    public static string ReportSelect(string topic, string reportId, params string[] references)
    {
        var selects = references.Select(r => $$$"""{"key":"select","reference":{"reference":"{{{r}}}"}}""");
        var report = $$$"""{"key":"report","reference":{"reference":"DiagnosticReport/{{{reportId}}}"}}""";
        const string patient = """{"key":"patient","reference":{"reference":"Patient/pat-1"}}""";
        return Envelope(topic, "DiagnosticReport-select", $"[{string.Join(",", selects.Prepend(patient).Prepend(report))}]");
    }

    /// <summary>The same request with another event `id`.</summary>
    public static string WithId(string requestJson, string id)
    {
        var request = JsonNode.Parse(requestJson)!.AsObject();
        request["id"] = id;
        return request.ToJsonString();
    }

    /// <summary>The `context` array of a request body, for comparing with what the hub returns.</summary>
    public static JsonArray ContextOf(string requestJson) => JsonNode.Parse(requestJson)!["event"]!["context"]!.AsArray();
}

/// <summary>One hub (and one fresh database) shared by the tests of a class; each test uses its own topics.</summary>
public class HubFixture : IAsyncLifetime
{
    private readonly IDictionary<string, string?>? _settings;

    public HubFixture()
    {
    }

    /// <summary>For fixtures of hubs with settings of their own (xUnit needs one public constructor per fixture).</summary>
    protected HubFixture(IDictionary<string, string?> settings) => _settings = settings;

    public TestHub Hub { get; private set; } = null!;
    public HubClient Client => Hub.Client;

    public async Task InitializeAsync() => Hub = await TestHub.StartAsync(_settings);

    public async Task DisposeAsync() => await Hub.DisposeAsync();
}
