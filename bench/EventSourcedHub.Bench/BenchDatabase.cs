using System.Diagnostics;
using System.Globalization;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventSourcedHub.Bench;

/// <summary>A PostgreSQL for one benchmark run: HUB_BENCH_CONNECTION_STRING, else a throwaway embedded cluster.</summary>
public sealed class BenchDatabase : IAsyncDisposable
{
    private readonly EmbeddedPostgres? _postgres;
    private readonly string? _folder;

    private BenchDatabase(string connectionString, EmbeddedPostgres? postgres, string? folder)
    {
        ConnectionString = connectionString;
        _postgres = postgres;
        _folder = folder;
    }

    public string ConnectionString { get; }

    public static async Task<BenchDatabase> StartAsync()
    {
        if (Environment.GetEnvironmentVariable("HUB_BENCH_CONNECTION_STRING") is { Length: > 0 } given) return new BenchDatabase(given, null, null);
        var folder = Directory.CreateTempSubdirectory("hub-bench-").FullName;
        var postgres = await EmbeddedPostgres.StartAsync(folder, NullLogger.Instance, CancellationToken.None);
        await postgres.EnsureDatabaseAsync("bench", CancellationToken.None);
        return new BenchDatabase(postgres.ConnectionString("bench"), postgres, folder);
    }

    /// <summary>
    /// CPU time used so far by the throwaway cluster: the postmaster, its live children (backends, writers) and the
    /// children it has reaped. Null for a database given by HUB_BENCH_CONNECTION_STRING, or off Linux.
    /// </summary>
    public TimeSpan? CpuTime()
    {
        if (_folder is null || !OperatingSystem.IsLinux()) return null;
        try
        {
            var postmaster = int.Parse(File.ReadLines(Path.Combine(_folder, "pgdata", "postmaster.pid")).First(), CultureInfo.InvariantCulture);
            long ticks = 0;
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
                string stat;
                try
                {
                    stat = File.ReadAllText(Path.Combine(directory, "stat"));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    continue; // the process just ended
                }
                // After "pid (comm) ": state, ppid, ... utime (14th field), stime, cutime, cstime, in clock ticks.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                long Field(int number) => long.Parse(fields[number - 3], CultureInfo.InvariantCulture);
                if (pid == postmaster) ticks += Field(14) + Field(15) + Field(16) + Field(17);
                else if (Field(4) == postmaster) ticks += Field(14) + Field(15);
            }
            return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null) await _postgres.StopAsync();
        if (_folder is not null) Directory.Delete(_folder, recursive: true);
    }
}

/// <summary>Where a result was measured: appended with every figure written to docs/benchmarks.md.</summary>
public static class Machine
{
    public static string Describe()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU"
            : "unknown CPU";
        return $"{Environment.ProcessorCount} cores, {cpu}, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB";
    }

    public static string Commit()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true })!;
            var commit = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return commit.Length > 0 ? commit : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    /// <summary>Appends a section to docs/benchmarks.md of the repository around the current folder.</summary>
    public static void Record(string markdown)
    {
        var path = Path.Combine(StorageRoot(), "docs", "benchmarks.md");
        File.AppendAllText(path, markdown.TrimEnd() + "\n\n");
        Console.WriteLine($"Appended to {path}");
    }

    private static string StorageRoot()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EventSourcedHub.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}

/// <summary>`--name value` options of the benchmark command line.</summary>
public static class BenchArgs
{
    public static int Number(string[] args, string name, int fallback) =>
        int.TryParse(Text(args, name, ""), out var value) ? value : fallback;

    /// <summary>Every `--hub-env NAME=VALUE`: environment variables for the hub process only (e.g. `Hub__MaxCommitBatch=1`).</summary>
    public static IReadOnlyDictionary<string, string> HubEnvironment(string[] args)
    {
        var environment = new Dictionary<string, string>();
        foreach (var pair in args.Where((_, i) => i > 0 && args[i - 1] == "--hub-env"))
        {
            var at = pair.IndexOf('=');
            if (at <= 0) throw new ArgumentException($"--hub-env takes NAME=VALUE, not '{pair}'.");
            environment[pair[..at]] = pair[(at + 1)..];
        }
        return environment;
    }

    /// <summary>The `--hub-env` options as they were given, for the recorded command line.</summary>
    public static string HubEnvironmentText(string[] args) =>
        string.Concat(HubEnvironment(args).Select(e => $" --hub-env {e.Key}={e.Value}"));

    public static string Text(string[] args, string name, string fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
    }
}
