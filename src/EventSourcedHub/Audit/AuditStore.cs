using JasperFx.Events.Projections;
using Marten;

namespace EventSourcedHub.Audit;

/// <summary>The audit store's part of the Marten setup: its inline projections and the columns it searches on.</summary>
public static class AuditStore
{
    public static void Configure(StoreOptions opts)
    {
        opts.Projections.Add<AuditRecordProjection>(ProjectionLifecycle.Inline);
        opts.Schema.For<AuditRecord>()
            .Duplicate(x => x.Topic)
            .Duplicate(x => x.Recorded)
            .Duplicate(x => x.StreamVersion)
            .Duplicate(x => x.Agent)
            .Duplicate(x => x.Subtype)
            .Duplicate(x => x.Outcome)
            .GinIndexJsonData();
        // Not topic-stream events (rulings.md 12): stored in batches by AuditWriter.
        opts.Schema.For<DeliveryReceipt>().Duplicate(x => x.Topic).Duplicate(x => x.StreamVersion);
        opts.Projections.Add(new ChainLinkProjection(), ProjectionLifecycle.Inline);
        opts.Schema.For<ChainLink>().Duplicate(x => x.Topic).Duplicate(x => x.StreamVersion);
        opts.Projections.Add<ProvenanceProjection>(ProjectionLifecycle.Inline);
        opts.Schema.For<ProvenanceRecord>()
            .Duplicate(x => x.Topic)
            .Duplicate(x => x.Recorded)
            .Duplicate(x => x.StreamVersion)
            .Duplicate(x => x.Anchor)
            .Duplicate(x => x.Target)
            .Duplicate(x => x.Agent);
    }
}
