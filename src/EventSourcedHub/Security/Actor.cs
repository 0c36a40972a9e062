using System.Text.Json;
using EventSourcedHub.Domain;

namespace EventSourcedHub.Security;

/// <summary>
/// Who acted, as the audit names it (rulings.md 33): with tokens the client (`client_id`, else `sub`) with a `name` or
/// `fhirUser` claim as display; without, the subscriber name or the network address; the hub itself for what it
/// decides alone (ack time-outs, expiry, evictions).
/// </summary>
public sealed record Actor(string Name, string? Display = null, string? ClientId = null, string? Address = null)
{
    public static readonly Actor Hub = new(Audit.AuditEvents.HubName);

    private const string NameHeader = "agent";
    private const string DisplayHeader = "agent-display";
    private const string ClientHeader = "agent-client";
    private const string AddressHeader = "agent-address";

    /// <summary>The hub, deciding alone.</summary>
    public bool IsHub => Name == Audit.AuditEvents.HubName && ClientId is null && Address is null;

    public static string? AddressOf(HttpContext http) => http.Connection.RemoteIpAddress?.ToString();

    /// <summary>The caller of a request; <paramref name="subscriberName"/> names it when no token does.</summary>
    public static Actor Of(HttpContext http, string? subscriberName = null)
    {
        var address = AddressOf(http);
        var user = http.User;
        if (user.Identity?.IsAuthenticated == true && (user.FindFirst("client_id")?.Value ?? user.FindFirst("sub")?.Value) is { Length: > 0 } client)
            return new Actor(client, user.FindFirst("name")?.Value ?? user.FindFirst("fhirUser")?.Value, client, address);
        if (!string.IsNullOrWhiteSpace(subscriberName)) return new Actor(subscriberName, Address: address);
        return new Actor(address ?? "anonymous", Address: address);
    }

    /// <summary>A subscriber acting through its socket (connect, ack, close), which carries no token.</summary>
    public static Actor Subscriber(string name) => new(name);

    /// <summary>Event metadata that carries the actor to the audit trail, which runs after the commit.</summary>
    public Dictionary<string, object> Headers()
    {
        var headers = new Dictionary<string, object> { [NameHeader] = StorableText.Escape(Name) };
        if (Display is not null) headers[DisplayHeader] = StorableText.Escape(Display);
        if (ClientId is not null) headers[ClientHeader] = StorableText.Escape(ClientId);
        if (Address is not null) headers[AddressHeader] = Address;
        return headers;
    }

    /// <summary>The actor in the headers Marten read back with an event.</summary>
    public static Actor? FromHeaders(IReadOnlyDictionary<string, object>? headers)
    {
        string? Text(string name) => headers is not null && headers.TryGetValue(name, out var v) ? v?.ToString() : null;
        return Text(NameHeader) is { } name ? new Actor(name, Text(DisplayHeader), Text(ClientHeader), Text(AddressHeader)) : null;
    }

    /// <summary>The actor recorded with an event (`mt_events.headers` as text), or null for events recorded without one.</summary>
    public static Actor? FromHeaders(string? headersJson)
    {
        if (string.IsNullOrEmpty(headersJson)) return null;
        using var document = JsonDocument.Parse(headersJson);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) return null;
        string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return Text(NameHeader) is { } name ? new Actor(name, Text(DisplayHeader), Text(ClientHeader), Text(AddressHeader)) : null;
    }
}
