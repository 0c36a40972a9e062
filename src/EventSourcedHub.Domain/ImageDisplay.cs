using System.Text.Encodings.Web;
using System.Text.Json;

namespace EventSourcedHub.Domain;

public enum ImageDisplayRequestType
{
    Study,
    Patient,
}

/// <summary>A patient identifier as IHE IID gives it: HL7 v2 CX, `value^^^&amp;authority OID&amp;ISO` or just `value`.</summary>
/// <param name="System">`urn:oid:&lt;OID&gt;` when the assigning authority is an ISO OID, else null.</param>
public sealed record PatientIdentifier(string Text, string Value, string? System)
{
    /// <summary>Reads a CX value: the id is the first component, the assigning authority the fourth (`namespace&amp;universal id&amp;type`).</summary>
    public static PatientIdentifier Parse(string text)
    {
        var components = text.Split('^');
        var value = components[0].Trim();
        string? system = null;
        if (components.Length >= 4)
        {
            var authority = components[3].Split('&');
            if (authority.Length >= 3 && authority[2].Trim().Equals("ISO", StringComparison.OrdinalIgnoreCase) && authority[1].Trim().Length > 0)
                system = "urn:oid:" + authority[1].Trim();
        }
        return new PatientIdentifier(text, value, system);
    }

    /// <summary>
    /// The Patient resource's id: the identifier value when it is a valid FHIR id, else a digest of the whole CX text, so
    /// that the same IID patient always opens the same anchor.
    /// </summary>
    public string ResourceId => ImageDisplay.IsFhirId(Value) ? Value : "iid-" + Convert.ToHexStringLower(
        global::System.Security.Cryptography.SHA256.HashData(global::System.Text.Encoding.UTF8.GetBytes(Text)))[..32];
}

/// <summary>One study of a STUDY request: its Study Instance UID and, when given, its accession number.</summary>
public sealed record RequestedStudy(string Uid, string? AccessionNumber);

/// <summary>
/// An IHE Invoke Image Display request (RAD-106) as the hub's IID bridge takes it (rulings.md 37): which studies or
/// which patient to show. `viewerType`, `diagnosticQuality` and `keyImagesOnly` are display hints with no FHIRcast
/// counterpart: checked and shown on the answer page, not distributed.
/// </summary>
public sealed record ImageDisplayRequest(
    ImageDisplayRequestType RequestType,
    IReadOnlyList<RequestedStudy> Studies,
    PatientIdentifier? Patient,
    string? Topic,
    string? ViewerType,
    bool? DiagnosticQuality,
    bool? KeyImagesOnly)
{
    private static readonly string[] Known = ["requestType", "studyUID", "accessionNumber", "patientID", "topic", "viewerType", "diagnosticQuality", "keyImagesOnly"];

    /// <summary>Reads the query parameters (name to every value given). Parameters IID defines but the bridge does not use are ignored.</summary>
    public static Decision<ImageDisplayRequest> Parse(IReadOnlyDictionary<string, string[]> query)
    {
        foreach (var name in Known)
        {
            var values = Values(query, name);
            if (values.Length > 1) return Rejection.Invalid($"`{name}` is given {values.Length} times; give it once (several study UIDs go comma-separated in one `studyUID`).");
            if (values.Length == 1 && NotificationRequest.HasControlCharacters(values[0])) return Rejection.Invalid($"`{name}` must not contain control characters.");
        }

        var requestTypeText = Single(query, "requestType");
        if (requestTypeText is null) return Rejection.Invalid("`requestType` is required: STUDY or PATIENT.");
        ImageDisplayRequestType requestType;
        if (requestTypeText.Equals("STUDY", StringComparison.OrdinalIgnoreCase)) requestType = ImageDisplayRequestType.Study;
        else if (requestTypeText.Equals("PATIENT", StringComparison.OrdinalIgnoreCase)) requestType = ImageDisplayRequestType.Patient;
        else return Rejection.Invalid($"`requestType` '{requestTypeText}' is not supported: use STUDY or PATIENT.");

        var diagnosticQuality = Flag(query, "diagnosticQuality");
        if (diagnosticQuality.IsRejected) return diagnosticQuality.Rejection!;
        var keyImagesOnly = Flag(query, "keyImagesOnly");
        if (keyImagesOnly.IsRejected) return keyImagesOnly.Rejection!;

        var patientText = Single(query, "patientID");
        var patient = patientText is null ? null : PatientIdentifier.Parse(patientText);
        if (patient is { Value.Length: 0 }) return Rejection.Invalid($"`patientID` '{patientText}' has no identifier before its first `^`.");

        var studies = new List<RequestedStudy>();
        if (requestType == ImageDisplayRequestType.Study)
        {
            var uidText = Single(query, "studyUID");
            if (uidText is null)
                return Rejection.Invalid("`studyUID` is required with requestType=STUDY: one Study Instance UID, or several comma-separated.");
            var uids = uidText.Split(',').Select(u => u.Trim()).ToArray();
            foreach (var uid in uids)
            {
                if (DicomUid.Problem(uid) is { } problem) return Rejection.Invalid($"`studyUID` '{uid}' is not a DICOM UID: {problem}.");
            }
            if (uids.Distinct().Count() != uids.Length) return Rejection.Invalid("`studyUID` names the same study twice.");

            var accessionText = Single(query, "accessionNumber");
            var accessions = accessionText?.Split(',').Select(a => a.Trim()).ToArray();
            if (accessions is not null && accessions.Length != uids.Length)
                return Rejection.Invalid($"`accessionNumber` gives {accessions.Length} accession number(s) for {uids.Length} study UID(s); give one per study, in the same order, or none.");
            if (accessions is not null && accessions.Any(a => a.Length == 0))
                return Rejection.Invalid("`accessionNumber` has an empty entry.");
            studies.AddRange(uids.Select((uid, i) => new RequestedStudy(uid, accessions?[i])));
        }
        else if (patient is null)
        {
            return Rejection.Invalid("`patientID` is required with requestType=PATIENT, e.g. patientID=12345^^^&1.2.840.113619.6.197&ISO.");
        }

        return new ImageDisplayRequest(requestType, studies, patient, Single(query, "topic"), Single(query, "viewerType"),
            diagnosticQuality.Value, keyImagesOnly.Value);
    }

    /// <summary>
    /// The topic to publish to: the request's `topic`, else the topic the caller's token is bound to (`hub.topic`),
    /// else the hub's configured default (`Hub:Iid:DefaultTopic`).
    /// </summary>
    public Decision<string> TopicFor(string? boundTopic, string? defaultTopic) =>
        (Topic ?? boundTopic ?? (string.IsNullOrWhiteSpace(defaultTopic) ? null : defaultTopic)) is { } topic
            ? topic
            : Rejection.Invalid("No topic: give `topic` in the URL, use a token bound to a topic (`hub.topic` claim), or configure Hub:Iid:DefaultTopic.");

    private static string[] Values(IReadOnlyDictionary<string, string[]> query, string name) =>
        query.FirstOrDefault(p => p.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value ?? [];

    /// <summary>The parameter's value; absent and blank are the same.</summary>
    private static string? Single(IReadOnlyDictionary<string, string[]> query, string name) =>
        Values(query, name) is [var value] && value.Trim().Length > 0 ? value.Trim() : null;

    private static Decision<bool?> Flag(IReadOnlyDictionary<string, string[]> query, string name) => Single(query, name)?.ToLowerInvariant() switch
    {
        null => (bool?)null,
        "true" => true,
        "false" => false,
        var other => Rejection.Invalid($"`{name}` '{other}' must be true or false."),
    };
}

/// <summary>DICOM UIDs (PS3.5 9.1): digits and dots, at most 64 characters, no empty component, no leading zero in a component.</summary>
public static class DicomUid
{
    /// <summary>Null for a valid UID, else what is wrong with it.</summary>
    public static string? Problem(string uid)
    {
        if (uid.Length == 0) return "it is empty";
        if (uid.Length > 64) return $"it has {uid.Length} characters, at most 64 are allowed";
        if (uid.Any(c => c is not ('.' or >= '0' and <= '9'))) return "only digits and dots are allowed";
        foreach (var component in uid.Split('.'))
        {
            if (component.Length == 0) return "it has an empty component (two dots in a row, or a dot at either end)";
            if (component.Length > 1 && component[0] == '0') return $"the component '{component}' has a leading zero";
        }
        return null;
    }
}

/// <summary>What one IID request opened, for the answer page.</summary>
public sealed record ImageDisplayOpen(string EventId, string EventName, string? StudyUid, string? AccessionNumber, string? PatientIdentifier);

/// <summary>The events an IID request appends, and what they open, in order.</summary>
public sealed record ImageDisplayPublished(object[] Events, IReadOnlyList<ImageDisplayOpen> Opens);

/// <summary>
/// The IID bridge's decision: an IID request becomes the FHIRcast opens a context manager would send, decided by the
/// same rules as any event request (<see cref="TopicDecisions.Publish"/>). STUDY: one `ImagingStudy-open` per study in
/// the order given, so the last one is the current context and the others stay open as suspended anchors; PATIENT: one
/// `Patient-open`. All of them are one append: every open lands, or none.
/// </summary>
public static class ImageDisplay
{
    public const string DicomUidSystem = "urn:dicom:uid";
    private const string DcmSystem = "http://dicom.nema.org/resources/ontology/DCM";
    private const string V2IdentifierTypes = "http://terminology.hl7.org/CodeSystem/v2-0203";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Decision<ImageDisplayPublished> Publish(TopicSession? state, ImageDisplayRequest request, string topic, string timestamp, Func<string> newId,
        ContentPolicy policy)
    {
        if (state is null)
            return new Rejection(RejectionKind.UnknownTopic,
                $"Topic '{topic}' is not known to this hub: no viewer has subscribed to it. Subscribe the image display to the topic first; an IID request does not create topics.");

        var events = new List<object>();
        var opens = new List<ImageDisplayOpen>();
        foreach (var (json, open) in Notifications(request, topic, timestamp, newId))
        {
            var parsed = NotificationRequest.Parse(json, null);
            if (parsed.IsRejected) return parsed.Rejection!;
            var decided = TopicDecisions.Publish(state, parsed.Value!, newId, policy);
            if (decided.IsRejected) return decided.Rejection!;
            foreach (var e in decided.Value!.Events)
            {
                events.Add(e);
                state = TopicSession.Evolve(state, e);
            }
            opens.Add(open);
        }
        return new ImageDisplayPublished(events.ToArray(), opens);
    }

    /// <summary>The event requests an IID request stands for, with what each opens.</summary>
    public static IReadOnlyList<(string Json, ImageDisplayOpen Open)> Notifications(ImageDisplayRequest request, string topic, string timestamp, Func<string> newId)
    {
        var patient = request.Patient is null ? null : PatientJson(request.Patient);
        var patientEntry = patient is null ? null : Entry("patient", patient);
        if (request.RequestType == ImageDisplayRequestType.Patient)
        {
            var id = newId();
            return [(NotificationText.Compose(timestamp, id, topic, "Patient-open", [patientEntry!]),
                new ImageDisplayOpen(id, "Patient-open", null, null, request.Patient!.Text))];
        }
        return request.Studies.Select(s =>
        {
            var id = newId();
            var studyEntry = Entry("study", StudyJson(s, request.Patient));
            var context = patientEntry is null ? new[] { studyEntry } : [studyEntry, patientEntry];
            return (NotificationText.Compose(timestamp, id, topic, "ImagingStudy-open", context),
                new ImageDisplayOpen(id, "ImagingStudy-open", s.Uid, s.AccessionNumber, request.Patient?.Text));
        }).ToList();
    }

    /// <summary>
    /// An ImagingStudy in the shape of IRA's ImagingStudyContext: the Study Instance UID (`urn:oid:`, system
    /// `urn:dicom:uid`, type DCM 110180), the accession number (type ACSN), status `available`, the patient as subject.
    /// Its id is the UID, which is a valid FHIR id.
    /// </summary>
    public static string StudyJson(RequestedStudy study, PatientIdentifier? patient) => Write(w =>
    {
        w.WriteString("resourceType", "ImagingStudy");
        w.WriteString("id", study.Uid);
        w.WriteStartArray("identifier");
        WriteIdentifier(w, DcmSystem, "110180", "Study Instance UID", DicomUidSystem, "urn:oid:" + study.Uid);
        if (study.AccessionNumber is not null) WriteIdentifier(w, V2IdentifierTypes, "ACSN", "Accession ID", null, study.AccessionNumber);
        w.WriteEndArray();
        w.WriteString("status", "available");
        if (patient is not null)
        {
            w.WriteStartObject("subject");
            w.WriteString("reference", $"Patient/{patient.ResourceId}");
            w.WriteEndObject();
        }
    });

    /// <summary>A Patient in the shape of IRA's PatientContext: the identifier with type MR.</summary>
    public static string PatientJson(PatientIdentifier patient) => Write(w =>
    {
        w.WriteString("resourceType", "Patient");
        w.WriteString("id", patient.ResourceId);
        w.WriteStartArray("identifier");
        WriteIdentifier(w, V2IdentifierTypes, "MR", "Medical record number", patient.System, patient.Value);
        w.WriteEndArray();
    });

    /// <summary>FHIR ids: 1 to 64 of letters, digits, `-` and `.`.</summary>
    public static bool IsFhirId(string text) => text.Length is > 0 and <= 64 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.');

    private static string Entry(string key, string resourceJson) => Write(w =>
    {
        w.WriteString("key", key);
        w.WritePropertyName("resource");
        w.WriteRawValue(resourceJson);
    });

    private static void WriteIdentifier(Utf8JsonWriter w, string typeSystem, string typeCode, string typeDisplay, string? system, string value)
    {
        w.WriteStartObject();
        w.WriteStartObject("type");
        w.WriteStartArray("coding");
        w.WriteStartObject();
        w.WriteString("system", typeSystem);
        w.WriteString("code", typeCode);
        w.WriteString("display", typeDisplay);
        w.WriteEndObject();
        w.WriteEndArray();
        w.WriteEndObject();
        if (system is not null) w.WriteString("system", system);
        w.WriteString("value", value);
        w.WriteEndObject();
    }

    private static string Write(Action<Utf8JsonWriter> members)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            members(writer);
            writer.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
