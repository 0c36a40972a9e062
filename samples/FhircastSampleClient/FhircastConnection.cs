using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace FhircastSamples;

/// <summary>
/// One FHIRcast subscription as an app holds it: subscribe (form POST), the WebSocket with its confirmation, every
/// notification acknowledged, events published as JSON, get current context. A background loop reads the socket so
/// that the hub's pings are answered while the app is busy.
/// </summary>
public sealed class FhircastConnection : IAsyncDisposable
{
    private readonly HttpClient _http;
    private readonly ClientWebSocket _socket;
    private readonly Channel<JsonObject> _notifications = Channel.CreateUnbounded<JsonObject>();
    private readonly Task _reader;

    private FhircastConnection(HttpClient http, ClientWebSocket socket, Uri hub, string topic)
    {
        _http = http;
        _socket = socket;
        Hub = hub;
        Topic = topic;
        _reader = Task.Run(ReadAsync);
    }

    public Uri Hub { get; }
    public string Topic { get; }

    /// <summary>Subscribes to <paramref name="events"/> as <paramref name="name"/> (`subscriber.name`), connects and waits for the confirmation.</summary>
    public static async Task<FhircastConnection> SubscribeAsync(SampleOptions options, string[] events, CancellationToken ct)
    {
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        if (options.Token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.Token);
        using var response = await http.PostAsync(options.Hub, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["hub.channel.type"] = "websocket",
            ["hub.mode"] = "subscribe",
            ["hub.topic"] = options.Topic,
            ["hub.events"] = string.Join(",", events),
            ["subscriber.name"] = options.Name,
        }), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"Subscribe failed with {(int)response.StatusCode}: {body}");
        var endpoint = (string?)JsonNode.Parse(body)?["hub.channel.endpoint"] ?? throw new InvalidOperationException($"No endpoint in {body}");

        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(endpoint), ct);
        var confirmation = JsonNode.Parse(await ReceiveTextAsync(socket, ct) ?? "null") as JsonObject;
        if ((string?)confirmation?["hub.mode"] != "subscribe")
            throw new InvalidOperationException($"The hub did not confirm the subscription: {confirmation?.ToJsonString()}");
        return new FhircastConnection(http, socket, options.Hub, options.Topic);
    }

    /// <summary>The next notification of one of <paramref name="eventNames"/> (others are skipped; every one was acknowledged).</summary>
    public async Task<JsonObject> NextAsync(CancellationToken ct, params string[] eventNames)
    {
        while (true)
        {
            var notification = await _notifications.Reader.ReadAsync(ct);
            if (eventNames.Contains(EventName(notification), StringComparer.OrdinalIgnoreCase)) return notification;
        }
    }

    public static string? EventName(JsonObject notification) => (string?)notification["event"]?["hub.event"];

    /// <summary>Posts an event request and returns its status; anything but 2xx throws with the hub's answer.</summary>
    public async Task<int> PublishAsync(string eventName, JsonArray context, string? versionId, CancellationToken ct)
    {
        var evt = new JsonObject { ["hub.topic"] = Topic, ["hub.event"] = eventName };
        if (versionId is not null) evt["context.versionId"] = versionId;
        evt["context"] = context;
        var request = new JsonObject
        {
            ["timestamp"] = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["id"] = Guid.NewGuid().ToString(),
            ["event"] = evt,
        };
        using var content = new StringContent(request.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await _http.PostAsync(Hub, content, ct);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{eventName} was refused with {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        return (int)response.StatusCode;
    }

    /// <summary>Get current context: `GET {hub}/{topic}`.</summary>
    public async Task<JsonObject> CurrentContextAsync(CancellationToken ct)
    {
        using var response = await _http.GetAsync($"{Hub.AbsoluteUri.TrimEnd('/')}/{Uri.EscapeDataString(Topic)}", ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"Get current context failed with {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private async Task ReadAsync()
    {
        try
        {
            while (await ReceiveTextAsync(_socket, CancellationToken.None) is { } text)
            {
                if (JsonNode.Parse(text) is not JsonObject message || message["event"] is null) continue;
                // Acknowledge first (FHIRcast 3.0 acks on the socket), then hand the notification to the app.
                var ack = new JsonObject { ["id"] = (string?)message["id"], ["status"] = 200 }.ToJsonString();
                await _socket.SendAsync(Encoding.UTF8.GetBytes(ack), WebSocketMessageType.Text, true, CancellationToken.None);
                _notifications.Writer.TryWrite(message);
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        _notifications.Writer.TryComplete();
    }

    private static async Task<string?> ReceiveTextAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
        }
    }

    /// <summary>Closes the socket normally (1000), which ends the subscription without a SyncError.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
                await _reader.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException)
            {
            }
        }
        _socket.Abort();
        await _reader;
        _socket.Dispose();
        _http.Dispose();
    }
}
