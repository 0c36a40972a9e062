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
}
