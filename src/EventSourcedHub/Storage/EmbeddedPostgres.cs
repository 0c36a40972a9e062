using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EventSourcedHub.Storage;

/// <summary>
/// A private PostgreSQL cluster run from the locally installed server binaries, so the hub works
/// without a database server being set up. Layout: <c>&lt;dataDirectory&gt;/pgdata</c> holds the cluster,
/// <c>&lt;dataDirectory&gt;/postgres.log</c> the server log.
/// </summary>
public sealed class EmbeddedPostgres : IAsyncDisposable
{
    private const string OsUser = "postgres";
    private const int StartAttempts = 10;
    private static readonly TimeSpan AdoptTimeout = TimeSpan.FromSeconds(60);

    // Failures that go away on their own: a port taken between picking and binding it, or the
    // lock file and shared memory of a killed postmaster whose processes have not fully exited yet.
    private static readonly string[] TransientStartFailures =
    [
        "Address already in use",
        "could not create any TCP/IP sockets",
        "lock file \"postmaster.pid\" already exists",
        "is still in use",
    ];

    private readonly string _binDirectory;
    private readonly string _pgData;
    private readonly bool _asRoot;
    private readonly ILogger _logger;
    private readonly int _postmasterPid;
    private Task? _stopped;

    private EmbeddedPostgres(string binDirectory, string pgData, bool asRoot, ILogger logger, int port, int postmasterPid, bool adopted)
    {
        Adopted = adopted;
        _binDirectory = binDirectory;
        _pgData = pgData;
        _asRoot = asRoot;
        _logger = logger;
        Port = port;
        _postmasterPid = postmasterPid;
    }

    public int Port { get; }

    /// <summary>The server was already running (left by a killed hub, or serving a running one) and this instance took it over.</summary>
    public bool Adopted { get; }

    public static async Task<EmbeddedPostgres> StartAsync(string dataDirectory, ILogger logger, CancellationToken ct)
    {
        var root = Path.GetFullPath(dataDirectory);
        var pgData = Path.Combine(root, "pgdata");
        var logFile = Path.Combine(root, "postgres.log");
        var binDirectory = FindBinDirectory(pgData);
        var asRoot = geteuid() == 0;

        await PrepareDataDirectoryAsync(root, asRoot, ct);

        if (!File.Exists(Path.Combine(pgData, "PG_VERSION")))
        {
            logger.LogInformation("Initializing a PostgreSQL cluster in {PgData}", pgData);
            var initdb = await RunAsync(Path.Combine(binDirectory, "initdb"), asRoot, root, ct,
                "-D", pgData, "-U", OsUser, "--auth=trust", "-E", "UTF8", "--locale=C", "--no-instructions");
            if (initdb.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed in {pgData}: {initdb.StandardError.Trim()}");
            }
        }

        for (var attempt = 1; ; attempt++)
        {
            var adopted = await TryAdoptAsync(pgData, logger, ct);
            if (adopted is { } running)
            {
                logger.LogInformation("Adopted the PostgreSQL server (pid {Pid}) already running on 127.0.0.1:{Port} for {PgData}",
                    running.Pid, running.Port, pgData);
                return new EmbeddedPostgres(binDirectory, pgData, asRoot, logger, running.Port, running.Pid, adopted: true);
            }

            var port = PickFreeLoopbackPort();
            var logOffset = File.Exists(logFile) ? new FileInfo(logFile).Length : 0;
            var result = await RunAsync(Path.Combine(binDirectory, "pg_ctl"), asRoot, root, ct,
                "-D", pgData, "-l", logFile, "-w", "-t", "60",
                // pg_ctl passes -o through /bin/sh, hence the quoted empty value; nothing here comes from input.
                "-o", $"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories=''",
                "start");
            if (result.ExitCode == 0)
            {
                var pid = ReadPidFile(pgData)?.Pid
                    ?? throw new InvalidOperationException($"PostgreSQL started but wrote no postmaster.pid in {pgData}.");
                logger.LogInformation("Started PostgreSQL (pid {Pid}) on 127.0.0.1:{Port} for {PgData}", pid, port, pgData);
                return new EmbeddedPostgres(binDirectory, pgData, asRoot, logger, port, pid, adopted: false);
            }

            var serverLog = ReadFrom(logFile, logOffset);
            var failure = $"{result.StandardError.Trim()}\n{serverLog.Trim()}".Trim();
            if (attempt < StartAttempts && TransientStartFailures.Any(m => failure.Contains(m, StringComparison.Ordinal)))
            {
                logger.LogWarning("PostgreSQL did not start (attempt {Attempt}), retrying: {Failure}", attempt, failure);
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
                continue;
            }

            throw new InvalidOperationException($"Could not start PostgreSQL in {pgData} (log: {logFile}):\n{failure}");
        }
    }

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = OsUser,
        Database = database,
    }.ConnectionString;

    public async Task EnsureDatabaseAsync(string database, CancellationToken ct)
    {
        // Unpooled: a one-off admin connection should not linger in a pool after the server stops.
        var admin = new NpgsqlConnectionStringBuilder(ConnectionString("postgres")) { Pooling = false }.ConnectionString;
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync(ct);

        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection))
        {
            exists.Parameters.AddWithValue(database);
            if (await exists.ExecuteScalarAsync(ct) is not null)
            {
                return;
            }
        }

        try
        {
            var quoted = "\"" + database.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
            await using var create = new NpgsqlCommand($"CREATE DATABASE {quoted}", connection);
            await create.ExecuteNonQueryAsync(ct);
            _logger.LogInformation("Created database {Database}", database);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Another caller created it between our check and CREATE DATABASE; when both run at the same
            // moment PostgreSQL reports a unique violation on pg_database instead of duplicate_database.
        }
    }

    /// <summary>Stops the server (fast shutdown). Safe to call more than once.</summary>
    public Task StopAsync() => LazyInitializer.EnsureInitialized(ref _stopped, StopCoreAsync);

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task StopCoreAsync()
    {
        // Leave alone a server that someone else started on this folder after ours went away.
        if (ReadPidFile(_pgData)?.Pid != _postmasterPid)
        {
            return;
        }

        _logger.LogInformation("Stopping PostgreSQL (pid {Pid}) on port {Port}", _postmasterPid, Port);
        var result = await RunAsync(Path.Combine(_binDirectory, "pg_ctl"), _asRoot, "/", CancellationToken.None,
            "-D", _pgData, "-m", "fast", "-w", "-t", "60", "stop");
        if (result.ExitCode != 0 && ReadPidFile(_pgData) is not null)
        {
            throw new InvalidOperationException($"Could not stop PostgreSQL in {_pgData}: {result.StandardError.Trim()}");
        }
    }

    private static async Task PrepareDataDirectoryAsync(string root, bool asRoot, CancellationToken ct)
    {
        var created = new List<string>();
        for (var dir = root; dir is not null && !Directory.Exists(dir); dir = Path.GetDirectoryName(dir))
        {
            created.Add(dir);
        }

        Directory.CreateDirectory(root);
        if (!asRoot)
        {
            return;
        }

        // The server must not run as root, so the postgres user has to own and reach the folder.
        var toChown = created.Contains(root) ? created : [root, .. created];
        var chown = await RunAsync("chown", asPostgres: false, root, ct, [$"{OsUser}:", .. toChown]);
        if (chown.ExitCode != 0)
        {
            throw new InvalidOperationException($"Could not hand {root} to the '{OsUser}' user: {chown.StandardError.Trim()}");
        }

        var probe = await RunAsync("test", asPostgres: true, "/", ct, "-w", root, "-a", "-x", root);
        if (probe.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"The embedded PostgreSQL runs as the '{OsUser}' user, which cannot reach or write the data directory {root} " +
                "(a parent folder is probably private, such as /root with mode 700). " +
                "Set Hub:DataDirectory to a folder the postgres user can reach, for example /var/lib/eventsourcedhub." +
                (probe.StandardError.Length > 0 ? $" ({probe.StandardError.Trim()})" : ""));
        }
    }

    private static async Task<PidFile?> TryAdoptAsync(string pgData, ILogger logger, CancellationToken ct)
    {
        // After the hub was killed its postmaster keeps running; reuse it rather than fight over the folder.
        var deadline = DateTime.UtcNow + AdoptTimeout;
        while (ReadPidFile(pgData) is { } owner && IsLivePostgres(owner.Pid))
        {
            var probe = new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1",
                Port = owner.Port,
                Username = OsUser,
                Database = "postgres",
                Pooling = false,
                Timeout = 5,
            };
            try
            {
                await using var connection = new NpgsqlConnection(probe.ConnectionString);
                await connection.OpenAsync(ct);
                return owner;
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                // Still recovering or starting up: wait while the postmaster lives.
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException(
                        $"PostgreSQL (pid {owner.Pid}) owns {pgData} but does not accept connections on port {owner.Port}: {e.Message}", e);
                }

                logger.LogDebug("Waiting for the running PostgreSQL (pid {Pid}) to accept connections: {Message}", owner.Pid, e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            }
        }

        return null;
    }

    private static bool IsLivePostgres(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return false;
        }

        // Format: "pid (comm) state ..."; comm may itself contain parentheses.
        var open = stat.IndexOf('(', StringComparison.Ordinal);
        var close = stat.LastIndexOf(')');
        if (open < 0 || close < open || close + 2 >= stat.Length)
        {
            return false;
        }

        var comm = stat[(open + 1)..close];
        var state = stat[close + 2];
        // A killed postmaster can linger as a zombie until its parent reaps it.
        return comm == "postgres" && state is not ('Z' or 'X');
    }

    private static PidFile? ReadPidFile(string pgData)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(pgData, "postmaster.pid"));
        }
        catch (IOException)
        {
            return null;
        }

        // Line 1 is the postmaster pid, line 4 its port; the file may be half written while starting.
        return lines.Length >= 4
            && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            && int.TryParse(lines[3], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                ? new PidFile(pid, port)
                : null;
    }

    private static string FindBinDirectory(string pgData)
    {
        var candidates = new List<string>();
        // A cluster can only be run by the major version that created it.
        var versionFile = Path.Combine(pgData, "PG_VERSION");
        if (File.Exists(versionFile))
        {
            candidates.Add($"/usr/lib/postgresql/{File.ReadAllText(versionFile).Trim()}/bin");
        }

        candidates.AddRange((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries));
        if (Directory.Exists("/usr/lib/postgresql"))
        {
            candidates.AddRange(Directory.GetDirectories("/usr/lib/postgresql")
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var major) ? major : 0)
                .Select(d => Path.Combine(d, "bin")));
        }

        return candidates.FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
            ?? throw new InvalidOperationException(
                "No PostgreSQL server binaries (initdb, pg_ctl) were found on PATH or in /usr/lib/postgresql/*/bin. " +
                "Either install PostgreSQL (e.g. `apt-get install -y postgresql`), " +
                "or point the hub at an existing server with ConnectionStrings:Hub (environment variable ConnectionStrings__Hub), " +
                "or run PostgreSQL in Docker with `docker compose up`.");
    }

    private static int PickFreeLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private static string ReadFrom(string file, long offset)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var text = reader.ReadToEnd();
            return text.Length > 4000 ? text[^4000..] : text;
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static async Task<ProcessResult> RunAsync(string fileName, bool asPostgres, string workingDirectory,
        CancellationToken ct, params string[] arguments)
    {
        var start = new ProcessStartInfo
        {
            // Working directory must be reachable by the postgres user; the tools resolve paths against it.
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asPostgres)
        {
            start.FileName = "runuser";
            foreach (var argument in new[] { "-u", OsUser, "--", fileName })
            {
                start.ArgumentList.Add(argument);
            }
        }
        else
        {
            start.FileName = fileName;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)
            ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        // Drain stdout too: a full pipe would block the tool. Only stderr carries the errors we report.
        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw;
        }

        await stdout;
        return new ProcessResult(process.ExitCode, await stderr);
    }

    [DllImport("libc")]
    private static extern uint geteuid();

    private sealed record PidFile(int Pid, int Port);

    private sealed record ProcessResult(int ExitCode, string StandardError);
}
