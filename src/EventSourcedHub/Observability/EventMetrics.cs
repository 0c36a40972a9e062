using EventSourcedHub.Domain;
using EventSourcedHub.Storage;

namespace EventSourcedHub.Observability;

/// <summary>
/// Counts what each commit of this process appended: accepted notification events by name (published, replayed or
/// imported), and the SyncErrors the hub raised. One place instead of every slice that appends.
/// </summary>
public sealed class EventMetrics : ICommitObserver
{
    public void Committed(Appended appended)
    {
        foreach (var e in appended.Events)
        {
            switch (e)
            {
                case SyncErrorRaised:
                    HubMetrics.SyncErrorRaised();
                    break;
                // A close the hub composed itself (beyond Hub:Limits:MaxOpenAnchors) was not sent by a client.
                case ContextClosed { Reason: not null }:
                    break;
                case INotificationEvent notification:
                    HubMetrics.EventAccepted(notification.EventName);
                    break;
            }
        }
    }
}
