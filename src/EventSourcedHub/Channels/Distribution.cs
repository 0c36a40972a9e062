using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using Marten;

namespace EventSourcedHub.Channels;

/// <summary>
/// Hands committed events to one dispatcher per topic. Each dispatcher processes its topic's events strictly in stream
/// order, so every subscriber sees one and the same order (HUB-EVT-09, HUB-DIST-03).
/// </summary>
public sealed class Distribution(IDocumentStore store, ChannelRegistry channels, Microsoft.Extensions.Options.IOptions<HubOptions> options,
    ILogger<Distribution> logger) : ICommitObserver, IRemoteCommitObserver, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, TopicDispatcher> _dispatchers = new();
    private readonly CancellationTokenSource _stopping = new();
    private Timer? _eviction;

    public void Committed(Appended appended)
    {
        if (_eviction is null)
        {
            var period = TimeSpan.FromSeconds(Math.Clamp(options.Value.IdleTopicSeconds / 2.0, 0.5, 60));
            var timer = new Timer(_ => EvictIdle(), null, period, period);
            if (Interlocked.CompareExchange(ref _eviction, timer, null) is not null) timer.Dispose();
        }
        // A dispatcher retired by an eviction refuses the signal: the next one starts from the store.
        while (true)
        {
            var dispatcher = _dispatchers.GetOrAdd(appended.Topic, topic => new TopicDispatcher(topic, store, channels, logger, _stopping.Token));
            if (dispatcher.Signal(appended)) return;
            _dispatchers.TryRemove(new KeyValuePair<string, TopicDispatcher>(appended.Topic, dispatcher));
        }
    }

    /// <summary>
    /// Retires the dispatchers of topics idle for `Hub:IdleTopicSeconds` with no live socket here; a later commit starts
    /// a new one from the stored state. (What it forgets: which anchor each subscriber was last told of, so an implied
    /// open may be sent once more, as after a restart.)
    /// </summary>
    internal void EvictIdle()
    {
        var idleFor = TimeSpan.FromSeconds(options.Value.IdleTopicSeconds);
        var live = channels.All.Select(c => c.Topic).ToHashSet();
        foreach (var (topic, dispatcher) in _dispatchers)
        {
            if (!live.Contains(topic) && dispatcher.TryRetire(idleFor))
                _dispatchers.TryRemove(new KeyValuePair<string, TopicDispatcher>(topic, dispatcher));
        }
    }

    /// <summary>Topics with a dispatcher in this process.</summary>
    internal int Held => _dispatchers.Count;

    /// <summary>
    /// Another hub process appended to a topic (issue 14). Only a topic this process dispatches can have sockets here
    /// (a socket's confirmation is appended by the process holding it, which starts the dispatcher); it reads the new
    /// events from the stream, in order, like any gap.
    /// </summary>
    public void CommittedElsewhere(string topic, long lastVersion)
    {
        if (_dispatchers.TryGetValue(topic, out var dispatcher)) dispatcher.SignalUpTo(lastVersion);
    }

    public void CatchUp()
    {
        foreach (var dispatcher in _dispatchers.Values) dispatcher.SignalUpTo(long.MaxValue);
    }

    public async ValueTask DisposeAsync()
    {
        if (_eviction is not null) await _eviction.DisposeAsync();
        await _stopping.CancelAsync();
        await Task.WhenAll(_dispatchers.Values.Select(d => d.Completion));
    }
}

/// <summary>
/// Distributes one topic's events. It keeps its own fold of the stream, so "who is subscribed when event n is sent" is
/// decided by stream order alone. Signals may arrive out of order (two commits racing back to the caller); a gap is
/// filled by reading the committed events from the store, so nothing is skipped and nothing is sent twice.
/// </summary>
internal sealed class TopicDispatcher
{
    private readonly string _topic;
    private readonly IDocumentStore _store;
    private readonly ChannelRegistry _channels;
    private readonly ILogger _logger;
    private readonly Channel<Appended> _signals = Channel.CreateUnbounded<Appended>(new UnboundedChannelOptions { SingleReader = true });

    // A signal without events: "the stream holds events up to this version" (appended by another process).
    private static readonly IReadOnlyList<object> NoEvents = [];
    private readonly SortedDictionary<long, object> _pending = new();
    private TopicSession? _state;
    private long? _resumeAfter;
    private readonly Dictionary<(string EndpointId, string AnchorType), string> _lastNotifiedAnchor = new();
    private long _committedAt;

    public TopicDispatcher(string topic, IDocumentStore store, ChannelRegistry channels, ILogger logger, CancellationToken stopping)
    {
        _topic = topic;
        _store = store;
        _channels = channels;
        _logger = logger;
        Completion = Task.Run(() => RunAsync(stopping));
    }

    public Task Completion { get; }

    // Signals handed in and not yet handled, when the last was handled, and whether this dispatcher was retired: all
    // under the lock, so a signal is never handed to a dispatcher that has stopped reading.
    private readonly object _gate = new();
    private int _outstanding;
    private long _lastUsed = Environment.TickCount64;
    private bool _retired;

    /// <returns>false when this dispatcher was retired; the caller starts a new one.</returns>
    public bool Signal(Appended appended)
    {
        lock (_gate)
        {
            if (_retired) return false;
            _outstanding++;
            _signals.Writer.TryWrite(appended);
            return true;
        }
    }

    /// <summary>Stops this dispatcher if it has had nothing to do for <paramref name="idleFor"/>.</summary>
    public bool TryRetire(TimeSpan idleFor)
    {
        lock (_gate)
        {
            if (_retired) return true;
            if (_outstanding > 0 || Environment.TickCount64 - _lastUsed < idleFor.TotalMilliseconds) return false;
            _retired = true;
            _signals.Writer.TryComplete();
            return true;
        }
    }

    private void Handled()
    {
        lock (_gate)
        {
            _outstanding--;
            _lastUsed = Environment.TickCount64;
        }
    }

    /// <summary>
    /// The stream has events up to <paramref name="version"/> (<see cref="long.MaxValue"/>: up to its end). A retired
    /// dispatcher ignores it: it had no socket to send to.
    /// </summary>
    public void SignalUpTo(long version) => Signal(new Appended(_topic, version == long.MaxValue ? long.MaxValue : version + 1, NoEvents));

    private async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var appended in _signals.Reader.ReadAllAsync(stopping))
            {
                try
                {
                    await DispatchAsync(appended, stopping);
                    if (appended.Events.Count == 0) Observability.HubMetrics.CaughtUp(appended.KnownAt);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Keep the last distributed version: the next signal reads everything after it from the store.
                    _logger.LogError(e, "Distribution on topic {Topic} failed; it resumes from the store with the next event", _topic);
                    _resumeAfter ??= _state?.Version ?? appended.FirstVersion - 1;
                    _state = null;
                    _pending.Clear();
                }
                finally
                {
                    Handled();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Hub shutting down.
        }
    }

    private async Task DispatchAsync(Appended appended, CancellationToken ct)
    {
        using var tracing = Observability.HubTracing.StartDistribution(appended);
        _committedAt = appended.Events.Count > 0 ? appended.KnownAt : Observability.HubMetrics.CommitTimeUnknown;
        var remote = appended.Events.Count == 0;
        if (_state is null)
        {
            // A remote signal says nothing about where this process stood: start from the last version it had seen.
            var from = remote ? (_resumeAfter ?? appended.FirstVersion - 1) + 1 : Math.Min(appended.FirstVersion, (_resumeAfter ?? long.MaxValue - 1) + 1);
            _state = await StateBeforeAsync(Math.Min(from, long.MaxValue - 1), ct);
            _resumeAfter = null;
        }
        for (var i = 0; i < appended.Events.Count; i++)
        {
            var version = appended.FirstVersion + i;
            if (version > _state.Version) _pending[version] = appended.Events[i];
        }
        var last = remote ? appended.FirstVersion == long.MaxValue ? long.MaxValue : appended.FirstVersion - 1 : _pending.Count == 0 ? 0 : _pending.Keys.Max();
        if (_pending.Count > 0) last = Math.Max(last, _pending.Keys.Max());
        if (last <= _state.Version) return;

        if (last == long.MaxValue || _pending.Count < last - _state.Version)
        {
            await using var query = _store.QuerySession();
            var missing = await query.Events.FetchStreamAsync(_topic, version: last == long.MaxValue ? 0 : last, fromVersion: _state.Version + 1, token: ct);
            foreach (var e in missing) _pending.TryAdd(e.Version, e.Data);
        }
        while (_pending.Remove(_state.Version + 1, out var next)) await ProcessAsync(next, ct);
    }

    private async Task<TopicSession> StateBeforeAsync(long version, CancellationToken ct)
    {
        if (version <= 1) return TopicSession.Start(_topic);
        await using var query = _store.QuerySession();
        var state = await TopicSnapshots.AsOfAsync(query, _topic, version - 1, ct) ?? TopicSession.Start(_topic);
        return state with { Version = version - 1 };
    }

    private async Task ProcessAsync(object @event, CancellationToken ct)
    {
        var before = _state!;
        var after = TopicSession.Evolve(before, @event) with { Version = before.Version + 1 };
        _state = after;

        if (@event is INotificationEvent notification) Distribute(before, notification, after.Version);
        switch (@event)
        {
            case SubscriptionConfirmed confirmed when after.Subscriptions.TryGetValue(confirmed.EndpointId, out var subscription):
                if (_channels.Find(confirmed.EndpointId) is not { } channel) break;
                channel.ConfirmedAt(after.Version);
                channel.WantsHeartbeat = subscription.WantsHeartbeat;
                channel.Send(ChannelMessages.Confirmation(_topic, subscription.Events, subscription.LeaseSeconds));
                if (subscription.ResumeAfterVersion is { } resumeAfter)
                    await CatchUpAsync(channel, subscription, resumeAfter, after.Version, ct);
                else
                    foreach (var open in CurrentContext.OpensFor(after, subscription)) channel.Send(open);
                break;
            case SubscriptionRenewed renewed when after.Subscriptions.TryGetValue(renewed.EndpointId, out var subscription)
                                                  && subscription.Status == SubscriptionStatus.Active:
                if (_channels.Find(renewed.EndpointId) is not { } renewedChannel) break;
                renewedChannel.WantsHeartbeat = subscription.WantsHeartbeat;
                renewedChannel.Send(ChannelMessages.Confirmation(_topic, subscription.Events, subscription.LeaseSeconds));
                break;
            case Unsubscribed e:
                Deny(before, e.EndpointId, EndReasons.Unsubscribed);
                break;
            case LeaseExpired e:
                Deny(before, e.EndpointId, EndReasons.LeaseExpired);
                break;
            case SubscriptionAbandoned e:
                Deny(before, e.EndpointId, EndReasons.Abandoned);
                break;
            case SubscriberDropped e:
                Deny(before, e.EndpointId, e.Reason);
                break;
        }
    }

    /// <summary>
    /// A resuming subscriber gets, in stream order, exactly the notifications it subscribed to between the event it last
    /// saw and its confirmation; live events follow because this dispatcher handles the next event only afterwards.
    /// </summary>
    private async Task CatchUpAsync(SubscriberChannel channel, Subscription subscription, long resumeAfter, long confirmedAt, CancellationToken ct)
    {
        if (confirmedAt - 1 <= resumeAfter) return;
        await using var query = _store.QuerySession();
        var missed = await query.Events.FetchStreamAsync(_topic, version: confirmedAt - 1, fromVersion: resumeAfter + 1, token: ct);
        foreach (var e in missed)
        {
            if (e.Data is not INotificationEvent n) continue;
            // Waits for room in the subscriber's queue: a catch-up may be longer than the queue, and the app is reading.
            if (subscription.Receives(n.EventName))
                await channel.SendWhenRoomAsync(Encoding.UTF8.GetBytes(n.Notification), AwaitsAck(n.EventId, n.EventName, e.Version), ct);
            if (n is ContextOpened { Derived: { Length: > 0 } derived } open && !subscription.Receives(open.EventName))
            {
                foreach (var d in derived.Where(d => subscription.Receives(d.EventName)))
                    await channel.SendWhenRoomAsync(Encoding.UTF8.GetBytes(d.Notification), AwaitsAck(d.EventId, d.EventName, e.Version), ct);
            }
        }
    }

    /// <summary>Sends a notification to every subscriber of its event, in stream order, as one shared UTF-8 buffer.</summary>
    private void Distribute(TopicSession before, INotificationEvent notification, long version)
    {
        var utf8 = Encoding.UTF8.GetBytes(notification.Notification);
        var awaitsAck = AwaitsAck(notification.EventId, notification.EventName, version);
        foreach (var subscription in before.Subscriptions.Values)
        {
            // A hub-raised SyncError goes to every SyncError subscriber except the one that failed (HUB-SE-04).
            if (notification is SyncErrorRaised raised && raised.EndpointId == subscription.EndpointId) continue;
            if (!subscription.Receives(notification.EventName)) continue;
            if (notification is ContextOpened opened) RememberNotified(subscription.EndpointId, opened.AnchorType, opened.AnchorId);
            _channels.Find(subscription.EndpointId)?.Send(utf8, awaitsAck, _committedAt);
        }
        if (notification is ContextOpened { Derived: { Length: > 0 } derived } open)
        {
            foreach (var d in derived) DistributeDerived(before, open, d, version);
        }
    }

    /// <summary>
    /// An implied open goes only to subscribers of `T-open` that did not get the original open, and not again for an
    /// anchor they were last told about (HUB-CTX-09).
    /// </summary>
    private void DistributeDerived(TopicSession before, ContextOpened open, DerivedOpen derived, long version)
    {
        byte[]? utf8 = null;
        foreach (var subscription in before.Subscriptions.Values)
        {
            if (!subscription.Receives(derived.EventName) || subscription.Receives(open.EventName)) continue;
            if (_lastNotifiedAnchor.TryGetValue((subscription.EndpointId, derived.AnchorType), out var last) && last == derived.AnchorId) continue;
            RememberNotified(subscription.EndpointId, derived.AnchorType, derived.AnchorId);
            utf8 ??= Encoding.UTF8.GetBytes(derived.Notification);
            _channels.Find(subscription.EndpointId)?.Send(utf8, AwaitsAck(derived.EventId, derived.EventName, version), _committedAt);
        }
    }

    private void RememberNotified(string endpointId, string anchorType, string anchorId) =>
        _lastNotifiedAnchor[(endpointId, anchorType)] = anchorId;

    // Acks are awaited for every event except SyncErrors and heartbeats, which must not cause SyncErrors (HUB-DIST-10).
    private static AwaitedAck? AwaitsAck(string eventId, string eventName, long version) =>
        new EventName(eventName) is var name && !name.IsSyncError && !name.IsHeartbeat ? new AwaitedAck(eventId, eventName, version) : null;

    private void Deny(TopicSession before, string endpointId, string reason)
    {
        foreach (var key in _lastNotifiedAnchor.Keys.Where(k => k.EndpointId == endpointId).ToList()) _lastNotifiedAnchor.Remove(key);
        if (!before.Subscriptions.TryGetValue(endpointId, out var subscription)) return;
        _channels.Find(endpointId)?.End(ChannelMessages.Denial(_topic, subscription.Events, reason), reason);
    }
}
