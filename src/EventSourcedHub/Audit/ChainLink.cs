namespace EventSourcedHub.Audit;

/// <summary>One link of a topic's hash chain, written by <see cref="AuditTrail"/> from the committed event (see <see cref="HashChain"/>).</summary>
public sealed class ChainLink
{
    /// <summary>`{topic}\n{stream version}`.</summary>
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public long StreamVersion { get; set; }
    public string EventType { get; set; } = "";

    /// <summary>SHA-256 of the event's canonical content, from its stored row (as verify recomputes it).</summary>
    public string ContentHash { get; set; } = "";

    /// <summary>SHA-256 over the previous link's hash and <see cref="ContentHash"/>.</summary>
    public string Hash { get; set; } = "";

    public static string KeyFor(string topic, long version) => $"{topic}\n{version}";
}
