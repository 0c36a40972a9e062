using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using EventSourcedHub.Storage;

namespace EventSourcedHub.WebConsole;

/// <summary>One commit as the console hears of it: the topic, its stream version after the commit, the stored event names.</summary>
public sealed record ConsoleChange(string? Topic, long Version, IReadOnlyList<string> Events, bool Remote);

/// <summary>
/// Hands every commit of this process (<see cref="ICommitObserver"/>) and of the other hub processes
/// (<see cref="IRemoteCommitObserver"/>) to the open console pages. Each page has a small queue of its own that drops
/// the oldest change when the page reads too slowly: a change only tells the page to read the APIs again, so a lost
/// one costs nothing but a late refresh, and a slow page never holds up a commit.
/// </summary>
public sealed class ConsoleFeed : ICommitObserver, IRemoteCommitObserver
{
    private const int QueueLength = 256;

    private static readonly IReadOnlyDictionary<Type, string> EventNames = HubStore.EventTypes.ToDictionary(e => e.Value, e => e.Key);

    private readonly ConcurrentDictionary<Channel<ConsoleChange>, byte> _pages = new();

    public void Committed(Appended appended) =>
        Publish(new ConsoleChange(appended.Topic, appended.LastVersion,
            appended.Events.Select(e => EventNames.TryGetValue(e.GetType(), out var name) ? name : e.GetType().Name).ToArray(), Remote: false));

    public void CommittedElsewhere(string topic, long lastVersion) => Publish(new ConsoleChange(topic, lastVersion, [], Remote: true));

    /// <summary>Commits of other processes may have been missed: a change without a topic tells the pages to read everything again.</summary>
    public void CatchUp() => Publish(new ConsoleChange(null, 0, [], Remote: true));

    private void Publish(ConsoleChange change)
    {
        foreach (var page in _pages.Keys) page.Writer.TryWrite(change);
    }

    /// <summary>`GET /api/console/events`: server-sent events, one `commit` per change, a comment every 15 s to keep proxies from closing the stream.</summary>
    public async Task StreamAsync(HttpContext http, IHostApplicationLifetime lifetime)
    {
        var page = Channel.CreateBounded<ConsoleChange>(new BoundedChannelOptions(QueueLength)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        _pages[page] = 0;
        // A graceful stop must not wait for open pages: the stream ends with the hub.
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, lifetime.ApplicationStopping);
        try
        {
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            // nginx would otherwise buffer the stream.
            http.Response.Headers["X-Accel-Buffering"] = "no";
            await http.Response.WriteAsync(": connected\n\n", ending.Token);
            await http.Response.Body.FlushAsync(ending.Token);
            while (!ending.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(ending.Token);
                wait.CancelAfter(TimeSpan.FromSeconds(15));
                string frame;
                try
                {
                    var change = await page.Reader.ReadAsync(wait.Token);
                    frame = $"event: commit\ndata: {Json(change)}\n\n";
                }
                catch (OperationCanceledException) when (!ending.IsCancellationRequested)
                {
                    frame = ": still here\n\n";
                }
                await http.Response.WriteAsync(frame, ending.Token);
                await http.Response.Body.FlushAsync(ending.Token);
            }
        }
        catch (OperationCanceledException) when (ending.IsCancellationRequested)
        {
            // The page went away, or the hub is stopping.
        }
        finally
        {
            _pages.TryRemove(page, out _);
        }
    }

    private static string Json(ConsoleChange change) => JsonSerializer.Serialize(new
    {
        topic = change.Topic,
        version = change.Version,
        events = change.Events,
        remote = change.Remote,
    });
}
