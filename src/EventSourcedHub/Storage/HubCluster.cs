using System.Security.Cryptography;
using System.Text;
using Marten;
using Npgsql;

namespace EventSourcedHub.Storage;

/// <summary>The hub's connection string, as tuned (<see cref="HubStore.Tuned"/>).</summary>
public sealed record HubDatabase(string ConnectionString)
{
    /// <summary>A connection of its own, outside the pool, for a session that holds locks or listens.</summary>
    public NpgsqlConnection OpenUnpooled() =>
        new(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false, KeepAlive = 5 }.ConnectionString);
}

/// <param name="MayLead">`Hub:RunAsyncProjections` (and not a maintenance command): this process may lead the cluster.</param>
public sealed record ClusterRole(bool MayLead);

/// <summary>
/// This hub process among the ones sharing one PostgreSQL (issue 14). Each process has a random node id and holds a
/// session-level advisory lock on it for as long as it lives, so any process can tell whether another is alive
/// (<see cref="IsAliveAsync"/>). One process at a time also holds the leader lock: the leader runs what must run once
/// per cluster (the async projections, the audit trail, lease and connect-window expiry). When the leader's database
/// session ends (the process died or lost its connection), PostgreSQL releases the lock and another eligible process
/// takes over within <see cref="CheckInterval"/>.
/// </summary>
public sealed class HubCluster(IDocumentStore store, HubDatabase database, ClusterRole role, ILogger<HubCluster> logger) : BackgroundService
{
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);
    private const string LeaderName = "leader";

    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _term = Ended();
    private TaskCompletionSource<CancellationToken> _leading = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>This process's node id: in the confirmations of the sockets it holds and in the NOTIFY payloads it sends.</summary>
    public string NodeId { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public bool IsLeader => !_term.IsCancellationRequested;

    /// <summary>Waits until this process leads; the token it returns is cancelled when the leadership ends.</summary>
    public Task<CancellationToken> LeadershipAsync(CancellationToken ct) => Volatile.Read(ref _leading).Task.WaitAsync(ct);

    /// <summary>Completes once this process has tried to take the leader lock once (so a single hub leads at start).</summary>
    public Task FirstAttempt => _firstAttempt.Task;

    /// <summary>The advisory-lock key of a name: the first 8 bytes of its SHA-256.</summary>
    public static long LockKey(string name) => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("eventsourcedhub:" + name)));

    /// <summary>Whether the process with <paramref name="nodeId"/> is alive: its node lock is held.</summary>
    public async Task<bool> IsAliveAsync(string nodeId, CancellationToken ct)
    {
        if (nodeId == NodeId) return true;
        var key = LockKey(nodeId);
        await using var connection = store.Storage.Database.CreateConnection();
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(
            "select exists (select 1 from pg_locks where locktype = 'advisory' and granted and objsubid = 1 and classid::bigint = @high and objid::bigint = @low "
            + "and database = (select oid from pg_database where datname = current_database()))",
            connection);
        command.Parameters.AddWithValue("high", (key >> 32) & 0xFFFFFFFFL);
        command.Parameters.AddWithValue("low", key & 0xFFFFFFFFL);
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                // Not pooled: the session's locks must end with it, never go back to a pool.
                await using var connection = database.OpenUnpooled();
                await connection.OpenAsync(stopping);
                await ExecuteAsync(connection, "select pg_advisory_lock(@key)", LockKey(NodeId), stopping);
                while (!stopping.IsCancellationRequested)
                {
                    if (!IsLeader && role.MayLead
                        && (bool)(await ExecuteAsync(connection, "select pg_try_advisory_lock(@key)", LockKey(LeaderName), stopping))!)
                        Lead();
                    _firstAttempt.TrySetResult();
                    await Task.Delay(CheckInterval, stopping);
                    // The locks live as long as this session: a dead connection means they are gone.
                    await ExecuteAsync(connection, "select 1", 0, stopping);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                logger.LogError(e, "The hub's cluster session to PostgreSQL failed; {Role} until it is back", IsLeader ? "stepping down as leader" : "retrying");
                Resign();
                _firstAttempt.TrySetResult();
                try
                {
                    await Task.Delay(CheckInterval, stopping);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        Resign();
    }

    private static async Task<object?> ExecuteAsync(NpgsqlConnection connection, string sql, long key, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (sql.Contains("@key")) command.Parameters.AddWithValue("key", key);
        return await command.ExecuteScalarAsync(ct);
    }

    private void Lead()
    {
        var term = new CancellationTokenSource();
        _term = term;
        logger.LogInformation("Hub process {Node} leads the cluster (async projections, audit trail, expiry)", NodeId);
        Volatile.Read(ref _leading).TrySetResult(term.Token);
    }

    private void Resign()
    {
        if (!IsLeader) return;
        _leading = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        _term.Cancel();
    }

    private static CancellationTokenSource Ended()
    {
        var ended = new CancellationTokenSource();
        ended.Cancel();
        return ended;
    }
}
