using System.Diagnostics;
using EventSourcedHub.Storage;

namespace EventSourcedHub.Observability;

/// <summary>
/// The hub's spans (source <see cref="SourceName"/>). One publish is one trace: the request (ASP.NET Core), `hub.append`
/// (decide and append, with the store's Npgsql spans), `hub.commit` (the writer's wait for its group commit) and
/// `hub.distribute` (the topic dispatcher sending the committed events). A group commit is a trace of its own,
/// `hub.group_commit`, linked to the append of every writer in the batch, because it serves many traces at once.
/// </summary>
/// <remarks>Spans carry no topic, id or context, only event counts and versions.</remarks>
public static class HubTracing
{
    public const string SourceName = "EventSourcedHub";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>One write of a topic: its turn, the decision, the commit and the hand-over to the commit observers.</summary>
    public static Activity? StartAppend() => Source.StartActivity("hub.append");

    /// <summary>The writer waiting for the group commit that takes its append.</summary>
    public static Activity? StartCommit() => Source.StartActivity("hub.commit");

    /// <summary>A group commit: a new trace linked to each append it commits.</summary>
    public static Activity? StartCommitBatch(IReadOnlyList<PendingAppend> batch)
    {
        // The commit loop was started inside whichever request first needed it; none of its work belongs to that trace.
        Activity.Current = null;
        var links = batch.Where(a => a.Trace != default).Select(a => new ActivityLink(a.Trace)).ToArray();
        var activity = Source.StartActivity("hub.group_commit", ActivityKind.Internal, parentContext: default, links: links);
        activity?.SetTag("hub.commit.batch_size", batch.Count);
        return activity;
    }

    /// <summary>
    /// A topic dispatcher distributing what a commit of this process appended, in the trace of that commit. Commits of
    /// other processes carry no trace here: they get no span.
    /// </summary>
    public static Activity? StartDistribution(Appended appended)
    {
        // The dispatcher's loop was started inside the first commit it was told of; later work is not part of that trace.
        Activity.Current = null;
        if (appended.Trace == default) return null;
        var activity = Source.StartActivity("hub.distribute", ActivityKind.Internal, appended.Trace);
        activity?.SetTag("hub.events", appended.Events.Count);
        activity?.SetTag("hub.stream.first_version", appended.FirstVersion);
        return activity;
    }
}
