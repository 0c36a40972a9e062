using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>The hub as an operator runs it: its own process, its own embedded PostgreSQL in a data folder.</summary>
public sealed class HubProcess : IAsyncDisposable
{
    private readonly Process _process;

    private HubProcess(Process process, Uri baseAddress)
    {
        _process = process;
        Client = new HubClient(baseAddress);
    }

    public HubClient Client { get; }

    public static Task<HubProcess> StartAsync(string dataDirectory) => StartAsync(["--Hub:DataDirectory", dataDirectory], connectionString: null);

    /// <summary>A hub process on a database of its own choosing, with extra `--Hub:…` settings, on <paramref name="port"/> (0: a free one).</summary>
    public static Task<HubProcess> StartOnAsync(string connectionString, IDictionary<string, string>? settings = null, int port = 0) =>
        StartAsync((settings ?? new Dictionary<string, string>()).SelectMany(s => new[] { $"--{s.Key}", s.Value }).ToArray(), connectionString, port);

    public Uri BaseAddress => Client.Http.BaseAddress!;
    public int Port => BaseAddress.Port;
    public int ProcessId => _process.Id;

    private static async Task<HubProcess> StartAsync(string[] options, string? connectionString, int port = 0)
    {
        if (port == 0) port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { HubAssembly(), "--urls", $"http://127.0.0.1:{port}" }.Concat(options)) start.ArgumentList.Add(arg);
        start.Environment.Remove("ConnectionStrings__Hub");
        if (connectionString is not null) start.Environment["ConnectionStrings__Hub"] = connectionString;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[hub process] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var hub = new HubProcess(process, new Uri($"http://127.0.0.1:{port}"));
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited) throw new InvalidOperationException($"The hub exited with code {process.ExitCode} while starting.");
            try
            {
                using var response = await hub.Client.Http.GetAsync("/.well-known/fhircast-configuration");
                if (response.StatusCode == HttpStatusCode.OK) return hub;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200);
        }
        hub.Kill();
        throw new TimeoutException("The hub did not start within 90 s.");
    }

    /// <summary>SIGKILL: no shutdown code runs; the embedded PostgreSQL is left running.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as `docker stop` or systemd would: the hub shuts down gracefully.</summary>
    public async Task StopAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()]);
        await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        Client.Dispose();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    public static async Task StopPostgresIfRunningAsync(string dataDirectory)
    {
        var pgdata = Path.Combine(dataDirectory, "pgdata");
        if (!File.Exists(Path.Combine(pgdata, "postmaster.pid"))) return;
        var pid = File.ReadLines(Path.Combine(pgdata, "postmaster.pid")).First();
        using var kill = Process.Start("kill", ["-INT", pid]);
        await kill.WaitForExitAsync();
    }

    private static string HubAssembly()
    {
        // tests/EventSourcedHub.Tests/bin/<Configuration>/<tfm>/ -> src/EventSourcedHub/bin/<Configuration>/<tfm>/EventSourcedHub.dll
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var path = Path.Combine(Repository.Root(), "src", "EventSourcedHub", "bin", here.Parent!.Name, here.Name, "EventSourcedHub.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build the hub first.", path);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
