using EventSourcedHub.Domain;
using JasperFx.Events;
using Marten.Events.Projections;

namespace EventSourcedHub.Notifications;

/// <summary>
/// Remembers every event id accepted on a topic, so that a retried request (same `id`) gets the original answer and is
/// not distributed twice (HUB-EVT-06). Written in the same transaction as the event, so a racing retry sees it.
/// </summary>
public sealed class AcceptedNotification
{
    public string Id { get; set; } = "";
    public string Topic { get; set; } = "";
    public string EventId { get; set; } = "";
    public long StreamVersion { get; set; }

    /// <summary>The select named resources the hub did not know: the original answer was 206 (HUB-SEL-03).</summary>
    public bool Partial { get; set; }

    public static string KeyFor(string topic, string eventId) => $"{topic}\n{eventId}";
}

public sealed partial class AcceptedNotificationProjection : EventProjection
{
    public AcceptedNotification Create(IEvent<ContextOpened> e) => Remember(e, e.Data);
    public AcceptedNotification Create(IEvent<ContextClosed> e) => Remember(e, e.Data);
    public AcceptedNotification Create(IEvent<HomeOpened> e) => Remember(e, e.Data);
    public AcceptedNotification Create(IEvent<NotificationRelayed> e) => Remember(e, e.Data);
    public AcceptedNotification Create(IEvent<ContentUpdated> e) => Remember(e, e.Data);
    public AcceptedNotification Create(IEvent<ContentSelected> e) => Remember(e, e.Data);
    public AcceptedNotification Create(IEvent<SyncErrorRaised> e) => Remember(e, e.Data);

    private static AcceptedNotification Remember(IEvent e, INotificationEvent data) => new()
    {
        Id = AcceptedNotification.KeyFor(e.StreamKey!, data.EventId),
        Topic = e.StreamKey!,
        EventId = data.EventId,
        StreamVersion = e.Version,
        Partial = data is ContentSelected { Partial: true },
    };
}
