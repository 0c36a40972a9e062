using System.Diagnostics.Metrics;
using EventSourcedHub.Audit;
using EventSourcedHub.Channels;
using EventSourcedHub.Storage;

namespace EventSourcedHub.Observability;

/// <summary>
/// The gauges that read this hub's state when `/metrics` is scraped (meter <see cref="HubMetrics.MeterName"/>, made by
/// the host's meter factory, so they end with the hub).
/// </summary>
public sealed class HubGauges
{
    public HubGauges(IMeterFactory meters, ChannelRegistry channels, AuditWriter audit, AuditTrail trail, HubCluster cluster)
    {
        var meter = meters.Create(HubMetrics.MeterName);
        meter.CreateObservableGauge("eventsourcedhub.websockets.open", () => channels.Count, "{socket}",
            "Subscriber WebSockets connected to this process");
        meter.CreateObservableGauge("eventsourcedhub.audit.queue_depth", () => audit.Waiting, "{document}",
            "Delivery receipts, rejected-request and read audits queued and not stored yet");
        meter.CreateObservableGauge("eventsourcedhub.audit.lag", () => trail.Lag, "{commit}",
            "Commits of this process still waiting for their audit records (only the leader writes the audit trail)");
        meter.CreateObservableGauge("eventsourcedhub.cluster.leader", () => cluster.IsLeader ? 1 : 0, "1",
            "1 while this process leads the cluster (async projections, audit trail, expiry)");
    }
}
