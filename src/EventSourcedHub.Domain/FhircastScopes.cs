namespace EventSourcedHub.Domain;

/// <summary>
/// SMART FHIRcast scopes (HUB-AUTH-02): `fhircast/{event|*}.{read|write|*}`. `read` lets an app receive an event,
/// `write` lets it request one. Event names compare case-insensitively, like everywhere in FHIRcast.
/// </summary>
public sealed class FhircastScopes
{
    private readonly List<(string Event, bool Read, bool Write)> _grants = [];
    private readonly HashSet<string> _other = new(StringComparer.Ordinal);

    private FhircastScopes()
    {
    }

    public static FhircastScopes Parse(IEnumerable<string> scopes)
    {
        var parsed = new FhircastScopes();
        foreach (var scope in scopes.SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
        {
            if (!scope.StartsWith("fhircast/", StringComparison.OrdinalIgnoreCase))
            {
                parsed._other.Add(scope);
                continue;
            }
            var body = scope["fhircast/".Length..];
            var dot = body.LastIndexOf('.');
            if (dot <= 0) continue;
            var access = body[(dot + 1)..].ToLowerInvariant();
            if (access is not ("read" or "write" or "*")) continue;
            parsed._grants.Add((body[..dot], access is "read" or "*", access is "write" or "*"));
        }
        return parsed;
    }

    public bool CanRead(string eventName) => _grants.Any(g => g.Read && Covers(g.Event, eventName));

    public bool CanWrite(string eventName) => _grants.Any(g => g.Write && Covers(g.Event, eventName));

    /// <summary>Any FHIRcast read grant: enough to read a session's context or history.</summary>
    public bool CanReadAny => _grants.Any(g => g.Read);

    public bool CanWriteAny => _grants.Any(g => g.Write);

    /// <summary>A non-FHIRcast scope such as `system/AuditEvent.read`, compared exactly.</summary>
    public bool Has(string scope) => _other.Contains(scope);

    /// <summary>The requested events this token may receive (HUB-AUTH-03, AMB-25): the subscription is narrowed to them.</summary>
    public string[] Readable(IEnumerable<string> requested) => requested.Where(CanRead).ToArray();

    private static bool Covers(string granted, string eventName) => granted == "*" || EventName.Comparer.Equals(granted, eventName);
}
