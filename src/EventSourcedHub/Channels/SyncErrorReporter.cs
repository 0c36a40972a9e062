using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Security;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Channels;

/// <summary>
/// Turns what a subscriber's socket tells the hub into topic events: refused acks and ack time-outs raise SyncErrors
/// (HUB-DIST-05/06), an unresponsive subscriber is then ended (HUB-DIST-07), an abnormal close raises one too (HUB-WS-11).
/// Each is retried until it is stored (e.g. while the database is away). The app is the agent of what it did (a refused
/// ack, a close); the hub of what it decided alone (an ack time-out, a lost connection, a grace that ran out).
/// </summary>
public sealed class SyncErrorReporter(TopicStream topics, IOptions<HubOptions> options, TimeProvider clock, IHostApplicationLifetime lifetime,
    ILogger<SyncErrorReporter> logger)
{
    public Task RefusedAsync(SubscriberChannel channel, string subscriberName, RefusedAck ack) =>
        AppendAsync(channel.Topic, Actor.Subscriber(subscriberName), state =>
            Cause(state, channel.EndpointId, ack.EventId, ack.EventName, name => $"Subscriber '{name}' refused {ack.EventName} (status {ack.Status})") is { } cause
                ? TopicDecisions.RaiseSyncError(state, cause)
                : []);

    public Task UnresponsiveAsync(SubscriberChannel channel, AwaitedAck ack) =>
        AppendAsync(channel.Topic, Actor.Hub, state => TopicDecisions.Drop(state, channel.EndpointId, null, EndReasons.Unresponsive, clock.GetUtcNow(),
            Cause(state, channel.EndpointId, ack.EventId, ack.EventName,
                name => $"Subscriber '{name}' did not acknowledge {ack.EventName} within {options.Value.AckTimeoutSeconds} s and was unsubscribed")));

    /// <summary>
    /// Records a closed socket: within a reconnect grace it only disconnects; otherwise closes other than 1000, 1001 and
    /// 1005 raise a SyncError for the others.
    /// </summary>
    public Task DroppedAsync(string topic, string endpointId, string subscriberName, int? closeCode, string reason, long resumePoint) =>
        AppendAsync(topic, Actor.Subscriber(subscriberName), state =>
            TopicDecisions.Disconnect(state, endpointId, closeCode, reason, clock.GetUtcNow(), TimeSpan.FromSeconds(options.Value.ReconnectGraceSeconds), resumePoint)
            ?? DropAt(state, topic, endpointId, closeCode, reason));

    /// <summary>
    /// A socket connects to an endpoint the log holds as connected while no socket is here: the earlier one was lost
    /// without a trace (the hub was killed). The subscription ends; its loss happened long ago, so no SyncError now.
    /// </summary>
    public Task LostBeforeAsync(string topic, string endpointId) =>
        AppendAsync(topic, Actor.Hub, state => TopicDecisions.Drop(state, endpointId, null, EndReasons.ConnectionLost, clock.GetUtcNow()));

    /// <summary>The hub process that held the subscriber's socket died (issue 14): it ends now, with a SyncError.</summary>
    public Task ProcessLostAsync(string topic, string endpointId, string node) =>
        AppendAsync(topic, Actor.Hub, state => TopicDecisions.ProcessLost(state, endpointId, node, clock.GetUtcNow(),
            Cause(state, endpointId, Guid.NewGuid().ToString(), SyncErrors.NoEvent,
                name => $"Subscriber '{name}' lost its websocket: the hub process holding it stopped")));

    /// <summary>A dropped subscriber did not come back within the grace: it ends now, with the SyncError IRA asks for.</summary>
    public Task GraceEndedAsync(string topic, string endpointId) =>
        AppendAsync(topic, Actor.Hub, state => state?.Subscriptions.TryGetValue(endpointId, out var s) == true && s.ReconnectBy is not null
            ? TopicDecisions.Drop(state, endpointId, null, EndReasons.ConnectionLost, clock.GetUtcNow(),
                Cause(state, endpointId, Guid.NewGuid().ToString(), SyncErrors.NoEvent,
                    name => $"Subscriber '{name}' lost its websocket and did not reconnect within {options.Value.ReconnectGraceSeconds} s"))
            : []);

    private object[] DropAt(TopicSession? state, string topic, string endpointId, int? closeCode, string reason) =>
        TopicDecisions.Drop(state, endpointId, closeCode, reason, clock.GetUtcNow(),
            TopicDecisions.IsNormalClose(closeCode)
                ? null
                : Cause(state, endpointId, Guid.NewGuid().ToString(), SyncErrors.NoEvent,
                    name => $"Subscriber '{name}' websocket closed abnormally ({closeCode?.ToString() ?? "no close"}: {reason})"));

    private SyncErrorCause? Cause(TopicSession? state, string endpointId, string failedEventId, string failedEventName, Func<string, string> diagnostics)
    {
        if (state is null || !state.Subscriptions.TryGetValue(endpointId, out var subscription)) return null;
        var text = diagnostics(subscription.SubscriberName);
        var outcome = SyncErrorOutcome.Json(options.Value.SyncErrorSeverity, failedEventId, failedEventName, subscription.SubscriberName, text);
        return new SyncErrorCause(endpointId, subscription.SubscriberName, failedEventId, failedEventName, text, Guid.NewGuid().ToString(), clock.GetUtcNow(), outcome);
    }

    private async Task AppendAsync(string topic, Actor actor, Func<TopicSession?, object[]> decide)
    {
        var stopping = lifetime.ApplicationStopping;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                // Decided again on each attempt, from the state as it is then.
                await topics.AppendAsync(topic, (state, _, _) => Task.FromResult<Decision<object[]>>(decide(state)), stopping, actor.Headers());
                if (attempt > 1) logger.LogInformation("Recorded the subscriber failure on topic {Topic} after {Attempts} attempts", topic, attempt);
                return;
            }
            catch (Exception e) when (!stopping.IsCancellationRequested && (DatabaseFailures.IsUnavailable(e) || e is TopicBusyException || attempt < 5))
            {
                if (attempt == 1) logger.LogWarning(e, "Could not record a subscriber failure on topic {Topic} yet; retrying until it is stored", topic);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 200 * attempt)), stopping);
                }
                catch (OperationCanceledException)
                {
                    logger.LogError("Shutting down before a subscriber failure on topic {Topic} could be recorded", topic);
                    return;
                }
            }
            catch (Exception e)
            {
                logger.LogError(e, "Could not record a subscriber failure on topic {Topic}", topic);
                return;
            }
        }
    }
}

/// <summary>Checks every connected socket for notifications not acknowledged in time (HUB-DIST-06).</summary>
public sealed class AckWatch(ChannelRegistry channels, SyncErrorReporter reporter, IOptions<HubOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // 0: ack tracking is off hub-wide; no channel awaits an ack (rulings.md 36).
        if (options.Value.AckTimeoutSeconds == 0) return;
        var timeout = TimeSpan.FromSeconds(options.Value.AckTimeoutSeconds);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(timeout.TotalMilliseconds / 10, 50, 1000)));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var channel in channels.All)
            {
                // One time-out is enough to end the subscription (threshold 1, AMB-20).
                if (channel.TakeOverdue(timeout).FirstOrDefault() is { } overdue) await reporter.UnresponsiveAsync(channel, overdue);
            }
        }
    }
}
