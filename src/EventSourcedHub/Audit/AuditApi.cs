using EventSourcedHub.Http;
using System.Text.Json;
using System.Text.Json.Nodes;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Marten;
using Microsoft.AspNetCore.Http.Extensions;

namespace EventSourcedHub.Audit;

/// <summary>The read side of the audit store: per-session audit and timeline, and FHIR search and read of AuditEvent and Provenance.</summary>
public static class AuditApi
{
    public const string FhirJson = "application/fhir+json";

    private static readonly FhirJsonSerializer Serializer = new();
    private static readonly FhirJsonDeserializer Parser = new();

    public static readonly IReadOnlySet<string> AuditEventParameters =
        new HashSet<string>(["date", "patient", "agent", "subtype", "outcome", "entity", "_count", "_sort", "_cursor"], StringComparer.Ordinal);

    public static readonly IReadOnlySet<string> ProvenanceParameters =
        new HashSet<string>(["target", "agent", "recorded", "_count", "_sort", "_cursor"], StringComparer.Ordinal);

    public static string BaseUrl(HttpRequest request) => $"{request.Scheme}://{request.Host}{request.PathBase}";

    private static IResult Fhir(Resource resource) => Results.Content(Serializer.SerializeToString(resource), FhirJson);

    /// <summary>
    /// `GET /api/sessions/{topic}/audit`: every AuditEvent about the session in the order of what they record (rulings.md
    /// 20, 34): its events, and the reads, rejected requests and deliveries that concern it.
    /// </summary>
    public static async Task<IResult> SessionAuditAsync(string topic, HttpRequest request, IQuerySession query, CancellationToken ct)
    {
        if (!await Storage.TopicDocuments.ExistsAsync(query, topic, ct)) return Answers.NotFound($"Unknown topic '{topic}'.");
        var records = (await query.Query<AuditRecord>().Where(r => r.Topic == topic).ToListAsync(ct))
            .OrderBy(r => r.Recorded).ThenBy(r => r.StreamVersion).ThenBy(r => r.Id, StringComparer.Ordinal).ToList();
        var bundle = SearchSet(request, "AuditEvent", records.Select(r => (r.Id, r.Json)), next: null);
        bundle.Total = records.Count;
        return Fhir(bundle);
    }

    /// <summary>
    /// `GET /api/sessions/{topic}/timeline`: one entry per recorded event (with its deliveries), read and rejected request
    /// about the session, in the order of what they record.
    /// </summary>
    public static async Task<IResult> TimelineAsync(string topic, IQuerySession query, CancellationToken ct)
    {
        if (!await Storage.TopicDocuments.ExistsAsync(query, topic, ct)) return Answers.NotFound($"Unknown topic '{topic}'.");
        var records = (await query.Query<AuditRecord>().Where(r => r.Topic == topic && r.EventType != OffStreamAudit.Delivery).ToListAsync(ct))
            .OrderBy(r => r.Recorded).ThenBy(r => r.StreamVersion).ThenBy(r => r.Id, StringComparer.Ordinal);
        var receipts = (await query.Query<DeliveryReceipt>().Where(d => d.Topic == topic).ToListAsync(ct))
            .ToLookup(d => d.StreamVersion);
        var entries = new JsonArray();
        foreach (var r in records)
        {
            var entry = new JsonObject();
            if (r.StreamVersion > 0) entry["version"] = r.StreamVersion;
            entry["recorded"] = r.Recorded.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
            entry["type"] = r.EventType;
            if (r.StreamVersion == 0)
            {
                // A read or a rejected request: not a stream event, told by its subtype and description.
                entry["subtype"] = r.Subtype;
                entry["agent"] = r.Agent;
                entry["outcome"] = r.Outcome;
                entry["description"] = JsonNode.Parse(r.Json)?["outcomeDesc"]?.GetValue<string>();
                entry["auditEvent"] = r.Id;
                entries.Add(entry);
                continue;
            }
            if (r.EventName is not null) entry["event"] = r.EventName;
            if (r.EventId is not null) entry["id"] = r.EventId;
            if (r.EventName is null) entry["step"] = r.Subtype;
            entry["agent"] = r.Agent;
            entry["outcome"] = r.Outcome;
            entry["auditEvent"] = r.Id;
            if (r.EventName is not null) entry["deliveries"] = Deliveries(receipts[r.StreamVersion]);
            entries.Add(entry);
        }
        return Results.Text(new JsonObject { ["topic"] = topic, ["events"] = entries }.ToJsonString(), "application/json");
    }

    /// <summary>`GET /api/audit/dead-letters`: audit documents PostgreSQL refused even alone, newest first (at most 500).</summary>
    public static async Task<IResult> DeadLettersAsync(IQuerySession query, CancellationToken ct) =>
        Results.Json(await query.Query<AuditDeadLetter>().OrderByDescending(d => d.At).Take(500).ToListAsync(ct));

    /// <summary>One entry per subscriber the notification (or an implied open of it) was written to, in the order sent.</summary>
    private static JsonArray Deliveries(IEnumerable<DeliveryReceipt> receipts)
    {
        var deliveries = new JsonArray();
        foreach (var d in receipts.OrderBy(d => d.SentAt))
        {
            deliveries.Add(new JsonObject
            {
                ["subscriber"] = d.SubscriberName,
                ["endpoint"] = d.EndpointId,
                ["event"] = d.EventName,
                ["sent"] = d.SentAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
                ["status"] = d.Status,
                ["latencyMs"] = d.LatencyMs,
                ["timedOut"] = d.TimedOut,
                ["closedBeforeAck"] = d.ClosedBeforeAck,
                ["ackAwaited"] = d.AckAwaited,
            });
        }
        return deliveries;
    }

    public static async Task<IResult> ReadAuditEventAsync(string id, IQuerySession query, CancellationToken ct)
    {
        var record = await query.LoadAsync<AuditRecord>(id, ct);
        return record is null ? Answers.NotFound($"No AuditEvent with id '{id}'.") : Results.Content(record.Json, FhirJson);
    }

    public static async Task<IResult> ReadProvenanceAsync(string id, IQuerySession query, CancellationToken ct)
    {
        var record = await query.LoadAsync<ProvenanceRecord>(id, ct);
        return record is null ? Answers.NotFound($"No Provenance with id '{id}'.") : Results.Content(record.Json, FhirJson);
    }

    /// <summary>`GET /fhir/AuditEvent?...`: keyset-paged by (recorded, id), so records written meanwhile never shift a page.</summary>
    public static async Task<IResult> SearchAuditEventsAsync(HttpRequest request, IQuerySession query, CancellationToken ct)
    {
        try
        {
            var parameters = FhirSearch.Parameters(request, AuditEventParameters);
            var filter = new SqlFilter();
            FhirSearch.AddDates(filter, parameters, "date", "recorded");
            foreach (var values in FhirSearch.Alternatives(parameters, "patient"))
                AnyOf(filter, values.Select(v => ("d.data @> ^::jsonb", (object)Contains("PatientRefs", FhirSearch.Reference(v, "Patient")))));
            foreach (var values in FhirSearch.Alternatives(parameters, "entity"))
                AnyOf(filter, values.SelectMany(v => new[]
                {
                    ("d.data @> ^::jsonb", (object)Contains("EntityRefs", FhirSearch.Reference(v, null))),
                    ("topic = ^", (object)v),
                }));
            foreach (var values in FhirSearch.Alternatives(parameters, "agent"))
                AnyOf(filter, values.SelectMany(v => new[] { ("agent = ^", (object)v), ("d.data ->> 'EndpointId' = ^", (object)v) }));
            foreach (var values in FhirSearch.Alternatives(parameters, "subtype"))
                AnyOf(filter, values.Select(v => ("lower(subtype) = lower(^)", (object)FhirSearch.Code(v))));
            foreach (var values in FhirSearch.Alternatives(parameters, "outcome"))
            {
                var codes = values.Select(FhirSearch.Code).ToArray();
                if (codes.Any(c => c is not ("0" or "4" or "8" or "12")))
                    throw new SearchRejected(OperationOutcome.IssueType.Invalid, $"outcome must be 0, 4, 8 or 12; got '{string.Join(",", values)}'.");
                AnyOf(filter, codes.Select(c => ("outcome = ^", (object)c)));
            }
            return await PageAsync<AuditRecord>(request, query, parameters, filter, "date", "AuditEvent", r => (r.Recorded, r.Id, r.Json), ct);
        }
        catch (SearchRejected e)
        {
            return Answers.Error(StatusCodes.Status400BadRequest, e.Code, e.Message);
        }
    }

    /// <summary>`GET /fhir/Provenance?...`: same paging as AuditEvent, sorted on `recorded`.</summary>
    public static async Task<IResult> SearchProvenanceAsync(HttpRequest request, IQuerySession query, CancellationToken ct)
    {
        try
        {
            var parameters = FhirSearch.Parameters(request, ProvenanceParameters);
            var filter = new SqlFilter();
            FhirSearch.AddDates(filter, parameters, "recorded", "recorded");
            foreach (var values in FhirSearch.Alternatives(parameters, "target"))
                AnyOf(filter, values.Select(v => ("target = ^", (object)FhirSearch.Reference(v, null))));
            foreach (var values in FhirSearch.Alternatives(parameters, "agent"))
                AnyOf(filter, values.Select(v => ("agent = ^", (object)v)));
            return await PageAsync<ProvenanceRecord>(request, query, parameters, filter, "recorded", "Provenance", r => (r.Recorded, r.Id, r.Json), ct);
        }
        catch (SearchRejected e)
        {
            return Answers.Error(StatusCodes.Status400BadRequest, e.Code, e.Message);
        }
    }

    private static string Contains(string member, string value) => new JsonObject { [member] = new JsonArray(value) }.ToJsonString();

    private static void AnyOf(SqlFilter filter, IEnumerable<(string Clause, object Parameter)> alternatives)
    {
        var list = alternatives.ToList();
        filter.Add("(" + string.Join(" or ", list.Select(a => a.Clause)) + ")", list.Select(a => a.Parameter).ToArray());
    }

    private static async Task<IResult> PageAsync<T>(HttpRequest request, IQuerySession query, Dictionary<string, List<string>> parameters,
        SqlFilter filter, string dateParameter, string resourceType, Func<T, (DateTimeOffset Recorded, string Id, string Json)> key, CancellationToken ct)
        where T : notnull
    {
        var count = FhirSearch.Count(parameters);
        var ascending = FhirSearch.Ascending(parameters, dateParameter);
        if (FhirSearch.ReadCursor(parameters) is var (recorded, id))
            filter.Add(ascending ? "(recorded, d.id) > (^, ^)" : "(recorded, d.id) < (^, ^)", recorded, id);
        var direction = ascending ? "asc" : "desc";
        var sql = $"where {filter.Where} order by recorded {direction}, d.id {direction} limit {count + 1}";
        var rows = (await query.QueryAsync<T>('^', sql, ct, filter.Parameters.ToArray())).Select(key).ToList();

        string? next = null;
        if (rows.Count > count)
        {
            rows.RemoveAt(count);
            var last = rows[^1];
            var nextQuery = request.Query.Where(q => q.Key != "_cursor")
                .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
                .Append(new KeyValuePair<string, string?>("_cursor", FhirSearch.Cursor(last.Recorded, last.Id)));
            next = $"{BaseUrl(request)}{request.Path}{QueryString.Create(nextQuery)}";
        }
        return Fhir(SearchSet(request, resourceType, rows.Select(r => (r.Id, r.Json)), next));
    }

    private static Bundle SearchSet(HttpRequest request, string resourceType, IEnumerable<(string Id, string Json)> resources, string? next)
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Searchset, Id = Guid.NewGuid().ToString(), Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow } };
        bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = request.GetEncodedUrl() });
        if (next is not null) bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = next });
        foreach (var (id, json) in resources)
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = $"{BaseUrl(request)}/fhir/{resourceType}/{id}",
                Resource = Parser.Deserialize<Resource>(json),
                Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match },
            });
        return bundle;
    }
}
