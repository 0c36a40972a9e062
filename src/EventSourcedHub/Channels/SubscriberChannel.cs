using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace EventSourcedHub.Channels;

/// <summary>How a subscriber's socket ended. <see cref="EndedByHub"/>: the hub ended the subscription first and has recorded it.</summary>
public sealed record ChannelClosed(int? CloseCode, string Reason, bool EndedByHub);

/// <summary>A notification the subscriber must acknowledge on the socket (HUB-DIST-04).</summary>
public sealed record AwaitedAck(string EventId, string EventName, long Version);

/// <summary>
/// What became of a written notification that awaited an ack: acked with <see cref="Status"/> at <see cref="AckedAt"/>,
/// not acked within the ack timeout (<see cref="TimedOut"/>), or neither because the socket closed first. Not
/// <see cref="Awaited"/>: the subscriber is exempt from acks, and the outcome records only the write.
/// </summary>
public sealed record AckOutcome(AwaitedAck Ack, DateTimeOffset SentAt, DateTimeOffset? AckedAt, int? Status, bool TimedOut, bool Awaited = true);

/// <summary>An acknowledgement with a non-2xx status (HUB-DIST-05).</summary>
public sealed record RefusedAck(string EventId, string EventName, int Status);

/// <summary>
/// One subscriber's WebSocket: a bounded FIFO of frames written by one loop, so the topic's dispatcher never waits for
/// a slow subscriber (HUB-DIST-03), and a read loop that takes acknowledgements and notices when the peer closes or fails.
/// </summary>
public sealed class SubscriberChannel
{
    private readonly WebSocket _socket;
    private readonly Channel<Frame> _outbound;
    private readonly int _maxInboundBytes;
    private readonly TimeProvider _clock;
    private readonly Func<RefusedAck, Task> _onRefused;
    private readonly Action<AckOutcome>? _onAckOutcome;
    private readonly bool _awaitsAcks;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, (string EventName, DateTimeOffset SentAt, long Version)> _awaitingAck = new();
    private long _deliveredThrough;
    private readonly CancellationTokenSource _abort = new();
    private volatile string? _hubEndReason;
    private volatile string? _abortReason;
    private volatile bool _shuttingDown;
    private volatile bool _ended;

    // CommittedAt: a live notification's commit time for the delivery metrics (Observability/HubMetrics.Delivered); 0 for other frames.
    private sealed record Frame(ReadOnlyMemory<byte> Utf8, bool CloseAfter, AwaitedAck? Ack, long CommittedAt = 0);

    /// <param name="awaitsAcks">False for a subscriber exempt from acks (`Hub:AckTimeoutSeconds=0`, `Hub:AcklessSubscribers`):
    /// nothing is awaited, so it is never timed out, and its acks are ignored like any other frame.</param>
    public SubscriberChannel(string topic, string endpointId, WebSocket socket, int queueCapacity, int maxInboundBytes,
        TimeProvider clock, Func<RefusedAck, Task> onRefused, ILogger logger, Action<AckOutcome>? onAckOutcome = null, bool awaitsAcks = true)
    {
        _onAckOutcome = onAckOutcome;
        _awaitsAcks = awaitsAcks;
        _logger = logger;
        Topic = topic;
        EndpointId = endpointId;
        _socket = socket;
        _maxInboundBytes = maxInboundBytes;
        _clock = clock;
        _onRefused = onRefused;
        _outbound = Channel.CreateBounded<Frame>(new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public string Topic { get; }
    public string EndpointId { get; }

    /// <summary>
    /// The stream version up to which this subscriber has everything it subscribed to: the oldest notification still
    /// awaiting its ack, less one, else the last one written. A reconnect within the grace resumes after it.
    /// </summary>
    public long ResumePoint => _awaitingAck.IsEmpty ? Interlocked.Read(ref _deliveredThrough) : _awaitingAck.Values.Min(a => a.Version) - 1;

    /// <summary>Marks the stream version at which the subscription was confirmed on this socket.</summary>
    public void ConfirmedAt(long version) => Interlocked.Exchange(ref _deliveredThrough, version);

    /// <summary>Set while the subscription includes `heartbeat` (HUB-HB-02).</summary>
    public bool WantsHeartbeat { get; set; }

    /// <summary>Queues a frame. A subscriber whose queue is full is cut off rather than waited for.</summary>
    public void Send(ReadOnlyMemory<byte> utf8, AwaitedAck? ack = null, long committedAt = 0)
    {
        if (!_outbound.Writer.TryWrite(new Frame(utf8, false, ack, committedAt)) && _hubEndReason is null)
            Abort("subscriber could not keep up with its notifications");
    }

    public void Send(string text) => Send(Encoding.UTF8.GetBytes(text));

    /// <summary>Queues a frame, waiting up to a few seconds for room; a subscriber that takes no frame at all is cut off.</summary>
    public async Task SendWhenRoomAsync(ReadOnlyMemory<byte> utf8, AwaitedAck? ack, CancellationToken ct)
    {
        using var patience = CancellationTokenSource.CreateLinkedTokenSource(ct, _abort.Token);
        patience.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            await _outbound.Writer.WriteAsync(new Frame(utf8, false, ack), patience.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            if (!ct.IsCancellationRequested && _hubEndReason is null) Abort("subscriber could not keep up with its catch-up");
        }
    }

    /// <summary>Ends the subscription from the hub's side: the denial is the last frame, then the socket closes with 1000 (HUB-WS-07).</summary>
    public void End(string denial, string reason)
    {
        if (_hubEndReason is not null) return;
        _hubEndReason = reason;
        if (!_outbound.Writer.TryWrite(new Frame(Encoding.UTF8.GetBytes(denial), true, null))) Abort(reason);
        _outbound.Writer.TryComplete();
    }

    /// <summary>Notifications sent longer than <paramref name="timeout"/> ago and still not acknowledged (HUB-DIST-06); each is reported once.</summary>
    public IReadOnlyList<AwaitedAck> TakeOverdue(TimeSpan timeout)
    {
        var cutoff = _clock.GetUtcNow() - timeout;
        var overdue = new List<AwaitedAck>();
        foreach (var (eventId, sent) in _awaitingAck)
        {
            if (sent.SentAt <= cutoff && _awaitingAck.TryRemove(eventId, out _))
            {
                var ack = new AwaitedAck(eventId, sent.EventName, sent.Version);
                overdue.Add(ack);
                Observability.HubMetrics.AckTimedOut();
                if (!_ended) _onAckOutcome?.Invoke(new AckOutcome(ack, sent.SentAt, null, null, TimedOut: true));
            }
        }
        return overdue;
    }

    private void Abort(string reason)
    {
        _abortReason ??= reason;
        _abort.Cancel();
    }

    /// <summary>Runs the socket until it closes. <paramref name="stopping"/> is the hub shutting down (close 1001).</summary>
    public async Task<ChannelClosed> RunAsync(CancellationToken stopping)
    {
        using var shutdown = stopping.Register(EndForShutdown);
        var writer = WriteLoopAsync();
        var closed = await ReadLoopAsync();
        _outbound.Writer.TryComplete();
        _abort.Cancel();
        await writer;
        // Written but neither acked nor overdue when the socket ended. They stay awaited: ResumePoint still needs them.
        _ended = true;
        foreach (var (eventId, sent) in _awaitingAck)
            _onAckOutcome?.Invoke(new AckOutcome(new AwaitedAck(eventId, sent.EventName, sent.Version), sent.SentAt, null, null, TimedOut: false));
        return closed;
    }

    private void EndForShutdown()
    {
        _shuttingDown = true;
        _outbound.Writer.TryComplete();
        _ = CloseQuietlyAsync(WebSocketCloseStatus.EndpointUnavailable, "hub shutting down");
        _abort.CancelAfter(TimeSpan.FromSeconds(2));
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            await foreach (var frame in _outbound.Reader.ReadAllAsync(_abort.Token))
            {
                var sentAt = _clock.GetUtcNow();
                if (frame.Ack is { } ack && _awaitsAcks) _awaitingAck[ack.EventId] = (ack.EventName, sentAt, ack.Version);
                try
                {
                    await _socket.SendAsync(frame.Utf8, WebSocketMessageType.Text, true, _abort.Token);
                    if (frame.CommittedAt != 0) Observability.HubMetrics.Delivered(frame.CommittedAt);
                }
                catch when (frame.Ack is { } unsent)
                {
                    // Never written: no ack is awaited and no receipt is due.
                    _awaitingAck.TryRemove(unsent.EventId, out _);
                    throw;
                }
                if (frame.Ack is { } written && written.Version > Interlocked.Read(ref _deliveredThrough)) Interlocked.Exchange(ref _deliveredThrough, written.Version);
                if (frame.Ack is { } unawaited && !_awaitsAcks) _onAckOutcome?.Invoke(new AckOutcome(unawaited, sentAt, null, null, TimedOut: false, Awaited: false));
                if (frame.CloseAfter)
                {
                    await CloseQuietlyAsync(WebSocketCloseStatus.NormalClosure, _hubEndReason ?? "");
                    // Give the peer a moment to answer the close, then stop reading.
                    _abort.CancelAfter(TimeSpan.FromSeconds(5));
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // The read loop reports how the socket ended.
        }
        if (_abortReason is not null) _socket.Abort();
    }

    private async Task<ChannelClosed> ReadLoopAsync()
    {
        // Held for the socket's whole life (a receive is always pending), so it is small: an ack is ~100 bytes, and a
        // longer message is gathered in `message` over several receives. 8 KB here was ~80 MB of heap per 10,000 sockets.
        var buffer = new byte[512];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer.AsMemory(), _abort.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    var code = (int?)_socket.CloseStatus ?? 1005;
                    if (_socket.State == WebSocketState.CloseReceived)
                        await CloseQuietlyAsync(WebSocketCloseStatus.NormalClosure, "");
                    return Closed(code, _socket.CloseStatusDescription);
                }
                if (message.Length + result.Count > _maxInboundBytes)
                {
                    await CloseQuietlyAsync(WebSocketCloseStatus.MessageTooBig, "message too big");
                    return Closed(1009, "message too big");
                }
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                if (result.MessageType == WebSocketMessageType.Text) await TakeAckAsync(message.GetBuffer().AsMemory(0, (int)message.Length));
                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            return Closed(1006, _abortReason ?? "connection lost");
        }
    }

    /// <summary>
    /// `{id, status}`; a missing status means 200 (Medplum's client sends `{id}` or `{id, timestamp}`), a string status is
    /// read as a number (rulings.md 2). Malformed acks and acks for unknown ids are ignored (HUB-DIST-10), and so is any
    /// other text, e.g. the `{"hub.channel.endpoint": …}` that OHIF's extension sends after connecting.
    /// </summary>
    private async Task TakeAckAsync(ReadOnlyMemory<byte> utf8)
    {
        if (!await TryTakeAckAsync(utf8) && _logger.IsEnabled(LogLevel.Debug))
        {
            var text = Encoding.UTF8.GetString(utf8.Span[..Math.Min(utf8.Length, 200)]);
            _logger.LogDebug("Ignored a text frame on endpoint {Endpoint} of topic {Topic} that acknowledges no awaited notification: {Frame}", EndpointId, Topic, text);
        }
    }

    private async Task<bool> TryTakeAckAsync(ReadOnlyMemory<byte> utf8)
    {
        string? eventId;
        int status;
        try
        {
            using var ack = JsonDocument.Parse(utf8);
            var root = ack.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String) return false;
            eventId = id.GetString();
            status = 200;
            if (root.TryGetProperty("status", out var s))
            {
                if (s.ValueKind == JsonValueKind.Number && s.TryGetInt32(out var n)) status = n;
                else if (s.ValueKind == JsonValueKind.String && int.TryParse(s.GetString(), out var parsed)) status = parsed;
                else return false;
            }
        }
        catch (JsonException)
        {
            return false;
        }
        if (eventId is null || !_awaitingAck.TryRemove(eventId, out var awaited)) return false;
        _onAckOutcome?.Invoke(new AckOutcome(new AwaitedAck(eventId, awaited.EventName, awaited.Version), awaited.SentAt, _clock.GetUtcNow(), status, TimedOut: false));
        if (status is < 200 or > 299) await _onRefused(new RefusedAck(eventId, awaited.EventName, status));
        return true;
    }

    private ChannelClosed Closed(int code, string? peerReason)
    {
        if (_hubEndReason is { } reason) return new ChannelClosed(1000, reason, EndedByHub: true);
        // Going away on a hub shutdown is a normal close, whatever the peer answered in time.
        if (_shuttingDown) return new ChannelClosed(1001, "hub shutting down", EndedByHub: false);
        return new ChannelClosed(code, _abortReason ?? (string.IsNullOrEmpty(peerReason) ? $"closed by subscriber ({code})" : peerReason), EndedByHub: false);
    }

    private async Task CloseQuietlyAsync(WebSocketCloseStatus status, string description)
    {
        try
        {
            if (_socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                await _socket.CloseOutputAsync(status, description, CancellationToken.None);
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Already gone: nothing left to tell the peer.
        }
    }
}
