using System.Diagnostics;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace EventSourcedHub.Tests.Storage;

/// <summary>Runs real clusters, each in its own folder under the temp directory.</summary>
public sealed class EmbeddedPostgresTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"hub-embedded-pg-{Guid.NewGuid():N}");
    private readonly List<EmbeddedPostgres> _servers = [];

    private string PidFile => Path.Combine(_folder, "pgdata", "postmaster.pid");

    [Fact]
    public async Task starts_and_answers_a_query()
    {
        var postgres = await StartAsync();

        Assert.Equal(2, await ScalarAsync<int>(postgres, "SELECT 1 + 1"));
        Assert.True(File.Exists(Path.Combine(_folder, "pgdata", "PG_VERSION")));
        Assert.True(File.Exists(Path.Combine(_folder, "postgres.log")));
    }

    [Fact]
    public async Task ensure_database_creates_a_database_once_even_when_called_concurrently()
    {
        var postgres = await StartAsync();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => postgres.EnsureDatabaseAsync("hub", CancellationToken.None)));
        await postgres.EnsureDatabaseAsync("hub", CancellationToken.None);

        Assert.Equal("hub", await ScalarAsync<string>(postgres, "SELECT current_database()", "hub"));
    }

    [Fact]
    public async Task data_survives_stop_and_start_on_the_same_folder()
    {
        var first = await StartAsync();
        await ScalarAsync<int>(first, "CREATE TABLE kept (value int); INSERT INTO kept VALUES (42); SELECT 1");
        await first.StopAsync();
        await first.StopAsync();

        var second = await StartAsync();

        Assert.Equal(42, await ScalarAsync<int>(second, "SELECT value FROM kept"));
    }

    [Fact]
    public async Task a_server_left_running_by_a_dead_owner_is_adopted_and_stopped_by_the_next_owner()
    {
        // The first owner "dies": it never stops its server.
        var dead = await StartAsync();
        var pid = ReadPostmasterPid();

        var next = await StartAsync();

        Assert.Equal(dead.Port, next.Port);
        Assert.Equal(pid, ReadPostmasterPid());
        Assert.Equal(1, await ScalarAsync<int>(next, "SELECT 1"));

        await next.StopAsync();

        Assert.False(File.Exists(PidFile));
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => ScalarAsync<int>(next, "SELECT 1"));
    }

    [Fact]
    public async Task restart_after_kill_9_of_the_postmaster_recovers_the_data()
    {
        var killed = await StartAsync();
        await ScalarAsync<int>(killed, "CREATE TABLE kept (value int); INSERT INTO kept VALUES (7); SELECT 1");
        var pid = ReadPostmasterPid();

        // Process.Kill sends SIGKILL on Unix: no shutdown checkpoint, the pid file stays behind.
        using (var postmaster = Process.GetProcessById(pid))
        {
            postmaster.Kill();
        }

        Assert.True(File.Exists(PidFile));

        var restarted = await StartAsync();

        Assert.NotEqual(pid, ReadPostmasterPid());
        Assert.Equal(7, await ScalarAsync<int>(restarted, "SELECT value FROM kept"));
    }

    /// <summary>Only root hands the cluster to the postgres user; run as any other user, the test is reported as skipped.</summary>
    public sealed class RootOnlyFactAttribute : FactAttribute
    {
        public RootOnlyFactAttribute()
        {
            if (!OperatingSystem.IsLinux() || Environment.UserName != "root") Skip = "needs root (as CI runs): only root runs the cluster as the postgres user";
        }
    }

    [RootOnlyFact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task a_data_directory_the_postgres_user_cannot_reach_fails_with_a_message_naming_the_setting()
    {
        // Like /root: a private folder owned by root, so the postgres user cannot get through it.
        Directory.CreateDirectory(_folder);
        File.SetUnixFileMode(_folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => EmbeddedPostgres.StartAsync(Path.Combine(_folder, "data"), NullLogger.Instance, CancellationToken.None));

        Assert.Contains("Hub:DataDirectory", error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(_folder, "data"), error.Message, StringComparison.Ordinal);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            await Task.WhenAll(_servers.Select(s => s.StopAsync()));
        }
        finally
        {
            if (Directory.Exists(_folder))
            {
                Directory.Delete(_folder, recursive: true);
            }
        }
    }

    private async Task<EmbeddedPostgres> StartAsync()
    {
        var postgres = await EmbeddedPostgres.StartAsync(_folder, NullLogger.Instance, CancellationToken.None);
        _servers.Add(postgres);
        return postgres;
    }

    private int ReadPostmasterPid() => int.Parse(File.ReadLines(PidFile).First());

    private static async Task<T> ScalarAsync<T>(EmbeddedPostgres postgres, string sql, string database = "postgres")
    {
        // Unpooled, so no test reuses a connection to a server that has gone away.
        var connectionString = new NpgsqlConnectionStringBuilder(postgres.ConnectionString(database)) { Pooling = false };
        await using var connection = new NpgsqlConnection(connectionString.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
