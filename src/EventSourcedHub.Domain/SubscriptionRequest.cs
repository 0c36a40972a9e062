using System.Globalization;
using System.Text.RegularExpressions;

namespace EventSourcedHub.Domain;

/// <summary>A form-encoded subscription request (HUB-SUB-01) after validation.</summary>
public abstract record SubscriptionRequest(string Topic)
{
    public const string DefaultSubscriberName = "anonymous";

    /// <summary>
    /// Validates the form fields of `POST {hub}` in the order received. Each rule is a HUB-SUB / HUB-UNS requirement;
    /// a rejection here changes nothing. Fields the hub does not read are ignored, among them WebSub's `hub.callback`
    /// and `hub.secret`, which clients written for FHIRcast 2 still send with `hub.channel.type=websocket`.
    /// </summary>
    public static Decision<SubscriptionRequest> Parse(IReadOnlyList<KeyValuePair<string, string>> fields)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in fields)
        {
            if (!StorableText.IsStorable(key) || !StorableText.IsStorable(value))
                return StorableText.Refused($"The form field `{StorableText.Escape(key)}`");
            if (NotificationRequest.HasControlCharacters(key) || NotificationRequest.HasControlCharacters(value))
                return Rejection.Invalid($"`{key.Replace('\0', ' ')}`: form fields must not contain control characters.");
            if (key.Length == 0)
                return Rejection.Invalid("The form has a field without a name; send `name=value` pairs separated by `&`.");
            if (!form.TryAdd(key, value))
                return Rejection.Invalid($"`{key}` appears more than once; each parameter may appear at most once (HUB-SUB-01).");
        }

        var mode = form.GetValueOrDefault("hub.mode");
        if (mode is not ("subscribe" or "unsubscribe"))
            return Rejection.Invalid("`hub.mode` must be `subscribe` or `unsubscribe`.");
        if (!string.Equals(form.GetValueOrDefault("hub.channel.type")?.Trim(), "websocket", StringComparison.OrdinalIgnoreCase))
            return Rejection.Invalid("`hub.channel.type` must be `websocket`.");
        // Not trimmed: the topic must match the `hub.topic` of event requests exactly.
        var topic = form.GetValueOrDefault("hub.topic") ?? "";
        if (topic.Trim().Length == 0)
            return Rejection.Invalid("`hub.topic` is required and must not be empty.");

        var endpoint = ReadEndpoint(form);
        if (endpoint.IsRejected) return endpoint.Rejection!;

        if (mode == "unsubscribe")
        {
            return endpoint.Value is { } id
                ? new UnsubscribeRequest(topic, id)
                : Rejection.Invalid("`hub.channel.endpoint` is required to unsubscribe.");
        }

        var events = ParseEvents(form.GetValueOrDefault("hub.events"));
        if (events.Length == 0)
            return Rejection.Invalid("`hub.events` is required and must name at least one event.");
        if (events.Any(e => e.Contains('*')))
            return Rejection.Invalid("Wildcards such as `*` are not supported in `hub.events`; list the event names (HUB-GEN-06).");

        string? name = null;
        if (form.TryGetValue("subscriber.name", out var givenName))
        {
            name = givenName.Trim();
            if (name.Length == 0)
                return Rejection.Invalid("`subscriber.name` must not be empty when present.");
        }

        // `hub.lease` is the older spelling some clients (OHIF's FHIRcast extension) still send.
        int? lease = null;
        foreach (var leaseField in new[] { "hub.lease_seconds", "hub.lease" })
        {
            if (!form.TryGetValue(leaseField, out var leaseText)) continue;
            var parsed = ParseLease(leaseText);
            if (parsed is null)
                return Rejection.Invalid($"`{leaseField}` must be a positive whole number of seconds.");
            if (lease is not null && lease != parsed)
                return Rejection.Invalid("`hub.lease_seconds` and `hub.lease` ask for different leases; send one of them.");
            lease = parsed;
        }

        string? resumeAfter = null;
        if (form.TryGetValue("resume.after", out var resume))
        {
            resumeAfter = resume.Trim();
            if (resumeAfter.Length == 0)
                return Rejection.Invalid("`resume.after` must name the id of the last event the app received.");
            if (endpoint.Value is not null)
                return Rejection.Invalid("`resume.after` starts a new subscription; it cannot be combined with `hub.channel.endpoint`.");
        }

        return new SubscribeRequest(topic, events, name, lease, endpoint.Value, resumeAfter);
    }

    /// <summary>`hub.events` is a set: trimmed, empty items dropped, repeats (in any case) collapsed to the first spelling (HUB-SUB-04).</summary>
    public static string[] ParseEvents(string? list) =>
        (list ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Distinct(EventName.Comparer)
            .ToArray();

    private static int? ParseLease(string text)
    {
        text = text.Trim();
        if (text.Length == 0 || !text.All(char.IsAsciiDigit)) return null;
        // Leases beyond int range are capped later by the hub's maximum anyway.
        var value = decimal.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? d : decimal.MaxValue;
        if (value <= 0) return null;
        return value > int.MaxValue ? int.MaxValue : (int)value;
    }

    private static readonly Regex EndpointId = new("^[A-Za-z0-9_-]{1,128}$", RegexOptions.Compiled);

    /// <summary>The endpoint may be given as the full URL or the bare id, as `hub.channel.endpoint` or `endpoint` (rulings.md 4).</summary>
    private static Decision<string?> ReadEndpoint(Dictionary<string, string> form)
    {
        var given = new[] { "hub.channel.endpoint", "endpoint" }
            .Select(k => form.GetValueOrDefault(k)?.Trim())
            .Where(v => !string.IsNullOrEmpty(v))
            .Select(v => EndpointIdOf(v!))
            .Distinct()
            .ToArray();
        if (given.Length == 0) return (string?)null;
        if (given.Length > 1)
            return Rejection.Invalid("`hub.channel.endpoint` and `endpoint` name different endpoints.");
        var id = given[0];
        if (!EndpointId.IsMatch(id))
            return Rejection.Invalid("`hub.channel.endpoint` is not an endpoint this hub issued.");
        return id;
    }

    public static string EndpointIdOf(string endpoint)
    {
        var path = endpoint.Split('?', '#')[0].TrimEnd('/');
        var slash = path.LastIndexOf('/');
        return slash >= 0 ? path[(slash + 1)..] : path;
    }
}

/// <param name="ResumeAfter">The id of the last event the app saw, to resume from (an extension of this hub).</param>
public sealed record SubscribeRequest(string Topic, string[] Events, string? SubscriberName, int? LeaseSeconds, string? EndpointId, string? ResumeAfter = null)
    : SubscriptionRequest(Topic);

public sealed record UnsubscribeRequest(string Topic, string EndpointId) : SubscriptionRequest(Topic);
