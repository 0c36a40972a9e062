using System.Text;
using System.Threading.Channels;
using Marten;
using Npgsql;

namespace EventSourcedHub.Storage;

/// <summary>Told of events another hub process appended (issue 14). The stream is the truth; this is only a wake-up.</summary>
public interface IRemoteCommitObserver
{
    /// <summary>Another process committed <paramref name="topic"/>'s stream up to <paramref name="lastVersion"/>. Must not block.</summary>
    void CommittedElsewhere(string topic, long lastVersion);

    /// <summary>Notifications may have been missed (the listening session was lost): catch up from the streams.</summary>
    void CatchUp();
}

/// <summary>
/// Every commit sends one PostgreSQL NOTIFY per appended stream, in the commit's own transaction (so a rolled-back
/// append notifies nobody): payload "{node}\n{last version}\n{topic}". This service LISTENs on a connection of its own
/// and hands other processes' commits to the <see cref="IRemoteCommitObserver"/>s. NOTIFY is fire and forget: after
/// the session is lost and back, the observers catch up from the streams, which are the truth.
/// </summary>
public sealed class AppendListener(HubDatabase database, HubCluster cluster, IEnumerable<IRemoteCommitObserver> observers, ILogger<AppendListener> logger)
    : BackgroundService
{
    public const string ChannelName = "fhircast_appended";
    public const string Procedure = $"{HubStore.Schema}.notify_appended";

    // pg_notify refuses payloads of 8000 bytes or more; a longer topic is announced as "catch up on everything".
    private const int MaxPayloadBytes = 7900;

    private readonly IRemoteCommitObserver[] _observers = observers.ToArray();

    /// <summary>The NOTIFY payload of an append to <paramref name="topic"/> up to <paramref name="lastVersion"/> by <paramref name="node"/>.</summary>
    public static string Payload(string node, long lastVersion, string topic)
    {
        var payload = $"{node}\n{lastVersion}\n{topic}";
        return Encoding.UTF8.GetByteCount(payload) <= MaxPayloadBytes ? payload : $"{node}\n0\n";
    }

    /// <summary>Queues the NOTIFY of an append in <paramref name="session"/>'s transaction.</summary>
    public static void Queue(IDocumentSession session, string node, string topic, long lastVersion) =>
        session.QueueSqlCommand($"CALL {Procedure}(?)", Payload(node, lastVersion, topic));

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        var notifications = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
        var dispatching = Task.Run(() => DispatchAsync(notifications.Reader, stopping), CancellationToken.None);
        var first = true;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                await using var connection = database.OpenUnpooled();
                connection.Notification += (_, e) => notifications.Writer.TryWrite(e.Payload);
                await connection.OpenAsync(stopping);
                await using (var listen = new NpgsqlCommand($"LISTEN {ChannelName}", connection)) await listen.ExecuteNonQueryAsync(stopping);
                // Anything committed elsewhere while no session listened is read from the streams.
                if (!first) foreach (var observer in _observers) observer.CatchUp();
                first = false;
                while (!stopping.IsCancellationRequested) await connection.WaitAsync(stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "Listening for other hub processes' commits failed; listening again (and catching up) shortly");
                first = false;
                try
                {
                    await Task.Delay(HubCluster.CheckInterval, stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        notifications.Writer.TryComplete();
        await dispatching;
    }

    private async Task DispatchAsync(ChannelReader<string> payloads, CancellationToken stopping)
    {
        try
        {
            await foreach (var payload in payloads.ReadAllAsync(stopping))
            {
                var parts = payload.Split('\n', 3);
                if (parts.Length != 3 || parts[0] == cluster.NodeId || !long.TryParse(parts[1], out var version)) continue;
                foreach (var observer in _observers)
                {
                    if (parts[2].Length == 0) observer.CatchUp();
                    else observer.CommittedElsewhere(parts[2], version);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
