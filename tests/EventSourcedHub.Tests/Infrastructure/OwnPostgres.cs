using System.Diagnostics;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>
/// A PostgreSQL cluster of one test's own (the hub's embedded one), so that the test can stop and start it while the
/// other test classes keep the shared one.
/// </summary>
public sealed class OwnPostgres : IAsyncDisposable
{
    private readonly string _folder;
    private readonly EmbeddedPostgres _postgres;

    private OwnPostgres(string folder, EmbeddedPostgres postgres)
    {
        _folder = folder;
        _postgres = postgres;
    }

    public string ConnectionString => _postgres.ConnectionString("hub");

    public static async Task<OwnPostgres> StartAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"hub-own-pg-{Guid.NewGuid():N}");
        var postgres = await EmbeddedPostgres.StartAsync(folder, NullLogger.Instance, CancellationToken.None);
        await postgres.EnsureDatabaseAsync("hub", CancellationToken.None);
        return new OwnPostgres(folder, postgres);
    }

    public Task StopAsync() => _postgres.StopAsync();

    /// <summary>Starts the stopped cluster again on the same port.</summary>
    public Task StartAgainAsync() =>
        PgCtlAsync("start", "-w", "-t", "60", "-l", Path.Combine(_folder, "postgres.log"),
            "-o", $"-c listen_addresses=127.0.0.1 -c port={_postgres.Port} -c unix_socket_directories=''");

    public async ValueTask DisposeAsync()
    {
        await PgCtlAsync("stop", "-m", "immediate");
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Runs pg_ctl on this cluster as the postgres user (as the hub does when run as root).</summary>
    private async Task PgCtlAsync(params string[] arguments)
    {
        var pgCtl = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Concat(Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")) : [])
            .Select(d => Path.Combine(d, "pg_ctl")).First(File.Exists);
        var asRoot = Environment.UserName == "root";
        var start = new ProcessStartInfo(asRoot ? "runuser" : pgCtl) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _folder };
        if (asRoot) foreach (var a in new[] { "-u", "postgres", "--", pgCtl }) start.ArgumentList.Add(a);
        start.ArgumentList.Add("-D");
        start.ArgumentList.Add(Path.Combine(_folder, "pgdata"));
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (arguments[0] == "start") Assert.True(process.ExitCode == 0, $"pg_ctl start failed: {await output} {await error}");
    }
}
