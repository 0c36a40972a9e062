using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Testcontainers.PostgreSql;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>
/// One PostgreSQL server per test run, a fresh database per caller. The server is, in order of preference:
/// the one named by HUB_TEST_CONNECTION_STRING, a Testcontainers container when a Docker engine answers,
/// or an <see cref="EmbeddedPostgres"/> in a temporary folder.
/// </summary>
public static class TestPostgres
{
    private static readonly Lazy<Task<string>> Server = new(StartServerAsync);
    private static Process? Watchdog;

    /// <summary>Creates a uniquely named database and returns a connection string to it.</summary>
    public static async Task<string> CreateDatabaseAsync(string? hint = null)
    {
        var server = await Server.Value;
        // At most 30 + 1 + 32 characters: within PostgreSQL's 63-character identifier limit.
        var prefix = new string((hint ?? "").ToLowerInvariant().Where(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_').Take(30).ToArray());
        var name = $"{(prefix.Length > 0 ? prefix : "test")}_{Guid.NewGuid():N}";

        var admin = new NpgsqlConnectionStringBuilder(server) { Pooling = false }.ConnectionString;
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    private static async Task<string> StartServerAsync()
    {
        var configured = Environment.GetEnvironmentVariable("HUB_TEST_CONNECTION_STRING");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        if (await DockerAnswersAsync())
        {
            // Testcontainers' resource reaper removes the container once this process is gone.
            var container = new PostgreSqlBuilder("postgres:15-alpine").Build();
            await container.StartAsync();
            return container.GetConnectionString();
        }

        var folder = Path.Combine(Path.GetTempPath(), $"hub-tests-pg-{Guid.NewGuid():N}");
        StartCleanupWatchdog(folder);
        var postgres = await EmbeddedPostgres.StartAsync(folder, NullLogger.Instance, CancellationToken.None);
        return postgres.ConnectionString("postgres");
    }

    /// <summary>
    /// Stops the server and deletes its folder once this process is gone. An AppDomain.ProcessExit handler
    /// is not enough: the test platform kills the test host about 100 ms after the run, well before a
    /// shutdown and a recursive delete finish, and a crashed host runs no handlers at all.
    /// </summary>
    private static void StartCleanupWatchdog(string folder)
    {
        const string script = """
            exec >/dev/null 2>&1
            cat  # returns at end of input: when the test process, the only writer, has exited
            pid=$(head -n 1 "$1/pgdata/postmaster.pid") && kill -INT "$pid"
            for _ in $(seq 300); do [ -e "$1/pgdata/postmaster.pid" ] || break; sleep 0.2; done
            rm -rf "$1"
            """;
        var start = new ProcessStartInfo("setsid") { RedirectStandardInput = true, UseShellExecute = false };
        foreach (var argument in new[] { "-f", "bash", "-c", script, "hub-tests-pg-cleanup", folder })
        {
            start.ArgumentList.Add(argument);
        }

        // Kept referenced for the life of the process: disposing it would close the pipe and trigger the cleanup.
        Watchdog = Process.Start(start);
    }

    /// <summary>Asks the Docker engine for /_ping with a short timeout, so a missing engine costs no time.</summary>
    private static async Task<bool> DockerAnswersAsync()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        EndPoint endpoint;
        if (string.IsNullOrEmpty(host))
        {
            if (!File.Exists("/var/run/docker.sock"))
            {
                return false;
            }

            endpoint = new UnixDomainSocketEndPoint("/var/run/docker.sock");
        }
        else if (host.StartsWith("unix://", StringComparison.Ordinal))
        {
            endpoint = new UnixDomainSocketEndPoint(host["unix://".Length..]);
        }
        else if (host.StartsWith("tcp://", StringComparison.Ordinal) && Uri.TryCreate(host, UriKind.Absolute, out var uri))
        {
            endpoint = new DnsEndPoint(uri.Host, uri.Port);
        }
        else
        {
            return false;
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        try
        {
            using var socket = endpoint is UnixDomainSocketEndPoint
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(endpoint, timeout.Token);
            await socket.SendAsync(Encoding.ASCII.GetBytes("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n"), timeout.Token);
            var buffer = new byte[64];
            var read = await socket.ReceiveAsync(buffer, timeout.Token);
            // Any HTTP answer means an engine is there (a TLS-only endpoint answers 400 to plain HTTP).
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("HTTP/", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            return false;
        }
    }
}
