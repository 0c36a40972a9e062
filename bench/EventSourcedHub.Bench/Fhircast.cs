using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace EventSourcedHub.Bench;

/// <summary>One notification as a subscriber read it: its id, name, the `context.versionId` the hub stamped, when it arrived.</summary>
public readonly record struct Delivery(string Id, string? EventName, string? VersionId, long ReceivedAt);

/// <summary>
/// A WebSocket subscriber that acknowledges every frame carrying an `id` (notifications, and also frames that need no
/// ack, which the hub ignores) and reports each notification as it arrives. Unknown notifications (e.g. a close the hub
/// generated itself) are acked and reported like any other; the caller ignores what it did not publish.
/// </summary>
public sealed class AckingSubscriber
{
    private readonly ClientWebSocket _socket;
    private Task _reader = Task.CompletedTask;

    private AckingSubscriber(ClientWebSocket socket) => _socket = socket;

    /// <summary>Subscribes with the form, connects the endpoint, waits for the confirmation frame, then reads until stopped.</summary>
    public static async Task<AckingSubscriber> ConnectAsync(HttpClient http, string topic, string events, string name, Action<Delivery> onDelivery, CancellationToken stop)
    {
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["hub.channel.type"] = "websocket", ["hub.mode"] = "subscribe", ["hub.topic"] = topic, ["hub.events"] = events, ["subscriber.name"] = name,
        });
        using var response = await http.PostAsync("/api/hub", form);
        var answer = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"subscribe {name} to {topic}: {(int)response.StatusCode} {answer}");
        var endpoint = JsonDocument.Parse(answer).RootElement.GetProperty("hub.channel.endpoint").GetString()!;
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(endpoint), CancellationToken.None);
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        if (!await ReceiveAsync(socket, buffer, message, timeout.Token)) throw new InvalidOperationException($"{name}: the socket closed before the confirmation.");
        using (var confirmation = JsonDocument.Parse(message.GetBuffer().AsMemory(0, (int)message.Length)))
        {
            if (!confirmation.RootElement.TryGetProperty("hub.mode", out var mode) || mode.GetString() != "subscribe")
                throw new InvalidOperationException($"{name}: expected a confirmation first, got {Encoding.UTF8.GetString(message.ToArray())}");
        }
        var subscriber = new AckingSubscriber(socket);
        subscriber._reader = Task.Run(() => subscriber.ReadAsync(buffer, onDelivery, stop));
        return subscriber;
    }

    /// <summary>Frames that were not JSON objects with an id (other than confirmations and denials): should stay 0.</summary>
    public long Unreadable { get; private set; }

    public async Task CloseAsync()
    {
        _socket.Abort();
        await _reader;
        _socket.Dispose();
    }

    private async Task ReadAsync(byte[] buffer, Action<Delivery> onDelivery, CancellationToken stop)
    {
        var socket = _socket;
        using var message = new MemoryStream();
        try
        {
            while (await ReceiveAsync(socket, buffer, message, stop))
            {
                var now = Stopwatch.GetTimestamp();
                string id;
                string? name = null, version = null;
                using (var frame = JsonDocument.Parse(message.GetBuffer().AsMemory(0, (int)message.Length)))
                {
                    var root = frame.RootElement;
                    if (root.TryGetProperty("hub.mode", out _)) continue; // a confirmation (after a renewal) or a denial
                    if (!root.TryGetProperty("id", out var idElement) || idElement.GetString() is not { } text)
                    {
                        Unreadable++;
                        continue;
                    }
                    id = text;
                    if (root.TryGetProperty("event", out var e) && e.ValueKind == JsonValueKind.Object)
                    {
                        if (e.TryGetProperty("hub.event", out var n)) name = n.GetString();
                        if (e.TryGetProperty("context.versionId", out var v)) version = v.GetString();
                    }
                }
                onDelivery(new Delivery(id, name, version, now));
                await socket.SendAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { id })), WebSocketMessageType.Text, true, stop);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads one whole message into <paramref name="message"/>; false when the peer closed.</summary>
    private static async Task<bool> ReceiveAsync(ClientWebSocket socket, byte[] buffer, MemoryStream message, CancellationToken ct)
    {
        message.SetLength(0);
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), ct);
            if (result.MessageType == WebSocketMessageType.Close) return false;
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return true;
        }
    }
}

/// <summary>
/// Events this generator published and is waiting to see delivered: each is registered (with its publish time) before
/// it is POSTed, because a notification may arrive before the HTTP answer. Every delivery of a registered event is
/// timed (microseconds from just before the POST to the frame's arrival); the event is done when all its expected
/// deliveries arrived, and the task then gives the `context.versionId` the hub stamped into it.
/// </summary>
public sealed class DeliveryTracker
{
    private readonly ConcurrentDictionary<string, Expected> _expected = new();
    private long _delivered, _other;

    private sealed class Expected(long sentAt, int remaining, Action<long>? record)
    {
        public readonly long SentAt = sentAt;
        public readonly Action<long>? Record = record;
        public readonly TaskCompletionSource<string?> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Remaining = remaining;
    }

    /// <summary>Deliveries of registered events that <paramref name="record"/> was given (measured ones).</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>
    /// Notifications received that no step is waiting for: ones the hub generated itself (e.g. a close when it evicts
    /// an old suspended anchor), or late deliveries of a step that already timed out.
    /// </summary>
    public long Other => Interlocked.Read(ref _other);

    /// <param name="record">Gets the latency of each delivery in microseconds; null for an unmeasured (warm-up) event.</param>
    public Task<string?> Expect(string id, int deliveries, Action<long>? record)
    {
        var expected = new Expected(Stopwatch.GetTimestamp(), deliveries, record);
        if (!_expected.TryAdd(id, expected)) throw new InvalidOperationException($"Event id {id} used twice.");
        return expected.Done.Task;
    }

    /// <summary>Stops waiting for an event (it failed or timed out); late deliveries of it are then ignored.</summary>
    public void Forget(string id) => _expected.TryRemove(id, out _);

    public void OnDelivered(Delivery delivery)
    {
        if (!_expected.TryGetValue(delivery.Id, out var expected))
        {
            Interlocked.Increment(ref _other);
            return;
        }
        if (expected.Record is { } record)
        {
            record(Math.Max(1, (delivery.ReceivedAt - expected.SentAt) * 1_000_000 / Stopwatch.Frequency));
            Interlocked.Increment(ref _delivered);
        }
        if (Interlocked.Decrement(ref expected.Remaining) == 0 && _expected.TryRemove(delivery.Id, out _))
            expected.Done.TrySetResult(delivery.VersionId);
    }
}

/// <summary>Publishing events and reading latency histograms (values in microseconds).</summary>
public static class Fhircast
{
    /// <summary>POSTs one event; the HTTP status, or 0 when the request failed or timed out.</summary>
    public static async Task<int> PublishAsync(HttpClient http, string json)
    {
        try
        {
            using var content = new StringContent(json, Encoding.UTF8, "application/json");
            using var response = await http.PostAsync("/api/hub", content);
            if (!response.IsSuccessStatusCode) Console.Error.WriteLine($"publish: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"publish: {e.GetType().Name} {e.Message}");
            return 0;
        }
    }

    public static string Timestamp() => DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A Patient-open of a patient with an id and an MRN.</summary>
    public static string PatientOpen(string topic, string eventId, string patientId) =>
        $$$"""{"timestamp":"{{{Timestamp()}}}","id":"{{{eventId}}}","event":{"hub.topic":"{{{topic}}}","hub.event":"Patient-open","context":[{"key":"patient","resource":{{{Patient(patientId)}}}}]}}""";

    public static string Patient(string patientId) =>
        $$$"""{"resourceType":"Patient","id":"{{{patientId}}}","identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:oid:1.2.36.146.595.217.0.1","value":"MRN-{{{patientId}}}"}]}""";
}

/// <summary>Latency histograms in microseconds (HdrHistogram, 1 µs to 60 s, 3 significant digits) and their figures in ms.</summary>
public static class Latency
{
    public static LongConcurrentHistogram NewHistogram() => new(1, TimeStamp.Seconds(60), 3);

    public static string Ms(HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? "-" : (histogram.GetValueAtPercentile(percentile) / 1000.0).ToString("0.0", CultureInfo.InvariantCulture);

    /// <summary>Ratio of two histograms' percentiles, "-" when either is empty.</summary>
    public static string Ratio(HistogramBase numerator, HistogramBase denominator, double percentile) =>
        numerator.TotalCount == 0 || denominator.TotalCount == 0
            ? "-"
            : ((double)numerator.GetValueAtPercentile(percentile) / denominator.GetValueAtPercentile(percentile)).ToString("0.00", CultureInfo.InvariantCulture);
}
