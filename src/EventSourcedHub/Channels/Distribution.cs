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
public sealed class Distribution(IDocumentStore store, ChannelRegistry channels, ILogger<Distribution> logger) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, TopicDispatcher> _dispatchers = new();
    private readonly CancellationTokenSource _stopping = new();

    public void Committed(Appended appended) =>
        _dispatchers.GetOrAdd(appended.Topic, topic => new TopicDispatcher(topic, store, channels, logger, _stopping.Token)).Signal(appended);

    public async ValueTask DisposeAsync()
    {
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
    private readonly SortedDictionary<long, object> _pending = new();
    private TopicSession? _state;

    public TopicDispatcher(string topic, IDocumentStore store, ChannelRegistry channels, ILogger logger, CancellationToken stopping)
    {
        _topic = topic;
        _store = store;
        _channels = channels;
        _logger = logger;
        Completion = Task.Run(() => RunAsync(stopping));
    }

    public Task Completion { get; }

    public void Signal(Appended appended) => _signals.Writer.TryWrite(appended);

    private async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await foreach (var appended in _signals.Reader.ReadAllAsync(stopping))
            {
                try
                {
                    await DispatchAsync(appended, stopping);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _logger.LogError(e, "Distribution on topic {Topic} failed; it resumes from the store with the next event", _topic);
                    _state = null;
                    _pending.Clear();
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
        _state ??= await StateBeforeAsync(appended.FirstVersion, ct);
        for (var i = 0; i < appended.Events.Count; i++)
        {
            var version = appended.FirstVersion + i;
            if (version > _state.Version) _pending[version] = appended.Events[i];
        }
        if (_pending.Count == 0) return;

        var last = _pending.Keys.Max();
        if (_pending.Count < last - _state.Version)
        {
            await using var query = _store.QuerySession();
            var missing = await query.Events.FetchStreamAsync(_topic, version: last, fromVersion: _state.Version + 1, token: ct);
            foreach (var e in missing) _pending[e.Version] = e.Data;
        }
        while (_pending.Remove(_state.Version + 1, out var next)) Process(next);
    }

    private async Task<TopicSession> StateBeforeAsync(long version, CancellationToken ct)
    {
        if (version <= 1) return TopicSession.Start(_topic);
        await using var query = _store.QuerySession();
        var state = await query.Events.AggregateStreamAsync<TopicSession>(_topic, version - 1, token: ct) ?? TopicSession.Start(_topic);
        state.Version = version - 1;
        return state;
    }

    private void Process(object @event)
    {
        var before = _state!;
        var after = TopicSession.Evolve(before, @event);
        after.Version = before.Version + 1;
        _state = after;

        switch (@event)
        {
            case INotificationEvent notification:
                var utf8 = Encoding.UTF8.GetBytes(notification.Notification);
                foreach (var subscription in before.Subscriptions.Values)
                {
                    if (subscription.Receives(notification.EventName)) _channels.Find(subscription.EndpointId)?.Send(utf8);
                }
                break;
            case SubscriptionConfirmed confirmed when after.Subscriptions.TryGetValue(confirmed.EndpointId, out var subscription):
                if (_channels.Find(confirmed.EndpointId) is not { } channel) break;
                channel.Send(ChannelMessages.Confirmation(_topic, subscription.Events, subscription.LeaseSeconds));
                foreach (var open in CurrentContext.OpensFor(after, subscription)) channel.Send(open);
                break;
            case SubscriptionRenewed renewed when after.Subscriptions.TryGetValue(renewed.EndpointId, out var subscription)
                                                  && subscription.Status == SubscriptionStatus.Active:
                _channels.Find(renewed.EndpointId)?.Send(ChannelMessages.Confirmation(_topic, subscription.Events, subscription.LeaseSeconds));
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
                Deny(before, e.EndpointId, EndReasons.ConnectionLost);
                break;
        }
    }

    private void Deny(TopicSession before, string endpointId, string reason)
    {
        if (!before.Subscriptions.TryGetValue(endpointId, out var subscription)) return;
        _channels.Find(endpointId)?.End(ChannelMessages.Denial(_topic, subscription.Events, reason), reason);
    }
}
