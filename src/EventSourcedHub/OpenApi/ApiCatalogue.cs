namespace EventSourcedHub.OpenApi;

/// <summary>A query parameter of an operation.</summary>
public sealed record QueryParameter(string Name, string Description, string Example, bool Required = false);

/// <summary>One media type of a request or answer, with an example exactly as the hub takes or sends it.</summary>
public sealed record Body(string MediaType, string Example, string? Schema = null);

/// <summary>One answer of an operation: its status, what it means and, when it has a body, an example.</summary>
public sealed record Answer(int Status, string Description, params Body[] Bodies);

/// <summary>An endpoint as the OpenAPI document describes it, keyed by method and route pattern (docs/api.md has the full text).</summary>
public sealed record Operation(string Method, string Pattern, string Tag, string Summary, string Description)
{
    public QueryParameter[] Query { get; init; } = [];
    public Body[] Request { get; init; } = [];
    public Answer[] Answers { get; init; } = [];

    /// <summary>Open without a token under `Hub:Auth:Mode=Jwt` too (discovery, metadata, the WebSocket upgrade).</summary>
    public bool Open { get; init; }

    public string Key => Catalogue.Key(Method, Pattern);
}

/// <summary>
/// Every endpoint of the hub, described once, so that the OpenAPI transformers need no edit of the endpoint mapping.
/// The examples are the shapes of docs/api.md.
/// </summary>
public static class Catalogue
{
    public const string FhirJson = "application/fhir+json";
    public const string Json = "application/json";
    public const string Form = "application/x-www-form-urlencoded";
    public const string PlainText = "text/plain";
    public const string Ndjson = "application/x-ndjson";

    /// <summary>Schema names in the document's components.</summary>
    public const string OperationOutcomeSchema = "OperationOutcome";
    public const string SubscriptionFormSchema = "SubscriptionForm";
    public const string NotificationSchema = "Notification";

    public static string Key(string method, string pattern) => $"{method.ToUpperInvariant()} {pattern}";

    private const string Topic = "demo-session-1";
    private const string Endpoint = "ws://127.0.0.1:5080/api/hub/ws/988e6c52a6d5d6b13e9231c6927aaba5e5870719";

    private static string Outcome(string code, string diagnostics) =>
        $$"""{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"{{code}}","diagnostics":{{System.Text.Json.JsonSerializer.Serialize(diagnostics)}}}]}""";

    private static Answer Error(int status, string description, string code, string diagnostics) =>
        new(status, description, new Body(FhirJson, Outcome(code, diagnostics), OperationOutcomeSchema));

    private static Answer TextError(int status, string description, string message) => new(status, description, new Body(PlainText, message));

    private const string PatientOpen =
        """{"timestamp":"2025-03-01T14:58:45.988Z","id":"evt-1","event":{"hub.topic":"demo-session-1","hub.event":"Patient-open","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"pat-1"}}]}}""";

    private const string ReportUpdate =
        """{"timestamp":"2025-03-01T15:02:10.000Z","id":"evt-update-1","event":{"hub.topic":"demo-session-1","hub.event":"DiagnosticReport-update","context.versionId":"ead75ffd-020d-45aa-a291-a6d6a9a8bda1","context":[{"key":"report","reference":{"reference":"DiagnosticReport/rep-1"}},{"key":"updates","resource":{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"PUT","url":"Observation/obs-1"},"resource":{"resourceType":"Observation","id":"obs-1","status":"preliminary","code":{"text":"finding"}}}]}}]}}""";

    private static readonly Body[] EventBodies =
    [
        new(Json, PatientOpen, NotificationSchema),
        new(FhirJson, ReportUpdate, NotificationSchema),
    ];

    private static readonly Answer[] PublishAnswers =
    [
        new(202, "Accepted and committed to the topic's log; distributed to the subscribers of the event."),
        new(206, "A select naming resources the hub does not know: those were left out of the distributed event (HUB-SEL-03)."),
        Error(400, "Not a valid event: the body, `timestamp`, `event.hub.topic` (unknown topic), an update's `context.versionId`, …", "invalid", "`context.versionId` 'ead75ffd-020d-45aa-a291-a6d6a9a8bda1' is not the current version of DiagnosticReport/rep-1; get the current context and retry (HUB-CS-03)."),
        Error(409, "A close, update or select of an anchor that is not open (HUB-CTX-05).", "conflict", "DiagnosticReport/rep-1 is not an open context of this topic (HUB-CTX-05)."),
        Error(413, "The body, its context entries or its update bundle is larger than this hub accepts.", "too-long", "The request body is larger than this hub accepts."),
        Error(415, "Neither JSON nor a subscription form.", "not-supported", "Send events as application/json or application/fhir+json; subscriptions as application/x-www-form-urlencoded."),
        Error(503, "Too many writers raced on this topic; retry after `Retry-After`.", "transient", "Topic 'demo-session-1' is busy; retry shortly."),
    ];

    private static readonly QueryParameter[] AuditSearch =
    [
        new("date", "Recorded time with a prefix (`eq` default, `ge`, `le`, `gt`, `lt`, `sa`, `eb`); repeat to AND.", "ge2025-03-01"),
        new("patient", "`Patient/id`, a bare id, or an absolute URL.", "Patient/pat-1"),
        new("agent", "Subscriber name or endpoint id.", "Reporting"),
        new("subtype", "Event name (case-insensitive) or lifecycle step; `system|code` accepted.", "DiagnosticReport-update"),
        new("outcome", "`0`, `4`, `8` or `12`.", "0"),
        new("entity", "`Type/id`, a topic, or `urn:eventsourcedhub:topic|<topic>` for the reads of a topic.", "DiagnosticReport/rep-1"),
        new("_count", "Page size, default 50, at most 1000.", "50"),
        new("_sort", "`-date` (default) or `date`.", "-date"),
        new("_cursor", "Opaque: the next page, from a `next` link.", "MTc5"),
    ];

    private const string SearchBundle =
        """{"resourceType":"Bundle","type":"searchset","total":1,"link":[{"relation":"self","url":"http://127.0.0.1:5080/fhir/AuditEvent?patient=Patient/pat-1"}],"entry":[{"fullUrl":"http://127.0.0.1:5080/fhir/AuditEvent/0193…","resource":{"resourceType":"AuditEvent","id":"0193…"}}]}""";

    private static readonly Answer BadSearch = Error(400, "A parameter this server does not support (unless `Prefer: handling=lenient`), or a bad value.", "not-supported", "Unknown or unsupported search parameter 'address'. Supported: …. Send 'Prefer: handling=lenient' to have unknown parameters ignored.");

    private static readonly Answer UnknownTopic = Error(404, "A topic that was never subscribed to.", "not-found", "Unknown topic 'nope'.");

    public static readonly Operation[] All =
    [
        new("GET", "/api/hub/.well-known/fhircast-configuration", "FHIRcast", "Discovery document",
            "What this hub supports (HUB-DISC-01): events, WebSocket support, FHIRcast version and this hub's extensions. Needs no token.")
        {
            Open = true,
            Answers = [new(200, "The discovery document.", new Body(Json, """{"eventsSupported":["Patient-open","Patient-close","DiagnosticReport-open","DiagnosticReport-update","SyncError"],"websocketSupport":true,"fhircastVersion":"3.0.0","getCurrentSupport":true,"capabilities":{"supportsGetCurrentContext":true,"supportsNonCurrentContextUpdates":true}}"""))],
        },
        new("GET", "/.well-known/fhircast-configuration", "FHIRcast", "Discovery document (at the root)", "The same document as `{hub}/.well-known/fhircast-configuration`.")
        {
            Open = true,
            Answers = [new(200, "The discovery document.", new Body(Json, """{"websocketSupport":true,"fhircastVersion":"3.0.0","getCurrentSupport":true}"""))],
        },
        new("POST", "/api/hub", "FHIRcast", "Subscribe, unsubscribe, or publish an event",
            "A form body (`application/x-www-form-urlencoded`) subscribes or unsubscribes; its errors are `text/plain`. A JSON body "
            + "publishes an event (see `POST /api/hub/{topic}`); its errors are OperationOutcomes. `hub.lease` is read as `hub.lease_seconds`; "
            + "`hub.callback` and `hub.secret` are ignored. The 202 of a subscribe carries the WebSocket endpoint to connect within "
            + "`Hub:UnconnectedSubscriptionSeconds`: `ws://` on the request's host, `wss://` behind TLS, or on `Hub:PublicBaseUrl`.")
        {
            Request =
            [
                new(Form, "hub.mode=subscribe&hub.channel.type=websocket&hub.topic=demo-session-1&hub.events=Patient-open,Patient-close,SyncError&subscriber.name=Demo%20viewer", SubscriptionFormSchema),
                .. EventBodies,
            ],
            Answers =
            [
                new(202, "Subscribed, renewed or unsubscribed (form); or an event accepted (JSON).", new Body(Json, $$"""{"hub.channel.endpoint":"{{Endpoint}}"}""")),
                new(206, "An event: a select naming unknown resources (HUB-SEL-03)."),
                new(400, "Form: a field missing, repeated, malformed or not allowed (text/plain). Event: see `POST /api/hub/{topic}`.",
                    new Body(PlainText, "`hub.events` is required and must name at least one event."), new Body(FhirJson, Outcome("invalid", "`event.hub.topic` is required and must be a non-empty string."), OperationOutcomeSchema)),
                new(403, "Form: the topic has as many live subscriptions as `Hub:Limits:MaxSubscriptionsPerTopic`; with tokens, no read scope for any requested event.",
                    new Body(PlainText, "This topic already has 1000 live subscriptions, the most this hub allows (Hub:Limits:MaxSubscriptionsPerTopic).")),
                .. PublishAnswers.Where(a => a.Status is 409 or 413 or 503),
                new(415, "A multipart form, or a body that is neither a form nor JSON.",
                    new Body(PlainText, "Subscription requests go to the hub URL itself, as application/x-www-form-urlencoded."),
                    new Body(FhirJson, Outcome("not-supported", "Send events as application/json or application/fhir+json; subscriptions as application/x-www-form-urlencoded."), OperationOutcomeSchema)),
            ],
        },
        new("POST", "/api/hub/{topic}", "FHIRcast", "Publish an event",
            "An event request (HUB-EVT-01); `{topic}` must equal `event.hub.topic`. The 202 is sent after the event is committed to the topic's log. "
            + "An `*-update` must name its anchor and `context.versionId`, unless `Hub:Compatibility:LenientUpdates` is on. A retry of an accepted `id` gets the original answer.")
        {
            Request = EventBodies,
            Answers = PublishAnswers,
        },
        new("GET", "/api/hub/{topic}", "FHIRcast", "Get current context",
            "The current anchor's context as supplied in its latest open, plus a `content` Bundle of the shared resources (HUB-GCC-*). A known topic with nothing open answers `{\"context.type\":\"\",\"context\":[]}`.")
        {
            Answers =
            [
                new(200, "The current context.", new Body(Json, """{"context.type":"Patient","context.versionId":"901e00a9-ac1a-4341-b290-39a81c8bb027","context":[{"key":"patient","resource":{"resourceType":"Patient","id":"pat-1"}},{"key":"content","resource":{"resourceType":"Bundle","type":"collection"}}]}""")),
                UnknownTopic,
            ],
        },
        new("GET", "/api/hub/ws/{endpointId}", "FHIRcast", "WebSocket channel",
            "Upgrade to a WebSocket on the endpoint a subscribe returned (HUB-WS-*). The hub sends the confirmation, then notifications; the app acknowledges each with "
            + "`{\"id\":\"…\"}` (optionally `status`, a number or a string); any other text is ignored. Needs no token. With `Hub:Cors:WebSocketOrigins`, a browser page's `Origin` must be listed.")
        {
            Open = true,
            Answers =
            [
                new(101, "Switching protocols: the channel is open; the first frame is the confirmation.",
                    new Body(Json, """{"hub.mode":"subscribe","hub.topic":"demo-session-1","hub.events":"Patient-open,Patient-close","hub.lease_seconds":7200}""")),
                Error(400, "Not a WebSocket request.", "invalid", "Connect to this endpoint with a WebSocket."),
                Error(403, "A browser page on an origin not in `Hub:Cors:WebSocketOrigins`.", "forbidden", "WebSockets from the origin 'https://elsewhere.example' are not allowed (Hub:Cors:WebSocketOrigins)."),
                Error(404, "An endpoint this hub never issued.", "not-found", "No such endpoint was issued by this hub."),
                Error(409, "The endpoint already has a live WebSocket.", "conflict", "This endpoint already has a live WebSocket."),
            ],
        },
        new("GET", "/IHEInvokeImageDisplay", "Imaging", "IHE Invoke Image Display (IID) bridge", "Opens the studies (`ImagingStudy-open`, one per UID, the last current) or the patient (`Patient-open`) an IID URL names, for every viewer subscribed to the topic; docs/integrations.md.") { Query = [new("requestType", "STUDY or PATIENT.", "STUDY", Required: true), new("studyUID", "Study Instance UIDs, comma-separated (STUDY).", "1.2.840.113619.2.55.3.604688119.969.1268071029.320"), new("accessionNumber", "One per study, comma-separated.", "A12345"), new("patientID", "HL7 CX (PATIENT; optional with STUDY).", "12345^^^&1.2.840.113619.6.197&ISO"), new("topic", "Else the token's `hub.topic`, else `Hub:Iid:DefaultTopic`.", "demo-session-1"), new("viewerType", "Display hint, shown only.", "IHE_BIR"), new("diagnosticQuality", "true or false; display hint, shown only.", "true"), new("keyImagesOnly", "true or false; display hint, shown only.", "false")], Answers = [new(200, "A small page saying what was opened.", new Body("text/html", "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Image display requested</title></head><body><h1>Image display requested</h1><ol><li>Study <code>1.2.840.113619.2.55.3.604688119.969.1268071029.320</code>, accession <code>A12345</code></li></ol></body></html>")), TextError(400, "A missing or unknown `requestType`, a missing `studyUID` or `patientID`, a UID that is not a DICOM UID, no topic, or an unknown topic.", "`requestType` is required: STUDY or PATIENT.")] },
        new("GET", "/api/sessions/{topic}/events", "Sessions", "Events since",
            "The notifications the topic accepted after an event id or a stream version, in stream order, as they were distributed.")
        {
            Query =
            [
                new("after", "The `id` of an event accepted on this topic.", "evt-open-1"),
                new("afterVersion", "A stream version, 0 or more; without `after` and `afterVersion`, the whole log.", "0"),
                new("events", "Comma-separated event names to keep (case-insensitive).", "DiagnosticReport-update,DiagnosticReport-close"),
            ],
            Answers =
            [
                new(200, "One object per notification: `version`, `recorded`, `notification`.", new Body(Json, """[{"version":6,"recorded":"2026-11-23T07:28:34.602814+00:00","notification":{"timestamp":"2025-03-01T15:10:00Z","id":"evt-close-1","event":{"hub.topic":"demo-session-1","hub.event":"DiagnosticReport-close","context":[{"key":"report","reference":{"reference":"DiagnosticReport/rep-1"}}]}}}]""")),
                Error(400, "A bad or repeated parameter, or an event id not accepted on this topic.", "invalid", "Give either `after` (an event id) or `afterVersion` (a stream version), not both."),
                UnknownTopic,
            ],
        },
        new("GET", "/api/sessions/{topic}/context", "Sessions", "Context as of a version or a moment",
            "What get-current-context answered right after a stream version, or at a recorded time.")
        {
            Query =
            [
                new("version", "A stream version, 1 or more (exactly one of `version` and `at`).", "3"),
                new("at", "An ISO 8601 date-time, compared with the hub's recorded times.", "2026-11-23T07:28:32Z"),
            ],
            Answers =
            [
                new(200, "The context then, shaped like get-current-context.", new Body(Json, """{"context.type":"DiagnosticReport","context.versionId":"ead75ffd-020d-45aa-a291-a6d6a9a8bda1","context":[]}""")),
                Error(400, "Neither or both of `version` and `at`, or a bad value.", "invalid", "Give exactly one of `version` (a stream version) or `at` (an ISO 8601 date-time)."),
                Error(404, "An unknown topic, a version past the end, or a time before the topic existed.", "not-found", "Topic 'demo-session-1' has 6 events; version 99 does not exist yet."),
            ],
        },
        new("GET", "/api/sessions/{topic}/export", "Sessions", "Export a session",
            "The topic's whole log as NDJSON, one stored event per line (`topic`, `version`, `recorded`, `type`, `data`).")
        {
            Answers =
            [
                new(200, "The log.", new Body(Ndjson, """{"topic":"demo-session-1","version":1,"recorded":"2026-11-23T07:29:21.526784+00:00","type":"subscribed","data":{"EndpointId":"0fbc…","SubscriberName":"Demo viewer","Events":["Patient-open"],"LeaseSeconds":7200,"RequestedAt":"2026-11-23T07:29:21.52+00:00"}}""")),
                UnknownTopic,
            ],
        },
        new("POST", "/api/sessions/{topic}/import", "Sessions", "Import a session",
            "Appends an exported log as a new topic, in one transaction, after checking every line.")
        {
            Request = [new(Ndjson, """{"topic":"demo-session-1","version":1,"recorded":"2026-11-23T07:29:21.526784+00:00","type":"subscribed","data":{"EndpointId":"0fbc…","SubscriberName":"Demo viewer","Events":["Patient-open"],"LeaseSeconds":7200,"RequestedAt":"2026-11-23T07:29:21.52+00:00"}}""")],
            Answers =
            [
                new(201, "Imported.", new Body(Json, """{"topic":"demo-session-1","events":8}""")),
                Error(400, "A line that is not a valid stored event, or no events.", "invalid", "Line 1: `version` must be 1: lines are the stream in order, from 1, without gaps."),
                Error(409, "The topic exists, or the log names endpoints this hub issued.", "conflict", "Topic 'demo-session-1' already exists on this hub; import into a new topic."),
                Error(413, "Larger than `Hub:Limits:MaxImportBytes`.", "too-long", "The request body is larger than this hub accepts."),
                Error(415, "Not `application/x-ndjson`.", "not-supported", "Send the export as application/x-ndjson."),
            ],
        },
        new("POST", "/api/sessions/{topic}/replay", "Sessions", "Replay a session into another topic",
            "Re-publishes the recorded notifications through the write path into `targetTopic`, paced by `speed` (0: at once).")
        {
            Request = [new(Json, """{"targetTopic":"demo-replay-1","speed":2,"fromVersion":3,"toVersion":6}""")],
            Answers =
            [
                new(202, "The replay run, started.", new Body(Json, """{"id":"d1b6964562724ebdae3f68444cd6b705","sourceTopic":"demo-session-1","targetTopic":"demo-replay-1","fromVersion":3,"toVersion":6,"speed":2,"status":"running","total":4,"published":0,"rejected":0,"started":"2026-11-23T07:29:24.4078384+00:00","finished":null}""")),
                Error(400, "A bad body.", "invalid", "`targetTopic` is required: the topic to replay into."),
                UnknownTopic,
            ],
        },
        new("GET", "/api/sessions", "Sessions", "Session summaries",
            "One summary per topic, oldest first: counts of subscribers, opens, closes, updates, selects, SyncErrors, and report times.")
        {
            Query =
            [
                new("from", "Sessions whose last event is at or after it.", "2026-11-23T00:00:00Z"),
                new("to", "Sessions whose first event is at or before it.", "2026-11-24T00:00:00Z"),
            ],
            Answers =
            [
                new(200, "The summaries.", new Body(Json, """[{"id":"demo-replay-1","start":"2026-11-23T07:29:21.526784+00:00","end":"2026-11-23T07:29:35.060108+00:00","events":8,"subscribers":1,"opens":1,"closes":1,"updates":1,"selects":1,"syncErrors":0,"reports":[]}]""")),
                Error(400, "`from` or `to` not a date-time, or given twice.", "invalid", "`from` and `to` must be ISO 8601 date-times, e.g. 2025-03-01T00:00:00Z."),
            ],
        },
        new("GET", "/api/replays/{id}", "Sessions", "A replay run", "Its progress: `running`, `completed`, `cancelled` or `failed`, with counts.")
        {
            Answers =
            [
                new(200, "The run.", new Body(Json, """{"id":"d1b6964562724ebdae3f68444cd6b705","status":"completed","total":4,"published":4,"rejected":0}""")),
                Error(404, "An unknown run id.", "not-found", "No replay 'nope' on this hub."),
            ],
        },
        new("DELETE", "/api/replays/{id}", "Sessions", "Cancel a replay run", "Stops a running replay; events already published stay.")
        {
            Answers =
            [
                new(202, "Cancellation asked for: the run with `status` `cancelling`, then `cancelled`.", new Body(Json, """{"id":"d1b6964562724ebdae3f68444cd6b705","status":"cancelling"}""")),
                Error(404, "An unknown run id.", "not-found", "No replay 'nope' on this hub."),
            ],
        },
        new("GET", "/api/console/events", "Sessions", "Live commits (web console)",
            "Server-sent events for the web console at `/`: one `commit` per commit of any topic on any hub process, a comment every 15 s. `topic` null asks the page to read everything again.")
        {
            Answers = [new(200, "An endless `text/event-stream`.", new Body("text/event-stream", ": connected\n\nevent: commit\ndata: {\"topic\":\"demo-session-1\",\"version\":4,\"events\":[\"context_opened\"],\"remote\":false}\n\n"))],
        },
        new("GET", "/api/sessions/{topic}/audit", "Audit", "Session audit",
            "A searchset Bundle of the session's AuditEvents in time order, with its reads, rejected requests and delivery receipts.")
        {
            Answers = [new(200, "The AuditEvents.", new Body(FhirJson, SearchBundle)), UnknownTopic],
        },
        new("GET", "/api/sessions/{topic}/timeline", "Audit", "Session timeline",
            "The session's stream events with their agents, outcomes and deliveries (per subscriber: status, latency, time-out).")
        {
            Answers =
            [
                new(200, "The timeline.", new Body(Json, """{"topic":"demo-session-1","events":[{"version":5,"recorded":"2026-11-23T08:10:01.101200Z","type":"context_opened","event":"Patient-open","id":"open-1","agent":"anonymous","outcome":"0","deliveries":[{"subscriber":"Acker","status":200,"latencyMs":1.84,"timedOut":false,"closedBeforeAck":false,"ackAwaited":true}]}]}""")),
                UnknownTopic,
            ],
        },
        new("GET", "/api/sessions/{topic}/verify", "Audit", "Verify the hash chain", "Recomputes the topic's hash chain over its stored events.")
        {
            Answers =
            [
                new(200, "Valid, or where it breaks.", new Body(Json, """{"valid":true,"events":3,"head":"91d712f477fecafab5c2add77f81c4d234048437268493a6526111448d2af6e8"}""")),
                UnknownTopic,
            ],
        },
        new("GET", "/fhir/metadata", "FHIR", "CapabilityStatement",
            "The FHIR R4 CapabilityStatement of the audit store, with the FHIRcast `hub.url` (HUB-DISC-09). Needs no token.")
        {
            Open = true,
            Answers = [new(200, "The CapabilityStatement.", new Body(FhirJson, """{"resourceType":"CapabilityStatement","status":"active","kind":"instance","fhirVersion":"4.0.1","format":["json"],"rest":[{"mode":"server","resource":[{"type":"AuditEvent"},{"type":"Provenance"}]}]}"""))],
        },
        new("GET", "/fhir/AuditEvent", "FHIR", "Search AuditEvents", "A searchset Bundle with keyset paging (`next` links carry `_cursor`).")
        {
            Query = AuditSearch,
            Answers = [new(200, "The matching AuditEvents.", new Body(FhirJson, SearchBundle)), BadSearch],
        },
        new("GET", "/fhir/AuditEvent/{id}", "FHIR", "Read an AuditEvent", "One AuditEvent by id.")
        {
            Answers =
            [
                new(200, "The AuditEvent.", new Body(FhirJson, """{"resourceType":"AuditEvent","id":"0193…","action":"E","outcome":"0"}""")),
                Error(404, "An unknown id.", "not-found", "No AuditEvent with id 'nope'."),
            ],
        },
        new("GET", "/fhir/Provenance", "FHIR", "Search Provenance", "Provenance of shared content: `target`, `agent`, `recorded`, `_count`, `_sort`.")
        {
            Query =
            [
                new("target", "`Type/id` of a shared resource.", "Observation/obs-1"),
                new("agent", "Subscriber name.", "Reporting"),
                new("recorded", "Like `date` of AuditEvent.", "ge2025-03-01"),
                new("_count", "Page size, default 50, at most 1000.", "50"),
                new("_sort", "`-recorded` (default) or `recorded`.", "-recorded"),
                new("_cursor", "Opaque: the next page, from a `next` link.", "MTc5"),
            ],
            Answers = [new(200, "The matching Provenance.", new Body(FhirJson, SearchBundle.Replace("AuditEvent", "Provenance"))), BadSearch],
        },
        new("GET", "/api/audit/dead-letters", "Audit", "Audit records that could not be stored",
            "The newest 500 audit documents PostgreSQL refused even alone (their text escaped), with the reason; normally empty (docs/audit.md).")
        {
            Answers =
            [
                new(200, "The dead letters, newest first.", new Body("application/json",
                    """[{"id":"0193…","at":"2026-11-30T12:00:00+00:00","documentType":"AuditRecord","error":"…","document":"{…}"}]""")),
            ],
        },
        new("GET", "/fhir/Provenance/{id}", "FHIR", "Read a Provenance", "One Provenance by id.")
        {
            Answers =
            [
                new(200, "The Provenance.", new Body(FhirJson, """{"resourceType":"Provenance","id":"0193…","target":[{"reference":"Observation/obs-1"}]}""")),
                Error(404, "An unknown id.", "not-found", "No Provenance with id 'nope'."),
            ],
        },
    ];

    public static readonly IReadOnlyDictionary<string, Operation> ByKey = All.ToDictionary(o => o.Key);

    /// <summary>Answers of every operation, when `Hub:Auth:Mode=Jwt` (except the open ones) and always (429, 500).</summary>
    public static Answer[] Common(Operation operation, bool tokens)
    {
        var formOnly = operation.Key == Key("POST", "/api/hub");
        var answers = new List<Answer>();
        if (tokens && !operation.Open)
        {
            answers.Add(formOnly
                ? new(401, "No valid bearer token (`WWW-Authenticate: Bearer`); text/plain on the subscription form.",
                    new Body(FhirJson, Outcome("login", "A valid bearer token is required (Authorization: Bearer <token>); it is missing, expired, not yet valid, or not from this hub's issuer and audience."), OperationOutcomeSchema))
                : Error(401, "No valid bearer token (`WWW-Authenticate: Bearer`).", "login", "A valid bearer token is required (Authorization: Bearer <token>); it is missing, expired, not yet valid, or not from this hub's issuer and audience."));
            answers.Add(Error(403, "The token lacks the scope, or is bound to another topic (docs/security.md).", "forbidden", "The token has no `fhircast/Patient-open.write` scope."));
        }
        answers.Add(Error(429, "Over `Hub:Limits:RequestsPerSecondPerClient`; retry after `Retry-After`.", "throttled", "Too many requests from this client; retry after the time in Retry-After."));
        answers.Add(Error(500, "An unexpected failure (logged).", "exception", "The hub failed to process the request; it has been logged."));
        return answers.ToArray();
    }

    /// <summary>Descriptions of the route values.</summary>
    public static string PathParameter(string name) => name switch
    {
        "topic" => "The FHIRcast topic (session), exactly as subscribed.",
        "endpointId" => "The id at the end of the `hub.channel.endpoint` a subscribe returned.",
        _ => "The resource or run id.",
    };

    public static string PathExample(string name) => name switch
    {
        "topic" => Topic,
        "endpointId" => "988e6c52a6d5d6b13e9231c6927aaba5e5870719",
        _ => "d1b6964562724ebdae3f68444cd6b705",
    };
}
