namespace EventSourcedHub.Audit;

/// <summary>
/// What became of one notification written to one subscriber's socket: when it was sent, and the ack's status and
/// latency, or that no ack came within `Hub:AckTimeoutSeconds`. Not a topic-stream event (rulings.md 12): written off
/// the request path by <see cref="AuditWriter"/>.
/// </summary>
public sealed class DeliveryReceipt
{
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";

    /// <summary>The stream version of the notification (an implied open shares its open's version).</summary>
    public long StreamVersion { get; set; }
    public string EventId { get; set; } = "";
    public string EventName { get; set; } = "";
    public string EndpointId { get; set; } = "";
    public string SubscriberName { get; set; } = "";

    /// <summary>When the hub wrote the frame to the socket.</summary>
    public DateTimeOffset SentAt { get; set; }
    public DateTimeOffset? AckedAt { get; set; }

    /// <summary>The ack's status (`{id}` alone counts as 200); null when no ack came.</summary>
    public int? Status { get; set; }
    public double? LatencyMs { get; set; }

    /// <summary>No ack within the ack timeout.</summary>
    public bool TimedOut { get; set; }

    /// <summary>The socket closed before an ack came (and before the timeout).</summary>
    public bool ClosedBeforeAck { get; set; }

    /// <summary>False for a subscriber exempt from acks (`Hub:AckTimeoutSeconds=0`, `Hub:AcklessSubscribers`): the receipt records the write only.</summary>
    public bool AckAwaited { get; set; } = true;
}
