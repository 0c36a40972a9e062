using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>
/// A subscriber's WebSocket, as a FHIRcast app holds it. One loop keeps reading (so pings are answered, as in a real
/// client); tests take frames from its queue, so waiting for a frame never disturbs the socket.
/// </summary>
public sealed class TestSubscriber : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket;
    private readonly Channel<string?> _frames = Channel.CreateUnbounded<string?>();
    private readonly Task _pump;

    private TestSubscriber(ClientWebSocket socket, string endpoint)
    {
        _socket = socket;
        Endpoint = endpoint;
        _pump = Task.Run(PumpAsync);
    }

    public string Endpoint { get; }
    public WebSocketState State => _socket.State;
    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public static async Task<TestSubscriber> ConnectAsync(string endpoint)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        using var timeout = new CancellationTokenSource(DefaultWait);
        await socket.ConnectAsync(new Uri(endpoint), timeout.Token);
        return new TestSubscriber(socket, endpoint);
    }

    /// <summary>Reads every frame into the queue; null marks the hub's close (or a broken connection).</summary>
    private async Task PumpAsync()
    {
        var buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage) continue;
                _frames.Writer.TryWrite(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        _frames.Writer.TryWrite(null);
        _frames.Writer.TryComplete();
    }

    /// <summary>The next text frame as raw text, or null when the hub closed the socket. Throws OperationCanceledException on time-out.</summary>
    public async Task<string?> ReceiveTextAsync(TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? DefaultWait);
        try
        {
            return await _frames.Reader.ReadAsync(timeout.Token);
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    public async Task<JsonObject> ReceiveAsync(TimeSpan? wait = null)
    {
        var text = await ReceiveTextAsync(wait) ?? throw new Xunit.Sdk.XunitException("The hub closed the socket instead of sending a message.");
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>Receives a notification and acknowledges it the way Medplum's client does: `{id}` with no status.</summary>
    public async Task<JsonObject> ReceiveAndAckAsync()
    {
        var message = await ReceiveAsync();
        await SendAsync(new JsonObject { ["id"] = (string?)message["id"] }.ToJsonString());
        return message;
    }

    /// <summary>Asserts that no frame arrives within <paramref name="wait"/>.</summary>
    public async Task AssertNothingReceivedAsync(TimeSpan wait)
    {
        try
        {
            var text = await ReceiveTextAsync(wait);
            Assert.Fail($"expected no message, got: {text ?? "<close>"}");
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reads until the hub closes the socket; returns the frames before the close.</summary>
    public async Task<List<JsonObject>> ReceiveUntilClosedAsync(TimeSpan? wait = null)
    {
        var frames = new List<JsonObject>();
        while (await ReceiveTextAsync(wait) is { } text) frames.Add(JsonNode.Parse(text)!.AsObject());
        await _pump;
        return frames;
    }

    public Task SendAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    /// <summary>Starts the close handshake and waits until the hub has answered it.</summary>
    public async Task CloseAsync(WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure)
    {
        using var timeout = new CancellationTokenSource(DefaultWait);
        await _socket.CloseOutputAsync(status, "bye", timeout.Token);
        await _pump.WaitAsync(DefaultWait);
    }

    /// <summary>Drops the TCP connection without a close handshake, as a crashed app would.</summary>
    public void Abort() => _socket.Abort();

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
                await _pump.WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException)
            {
            }
        }
        _socket.Abort();
        await _pump;
        _socket.Dispose();
    }
}
