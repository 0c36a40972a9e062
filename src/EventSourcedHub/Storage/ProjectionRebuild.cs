using System.Diagnostics;
using EventSourcedHub.Channels;
using EventSourcedHub.Notifications;
using Marten;

namespace EventSourcedHub.Storage;

/// <summary>
/// `dotnet run --project src/EventSourcedHub -- rebuild`: rebuilds every projection from the event log, e.g. after a
/// projection's code changed or a document was damaged. The log is the record; the documents can always be rebuilt,
/// except the hash chain, which exists to show whether the stored rows were edited.
/// </summary>
public static class ProjectionRebuild
{
    private static (string Name, Func<IDocumentStore, JasperFx.Events.Daemon.IProjectionDaemon, CancellationToken, Task> Rebuild)[] Steps(IReadOnlyList<ISessionDocuments> slices) =>
    [
        ("TopicHead, StoredAnchor and " + string.Join(", ", slices.SelectMany(s => s.DocumentTypes).Select(t => t.Name)), (s, _, ct) => TopicDocuments.RebuildAsync(s, slices, ct)),
        ("AcceptedNotification", (_, d, ct) => d.RebuildProjectionAsync<AcceptedNotificationProjection>(TimeSpan.FromMinutes(10), ct)),
        ("SessionSummary", (_, d, ct) => d.RebuildProjectionAsync<Replay.SessionSummaryProjection>(TimeSpan.FromMinutes(10), ct)),
        // Never the hash chain: recomputing it from the stored rows would bless any edit made to them.
        ("AuditRecord and Provenance", (s, _, ct) => Audit.AuditTrail.RebuildRecordsAsync(s, ct)),
    ];

    public static async Task RunAsync(IDocumentStore store, IEnumerable<ISessionDocuments> slices, int snapshotInterval, TextWriter progress, CancellationToken ct)
    {
        var steps = Steps(slices.ToList());
        using var daemon = await store.BuildProjectionDaemonAsync();
        var total = Stopwatch.StartNew();
        for (var i = 0; i < steps.Length; i++)
        {
            var (name, rebuild) = steps[i];
            var watch = Stopwatch.StartNew();
            await rebuild(store, daemon, ct);
            progress.WriteLine($"{Bar(i + 1, steps.Length)} {i + 1}/{steps.Length} {name} rebuilt in {watch.Elapsed.TotalSeconds:0.00} s");
        }
        var snapshots = await TopicSnapshots.RebuildAsync(store, snapshotInterval, ct);
        progress.WriteLine($"{snapshots} snapshots of sessions recomputed.");
        progress.WriteLine($"All {steps.Length} projections rebuilt from the log in {total.Elapsed.TotalSeconds:0.00} s.");
    }

    private static string Bar(int done, int of) => "[" + new string('#', done * 20 / of).PadRight(20, '-') + "]";
}
