using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;

namespace EventSourcedHub.Channels;

/// <summary>How a subscriber's socket ended. <see cref="EndedByHub"/>: the hub ended the subscription first and has recorded it.</summary>
public sealed record ChannelClosed(int? CloseCode, string Reason, bool EndedByHub);

/// <summary>
/// One subscriber's WebSocket: a bounded FIFO of frames written by one loop, so the topic's dispatcher never waits for
/// a slow subscriber (HUB-DIST-03), and a read loop that notices when the peer closes or fails.
/// </summary>
public sealed class SubscriberChannel
{
    private readonly WebSocket _socket;
    private readonly Channel<Frame> _outbound;
    private readonly int _maxInboundBytes;
    private readonly CancellationTokenSource _abort = new();
    private volatile string? _hubEndReason;
    private volatile string? _abortReason;

    private sealed record Frame(ReadOnlyMemory<byte> Utf8, bool CloseAfter);

    public SubscriberChannel(string topic, string endpointId, WebSocket socket, int queueCapacity, int maxInboundBytes)
    {
        Topic = topic;
        EndpointId = endpointId;
        _socket = socket;
        _maxInboundBytes = maxInboundBytes;
        _outbound = Channel.CreateBounded<Frame>(new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    public string Topic { get; }
    public string EndpointId { get; }

    /// <summary>Queues a frame. A subscriber whose queue is full is cut off rather than waited for.</summary>
    public void Send(ReadOnlyMemory<byte> utf8)
    {
        if (!_outbound.Writer.TryWrite(new Frame(utf8, false)) && _hubEndReason is null)
            Abort("subscriber could not keep up with its notifications");
    }

    public void Send(string text) => Send(Encoding.UTF8.GetBytes(text));

    /// <summary>Ends the subscription from the hub's side: the denial is the last frame, then the socket closes with 1000 (HUB-WS-07).</summary>
    public void End(string denial, string reason)
    {
        if (_hubEndReason is not null) return;
        _hubEndReason = reason;
        if (!_outbound.Writer.TryWrite(new Frame(Encoding.UTF8.GetBytes(denial), true))) Abort(reason);
        _outbound.Writer.TryComplete();
    }

    private void Abort(string reason)
    {
        _abortReason ??= reason;
        _abort.Cancel();
    }

    /// <summary>Runs the socket until it closes. <paramref name="stopping"/> is the hub shutting down (close 1001).</summary>
    public async Task<ChannelClosed> RunAsync(CancellationToken stopping)
    {
        using var shutdown = stopping.Register(() => EndForShutdown());
        var writer = WriteLoopAsync();
        var closed = await ReadLoopAsync();
        _outbound.Writer.TryComplete();
        _abort.Cancel();
        await writer;
        return closed;
    }

    private void EndForShutdown()
    {
        _abortReason ??= "hub shutting down";
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
                await _socket.SendAsync(frame.Utf8, WebSocketMessageType.Text, true, _abort.Token);
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
        var buffer = new byte[8 * 1024];
        var messageBytes = 0;
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
                messageBytes = result.EndOfMessage ? 0 : messageBytes + result.Count;
                if (messageBytes > _maxInboundBytes)
                {
                    await CloseQuietlyAsync(WebSocketCloseStatus.MessageTooBig, "message too big");
                    return Closed(1009, "message too big");
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            return Closed(1006, _abortReason ?? "connection lost");
        }
    }

    private ChannelClosed Closed(int code, string? peerReason) => _hubEndReason is { } reason
        ? new ChannelClosed(1000, reason, EndedByHub: true)
        : new ChannelClosed(code, _abortReason ?? (string.IsNullOrEmpty(peerReason) ? $"closed by subscriber ({code})" : peerReason), EndedByHub: false);

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
