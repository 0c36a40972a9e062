using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>A subscriber's WebSocket, as a FHIRcast app holds it.</summary>
public sealed class TestSubscriber : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket;
    private readonly byte[] _buffer = new byte[1024 * 1024];

    private TestSubscriber(ClientWebSocket socket, string endpoint)
    {
        _socket = socket;
        Endpoint = endpoint;
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

    /// <summary>The next text frame as raw text, or null when the hub closed the socket.</summary>
    public async Task<string?> ReceiveTextAsync(TimeSpan? wait = null)
    {
        using var timeout = new CancellationTokenSource(wait ?? DefaultWait);
        var length = 0;
        while (true)
        {
            var result = await _socket.ReceiveAsync(_buffer.AsMemory(length), timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            length += result.Count;
            if (result.EndOfMessage) return Encoding.UTF8.GetString(_buffer, 0, length);
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
        return frames;
    }

    public Task SendAsync(string text) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);

    public async Task CloseAsync(WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure)
    {
        using var timeout = new CancellationTokenSource(DefaultWait);
        await _socket.CloseAsync(status, "bye", timeout.Token);
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
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
            }
        }
        _socket.Dispose();
    }
}
