using EventSourcedHub.Http;
using System.Globalization;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using JasperFx.Events;
using Marten;
using Marten.Events.Aggregation;

namespace EventSourcedHub.Replay;

/// <summary>One report's time from its first open to its close, for workflow measures.</summary>
public sealed class ReportSpan
{
    public string ReportId { get; set; } = "";
    public DateTimeOffset Opened { get; set; }
    public DateTimeOffset? Closed { get; set; }
    public double? OpenSeconds { get; set; }
}

/// <summary>What an analyst wants to know of a session at a glance (issue 5, item 8).</summary>
public sealed class SessionSummary
{
    public string Id { get; set; } = "";
    public DateTimeOffset Start { get; set; }
    public DateTimeOffset End { get; set; }
    public long Events { get; set; }
    public int Subscribers { get; set; }
    public int Opens { get; set; }
    public int Closes { get; set; }
    public int Updates { get; set; }
    public int Selects { get; set; }
    public int SyncErrors { get; set; }
    public List<ReportSpan> Reports { get; set; } = [];
}

/// <summary>
/// An asynchronous projection (the Marten daemon, Solo mode): summaries may trail the log by a moment, and never slow
/// down publishing. Rebuildable from the log like every projection.
/// </summary>
public sealed partial class SessionSummaryProjection : SingleStreamProjection<SessionSummary, string>
{
    public SessionSummary Create(IEvent<Subscribed> e) => Touch(new SessionSummary { Id = e.StreamKey!, Start = e.Timestamp, Subscribers = 1 }, e);
    public SessionSummary Create(IEvent<ReplayStarted> e) => Touch(new SessionSummary { Id = e.StreamKey!, Start = e.Timestamp }, e);

    public void Apply(IEvent<Subscribed> e, SessionSummary s) => Touch(s, e).Subscribers++;
    public void Apply(IEvent<ReplayStarted> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<SubscriptionRenewed> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<SubscriptionConfirmed> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<Unsubscribed> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<LeaseExpired> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<SubscriberDropped> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<SubscriberDisconnected> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<SubscriptionAbandoned> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<HomeOpened> e, SessionSummary s) => Touch(s, e);
    public void Apply(IEvent<ContentUpdated> e, SessionSummary s) => Touch(s, e).Updates++;
    public void Apply(IEvent<ContentSelected> e, SessionSummary s) => Touch(s, e).Selects++;
    public void Apply(IEvent<SyncErrorRaised> e, SessionSummary s) => Touch(s, e).SyncErrors++;

    public void Apply(IEvent<NotificationRelayed> e, SessionSummary s)
    {
        if (new EventName(e.Data.EventName).IsSyncError) s.SyncErrors++;
        Touch(s, e);
    }

    public void Apply(IEvent<ContextOpened> e, SessionSummary s)
    {
        Touch(s, e).Opens++;
        if (e.Data.AnchorType == "DiagnosticReport" && !s.Reports.Any(r => r.ReportId == e.Data.AnchorId && r.Closed is null))
            s.Reports.Add(new ReportSpan { ReportId = e.Data.AnchorId, Opened = e.Timestamp });
    }

    public void Apply(IEvent<ContextClosed> e, SessionSummary s)
    {
        Touch(s, e).Closes++;
        if (s.Reports.LastOrDefault(r => r.ReportId == e.Data.AnchorId && r.Closed is null) is { } span)
        {
            span.Closed = e.Timestamp;
            span.OpenSeconds = (e.Timestamp - span.Opened).TotalSeconds;
        }
    }

    private static SessionSummary Touch(SessionSummary s, IEvent e)
    {
        s.End = e.Timestamp;
        s.Events = e.Version;
        return s;
    }
}

/// <summary>`GET /api/sessions?from=&amp;to=`: the summaries of sessions active in that window, oldest first.</summary>
public static class SessionSummaries
{
    public static async Task<IResult> ListAsync(HttpContext http, IQuerySession query)
    {
        if (!TryTime(http, "from", out var from) || !TryTime(http, "to", out var to))
            return Answers.Invalid("`from` and `to` must be ISO 8601 date-times, e.g. 2025-03-01T00:00:00Z.");
        var summaries = query.Query<SessionSummary>().AsQueryable();
        if (from is { } f) summaries = summaries.Where(s => s.End >= f);
        if (to is { } t) summaries = summaries.Where(s => s.Start <= t);
        return Results.Json(await summaries.OrderBy(s => s.Start).ToListAsync(http.RequestAborted));
    }

    private static bool TryTime(HttpContext http, string name, out DateTimeOffset? value)
    {
        value = null;
        if (!http.Request.Query.TryGetValue(name, out var text)) return true;
        if (text.Count != 1 || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)) return false;
        value = parsed;
        return true;
    }
}
