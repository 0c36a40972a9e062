using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventSourcedHub.Bench;

/// <summary>
/// A hub that stores nothing and checks nothing, in the benchmark's own process on Kestrel (127.0.0.1, a free port):
/// just enough FHIRcast for the load generator. A subscribe form gets 202 and a WebSocket endpoint; connecting sends the
/// confirmation; a published event gets a new `context.versionId` (and the topic's previous one as
/// `context.priorVersionId`) stamped into its `event` object and is queued to the topic's subscribers of that event
/// name, then answered 202; acks are read and ignored. Driving it with the same load measures the load generator's
/// ceiling on this machine: what the hub's figures would be if storing cost nothing.
/// </summary>
public sealed class TrivialHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Subscription> _unconnected = new();
    private readonly ConcurrentDictionary<string, TopicState> _topics = new();

    private TrivialHub(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<TrivialHub> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Configuration.Sources.Clear(); // nothing from the hub's appsettings.json or ASPNETCORE_* variables
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        var app = builder.Build();
        var hub = new TrivialHub(app);
        app.UseWebSockets();
        app.Run(hub.HandleAsync);
        await app.StartAsync();
        hub.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        return hub;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private sealed class Subscription(string topic, string events)
    {
        public string Topic { get; } = topic;
        public string Events { get; } = events;
        public HashSet<string> Names { get; } = new(events.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries), StringComparer.OrdinalIgnoreCase);
        public Channel<byte[]> Outbox { get; } = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    }

    private sealed class TopicState
    {
        public readonly Lock Gate = new();
        public readonly List<Subscription> Subscribers = [];
        public string? VersionId;
    }

    private Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        if (path == "/api/hub" && HttpMethods.IsPost(context.Request.Method))
            return context.Request.HasFormContentType ? SubscribeAsync(context) : PublishAsync(context);
        if (path.StartsWith("/api/hub/ws/", StringComparison.Ordinal) && context.WebSockets.IsWebSocketRequest)
            return ConnectAsync(context, path["/api/hub/ws/".Length..]);
        context.Response.StatusCode = StatusCodes.Status404NotFound;
        return Task.CompletedTask;
    }

    private async Task SubscribeAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync();
        var id = Guid.NewGuid().ToString("N");
        _unconnected[id] = new Subscription(form["hub.topic"].ToString(), form["hub.events"].ToString());
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        await context.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["hub.channel.endpoint"] = $"ws://{context.Request.Host}/api/hub/ws/{id}" });
    }

    private async Task PublishAsync(HttpContext context)
    {
        var body = await JsonNode.ParseAsync(context.Request.Body);
        if (body?["event"] is not JsonObject e || e["hub.topic"]?.GetValue<string>() is not { } topic || e["hub.event"]?.GetValue<string>() is not { } name)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }
        var state = _topics.GetOrAdd(topic, _ => new TopicState());
        lock (state.Gate) // one order per topic, as the hub's
        {
            if (state.VersionId is { } prior) e["context.priorVersionId"] = prior;
            e["context.versionId"] = state.VersionId = Guid.NewGuid().ToString();
            var text = Encoding.UTF8.GetBytes(body.ToJsonString());
            foreach (var subscriber in state.Subscribers)
            {
                if (subscriber.Names.Contains(name)) subscriber.Outbox.Writer.TryWrite(text);
            }
        }
        context.Response.StatusCode = StatusCodes.Status202Accepted;
    }

    private async Task ConnectAsync(HttpContext context, string id)
    {
        if (!_unconnected.TryRemove(id, out var subscription))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var confirmation = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["hub.mode"] = "subscribe", ["hub.topic"] = subscription.Topic, ["hub.events"] = subscription.Events, ["hub.lease_seconds"] = 7200,
        });
        await socket.SendAsync(confirmation, WebSocketMessageType.Text, true, context.RequestAborted);
        var state = _topics.GetOrAdd(subscription.Topic, _ => new TopicState());
        lock (state.Gate) state.Subscribers.Add(subscription);
        var writer = WriteAsync(socket, subscription.Outbox.Reader, context.RequestAborted);
        try
        {
            var buffer = new byte[4096];
            while (true) // acks: read and ignored
            {
                var result = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close) break;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
        finally
        {
            lock (state.Gate) state.Subscribers.Remove(subscription);
            subscription.Outbox.Writer.TryComplete();
            socket.Abort();
            await writer;
        }
    }

    private static async Task WriteAsync(WebSocket socket, ChannelReader<byte[]> outbox, CancellationToken ct)
    {
        try
        {
            await foreach (var text in outbox.ReadAllAsync(ct)) await socket.SendAsync(text, WebSocketMessageType.Text, true, ct);
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }
}
