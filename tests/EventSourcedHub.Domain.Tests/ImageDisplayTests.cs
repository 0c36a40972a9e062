using System.Text.Json.Nodes;
using static EventSourcedHub.Domain.Tests.TestData;

namespace EventSourcedHub.Domain.Tests;

/// <summary>The IID bridge's rules (rulings.md 37): reading the request, DICOM UIDs, and the opens it decides.</summary>
public sealed class ImageDisplayTests
{
    private const string Uid1 = "1.2.840.10008.1.1";
    private const string Uid2 = "1.2.840.10008.1.2";

    private static Dictionary<string, string[]> Query(params (string Name, string Value)[] parameters) =>
        parameters.GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.Select(p => p.Value).ToArray());

    private static TopicSession Session() => TopicSession.Start(Topic);

    [Theory]
    [InlineData("1.2.840.10008.1.1")]
    [InlineData("0")]
    [InlineData("1.0.2")]
    [InlineData("2.25.329800735698586629295641978511506172918")]
    public void A_dicom_uid_of_digits_and_dots_without_leading_zeros_is_valid(string uid) => Assert.Null(DicomUid.Problem(uid));

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData("1.2.a", "only digits and dots are allowed")]
    [InlineData("1.2 .3", "only digits and dots are allowed")]
    [InlineData("1.02", "the component '02' has a leading zero")]
    [InlineData(".1.2", "it has an empty component (two dots in a row, or a dot at either end)")]
    [InlineData("1.2.", "it has an empty component (two dots in a row, or a dot at either end)")]
    public void A_dicom_uid_that_breaks_a_rule_says_which(string uid, string problem) => Assert.Equal(problem, DicomUid.Problem(uid));

    [Fact]
    public void A_dicom_uid_has_at_most_64_characters()
    {
        Assert.Null(DicomUid.Problem("1." + new string('2', 62)));
        Assert.Equal("it has 65 characters, at most 64 are allowed", DicomUid.Problem("1." + new string('2', 63)));
    }

    [Fact]
    public void A_cx_patient_id_gives_its_value_and_its_iso_authority_as_the_system()
    {
        var patient = PatientIdentifier.Parse("12345^^^&1.2.3.4&ISO");
        Assert.Equal(("12345", "urn:oid:1.2.3.4", "12345"), (patient.Value, patient.System, patient.ResourceId));
        var bare = PatientIdentifier.Parse("MRN-9");
        Assert.Equal(("MRN-9", null), (bare.Value, bare.System));
    }

    [Fact]
    public void A_patient_value_that_is_no_fhir_id_gets_a_stable_digest_id()
    {
        var patient = PatientIdentifier.Parse("12 345^^^&1.2.3.4&ISO");
        Assert.StartsWith("iid-", patient.ResourceId);
        Assert.Equal(patient.ResourceId, PatientIdentifier.Parse("12 345^^^&1.2.3.4&ISO").ResourceId);
        Assert.NotEqual(patient.ResourceId, PatientIdentifier.Parse("12 345^^^&1.2.3.5&ISO").ResourceId);
    }

    [Fact]
    public void A_study_request_pairs_study_uids_with_accession_numbers_in_order()
    {
        var request = ImageDisplayRequest.Parse(Query(("requestType", "STUDY"), ("studyUID", $"{Uid1}, {Uid2}"), ("accessionNumber", "A1,A2"),
            ("diagnosticQuality", "true"), ("keyImagesOnly", "FALSE"), ("viewerType", "IHE_BIR"))).Value!;
        Assert.Equal([new RequestedStudy(Uid1, "A1"), new RequestedStudy(Uid2, "A2")], request.Studies);
        Assert.Equal((true, false, "IHE_BIR"), (request.DiagnosticQuality, request.KeyImagesOnly, request.ViewerType));
    }

    [Fact]
    public void A_parameter_given_twice_is_refused()
    {
        var decision = ImageDisplayRequest.Parse(Query(("requestType", "STUDY"), ("studyUID", Uid1), ("studyUID", Uid2)));
        Assert.Equal("`studyUID` is given 2 times; give it once (several study UIDs go comma-separated in one `studyUID`).", decision.Rejection!.Message);
    }

    [Fact]
    public void The_same_study_twice_is_refused() =>
        Assert.Equal("`studyUID` names the same study twice.",
            ImageDisplayRequest.Parse(Query(("requestType", "STUDY"), ("studyUID", $"{Uid1},{Uid1}"))).Rejection!.Message);

    [Fact]
    public void Control_characters_are_refused() =>
        Assert.Equal("`patientID` must not contain control characters.",
            ImageDisplayRequest.Parse(Query(("requestType", "PATIENT"), ("patientID", "12\u00003"))).Rejection!.Message);

    [Theory]
    [InlineData("from-url", "bound", "default", "from-url")]
    [InlineData(null, "bound", "default", "bound")]
    [InlineData(null, null, "default", "default")]
    public void The_topic_is_the_urls_else_the_tokens_else_the_default(string? given, string? bound, string? configured, string expected)
    {
        var query = Query(("requestType", "PATIENT"), ("patientID", "p1"));
        if (given is not null) query["topic"] = [given];
        Assert.Equal(expected, ImageDisplayRequest.Parse(query).Value!.TopicFor(bound, configured).Value);
    }

    [Fact]
    public void No_topic_anywhere_is_refused() =>
        Assert.True(ImageDisplayRequest.Parse(Query(("requestType", "PATIENT"), ("patientID", "p1"))).Value!.TopicFor(null, " ").IsRejected);

    [Fact]
    public void An_iid_request_to_an_unknown_topic_is_refused_as_an_unknown_topic()
    {
        var request = ImageDisplayRequest.Parse(Query(("requestType", "STUDY"), ("studyUID", Uid1))).Value!;
        var decision = ImageDisplay.Publish(null, request, Topic, Timestamp, VersionCounter(), ContentPolicy.Default);
        Assert.Equal(RejectionKind.UnknownTopic, decision.Rejection!.Kind);
    }

    [Fact]
    public void Several_studies_are_opened_in_order_and_the_last_is_current()
    {
        var request = ImageDisplayRequest.Parse(Query(("requestType", "STUDY"), ("studyUID", $"{Uid1},{Uid2}"), ("patientID", "p1"))).Value!;

        var decision = ImageDisplay.Publish(Session(), request, Topic, Timestamp, VersionCounter(), ContentPolicy.Default);

        var opened = decision.Value!.Events.OfType<ContextOpened>().ToArray();
        Assert.Equal([("ImagingStudy", Uid1), ("ImagingStudy", Uid2)], opened.Select(o => (o.AnchorType, o.AnchorId)));
        Assert.Equal([Uid1, Uid2], decision.Value.Opens.Select(o => o.StudyUid));
        var state = decision.Value.Events.Aggregate(Session(), TopicSession.Evolve);
        Assert.Equal(Uid2, state.Current!.AnchorId);
        Assert.Equal(2, state.OpenAnchors.Count);
    }

    [Fact]
    public void The_study_open_carries_the_ira_study_context_and_the_patient()
    {
        var request = ImageDisplayRequest.Parse(Query(("requestType", "STUDY"), ("studyUID", Uid1), ("accessionNumber", "A1"), ("patientID", "p1^^^&1.2.3&ISO"))).Value!;

        var (json, _) = ImageDisplay.Notifications(request, Topic, Timestamp, VersionCounter("evt-")).Single();

        var evt = JsonNode.Parse(json)!["event"]!;
        Assert.Equal("ImagingStudy-open", (string?)evt["hub.event"]);
        var study = evt["context"]![0]!;
        Assert.Equal("study", (string?)study["key"]);
        Assert.Equal(
            $$$"""{"resourceType":"ImagingStudy","id":"{{{Uid1}}}","identifier":[{"type":{"coding":[{"system":"http://dicom.nema.org/resources/ontology/DCM","code":"110180","display":"Study Instance UID"}]},"system":"urn:dicom:uid","value":"urn:oid:{{{Uid1}}}"},{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"ACSN","display":"Accession ID"}]},"value":"A1"}],"status":"available","subject":{"reference":"Patient/p1"}}""",
            study["resource"]!.ToJsonString());
        Assert.Equal(
            """{"key":"patient","resource":{"resourceType":"Patient","id":"p1","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical record number"}]},"system":"urn:oid:1.2.3","value":"p1"}]}}""",
            evt["context"]![1]!.ToJsonString());
    }

    [Fact]
    public void A_patient_request_is_one_patient_open()
    {
        var request = ImageDisplayRequest.Parse(Query(("requestType", "PATIENT"), ("patientID", "p1"))).Value!;

        var decision = ImageDisplay.Publish(Session(), request, Topic, Timestamp, VersionCounter(), ContentPolicy.Default);

        var opened = Assert.Single(decision.Value!.Events.OfType<ContextOpened>());
        Assert.Equal(("Patient-open", "Patient", "p1"), (opened.EventName, opened.AnchorType, opened.AnchorId));
    }
}
