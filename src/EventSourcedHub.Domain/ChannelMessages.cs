using System.Text.Json;

namespace EventSourcedHub.Domain;

/// <summary>The frames the hub itself writes on a subscriber's WebSocket (HUB-WS-02, HUB-WS-07).</summary>
public static class ChannelMessages
{
    public static string Confirmation(string topic, IEnumerable<string> events, int leaseSeconds) =>
        JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["hub.mode"] = "subscribe",
            ["hub.topic"] = topic,
            ["hub.events"] = string.Join(",", events),
            ["hub.lease_seconds"] = leaseSeconds,
        });

    public static string Denial(string topic, IEnumerable<string> events, string reason) =>
        JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["hub.mode"] = "denied",
            ["hub.topic"] = topic,
            ["hub.events"] = string.Join(",", events),
            ["hub.reason"] = reason,
        });

    /// <summary>
    /// The optional `heartbeat` event (HUB-HB-02): removed from STU3 but still expected by IRA tooling; sent only to subscribers
    /// that asked for it. The period is a decimal, as in the ballot drafts.
    /// </summary>
    public static string Heartbeat(string topic, string id, DateTimeOffset now, int periodSeconds) =>
        NotificationText.Compose(
            now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
            id, topic, "heartbeat",
            [JsonSerializer.Serialize(new Dictionary<string, string> { ["key"] = "period", ["decimal"] = periodSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) })]);
}
