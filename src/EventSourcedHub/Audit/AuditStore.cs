using Marten;

namespace EventSourcedHub.Audit;

/// <summary>The audit store's part of the Marten setup: its documents and the columns it searches on.</summary>
public static class AuditStore
{
    public static void Configure(StoreOptions opts)
    {
        // Written by AuditTrail from the committed log, off the write path (issue 11); none of them is inline.
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
        opts.Schema.For<ChainLink>().Duplicate(x => x.Topic).Duplicate(x => x.StreamVersion);
        opts.Schema.For<ProvenanceRecord>()
            .Duplicate(x => x.Topic)
            .Duplicate(x => x.Recorded)
            .Duplicate(x => x.StreamVersion)
            .Duplicate(x => x.Anchor)
            .Duplicate(x => x.Target)
            .Duplicate(x => x.Agent);
        opts.Schema.For<AuditProgress>().Duplicate(x => x.Version);
        opts.Schema.For<AuditDeadLetter>().Duplicate(x => x.At);
    }
}
