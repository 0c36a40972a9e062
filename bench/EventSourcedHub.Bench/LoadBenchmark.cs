using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using HdrHistogram;

namespace EventSourcedHub.Bench;

/// <summary>
/// Drives a hub process over real HTTP and WebSockets: T topics with S acknowledging subscribers each, P concurrent
/// publishers at a fixed total rate (or as fast as they can), publish-to-deliver latency per delivery in an HdrHistogram.
/// In the same run it measures the floor: durable single-row INSERTs into the same PostgreSQL at the same concurrency.
/// </summary>
public static class LoadBenchmark
{
    private sealed record Options(int Topics, int Subscribers, int Publishers, int Seconds, int Rate, int Warmup, string Label);

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            BenchArgs.Number(args, "--topics", 50), BenchArgs.Number(args, "--subscribers", 2), BenchArgs.Number(args, "--publishers", 8),
            BenchArgs.Number(args, "--seconds", 20), BenchArgs.Number(args, "--rate", 500), BenchArgs.Number(args, "--warmup", 10),
            BenchArgs.Text(args, "--label", "load"));
        await using var database = await BenchDatabase.StartAsync();
        var floor = await InsertFloor.MeasureAsync(database.ConnectionString, options.Publishers, TimeSpan.FromSeconds(Math.Min(options.Seconds, 10)));
        using var hub = await HubProcess.StartAsync(database.ConnectionString, BenchArgs.HubEnvironment(args));
        var result = await DriveAsync(hub, options);
        var summary = new
        {
            scenario = options.Label, date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd"), commit = Machine.Commit(), machine = Machine.Describe(),
            options.Topics, options.Subscribers, options.Publishers, options.Seconds, targetRate = options.Rate, warmupSeconds = options.Warmup,
            hubEnv = BenchArgs.HubEnvironment(args),
            accepted = result.Accepted / result.Elapsed.TotalSeconds, delivered = result.Delivered / result.Elapsed.TotalSeconds, errors = result.Errors,
            p50 = Latency.Ms(result.Latency, 50), p90 = Latency.Ms(result.Latency, 90), p99 = Latency.Ms(result.Latency, 99), max = Latency.Ms(result.Latency, 100),
            hubRssMb = result.RssMb, hubCpuPercent = result.CpuPercent, floorTps = floor, ratio = result.Accepted / result.Elapsed.TotalSeconds / floor,
        };
        Console.WriteLine(JsonSerializer.Serialize(summary));
        Machine.Record($"""
            ### Load: {options.Label} ({summary.date}, commit {summary.commit}, {summary.machine})

            `dotnet run -c Release --project bench/EventSourcedHub.Bench -- load --topics {options.Topics} --subscribers {options.Subscribers} --publishers {options.Publishers} --seconds {options.Seconds} --rate {options.Rate} --warmup {options.Warmup}{BenchArgs.HubEnvironmentText(args)} --label "{options.Label}"`

            | accepted/s | delivered/s | p50 ms | p90 ms | p99 ms | max ms | errors | hub RSS MB | hub CPU % | floor INSERT/s ({options.Publishers} clients) | hub/floor |
            |---|---|---|---|---|---|---|---|---|---|---|
            | {summary.accepted:0} | {summary.delivered:0} | {summary.p50} | {summary.p90} | {summary.p99} | {summary.max} | {summary.errors} | {summary.hubRssMb:0} | {summary.hubCpuPercent:0} | {floor:0} | {summary.ratio:0.00} |
            """);
        return 0;
    }

    private sealed record Result(long Accepted, long Delivered, long Errors, TimeSpan Elapsed, LongConcurrentHistogram Latency, double RssMb, double CpuPercent);

    private static async Task<Result> DriveAsync(HubProcess hub, Options options)
    {
        using var http = new HttpClient { BaseAddress = hub.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var latency = Latency.NewHistogram();
        var sentAt = new ConcurrentDictionary<string, long>();
        long delivered = 0, accepted = 0, errors = 0;
        var topics = Enumerable.Range(0, options.Topics).Select(i => $"bench-{Guid.NewGuid():N}-{i}").ToArray();
        var sockets = new List<ClientWebSocket>();
        var readers = new List<Task>();
        using var stop = new CancellationTokenSource();

        foreach (var topic in topics)
        {
            for (var s = 0; s < options.Subscribers; s++)
            {
                using var form = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["hub.channel.type"] = "websocket", ["hub.mode"] = "subscribe", ["hub.topic"] = topic, ["hub.events"] = "org.example.bench",
                    ["subscriber.name"] = $"bench-{s}",
                });
                using var response = await http.PostAsync("/api/hub", form);
                var endpoint = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("hub.channel.endpoint").GetString()!;
                var socket = new ClientWebSocket();
                await socket.ConnectAsync(new Uri(endpoint), CancellationToken.None);
                sockets.Add(socket);
                readers.Add(Task.Run(() => ReadAsync(socket, sentAt, latency, () => Interlocked.Increment(ref delivered), stop.Token)));
            }
        }

        // The same load runs for the warm-up first (JIT tiering, connection pools, caches), unmeasured.
        var clock = Stopwatch.StartNew();
        var measuring = false;
        var cpuBefore = TimeSpan.Zero;
        var measured = Stopwatch.StartNew();
        var perPublisher = options.Rate > 0 ? (double)options.Rate / options.Publishers : 0;
        var publishers = Enumerable.Range(0, options.Publishers).Select(p => Task.Run(async () =>
        {
            var n = 0L;
            var start = Stopwatch.GetTimestamp();
            while (clock.Elapsed < TimeSpan.FromSeconds(options.Warmup + options.Seconds))
            {
                if (perPublisher > 0)
                {
                    var due = start + (long)(n / perPublisher * Stopwatch.Frequency);
                    var wait = due - Stopwatch.GetTimestamp();
                    if (wait > 0) await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency));
                }
                var topic = topics[(int)((p + n * options.Publishers) % topics.Length)];
                var id = $"{p}-{n++}";
                var body = $$$$"""{"timestamp":"2025-03-01T14:58:45.988Z","id":"{{{{id}}}}","event":{"hub.topic":"{{{{topic}}}}","hub.event":"org.example.bench","context":[{"key":"extension","data":{"n":{{{{n}}}}}}]}}""";
                var counted = Volatile.Read(ref measuring);
                if (counted) sentAt[id] = Stopwatch.GetTimestamp();
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using var response = await http.PostAsync("/api/hub", content);
                    if (!counted) continue;
                    if (response.IsSuccessStatusCode) Interlocked.Increment(ref accepted);
                    else Interlocked.Increment(ref errors);
                }
                catch (HttpRequestException)
                {
                    if (counted) Interlocked.Increment(ref errors);
                }
            }
        })).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(options.Warmup));
        cpuBefore = hub.CpuTime();
        measured.Restart();
        Volatile.Write(ref measuring, true);
        await Task.WhenAll(publishers);
        var elapsed = measured.Elapsed;
        var cpu = (hub.CpuTime() - cpuBefore).TotalSeconds / elapsed.TotalSeconds * 100;
        var rss = hub.RssMb();
        await Task.Delay(2000); // let the last deliveries arrive
        await stop.CancelAsync();
        foreach (var socket in sockets) socket.Abort();
        await Task.WhenAll(readers);
        return new Result(accepted, Interlocked.Read(ref delivered), errors, elapsed, latency, rss, cpu);
    }

    private static async Task ReadAsync(ClientWebSocket socket, ConcurrentDictionary<string, long> sentAt, LongConcurrentHistogram latency, Action onDelivered, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var result = await socket.ReceiveAsync(buffer, ct);
                if (result.MessageType == WebSocketMessageType.Close) return;
                var now = Stopwatch.GetTimestamp();
                using var message = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                if (!message.RootElement.TryGetProperty("id", out var idElement) || message.RootElement.TryGetProperty("hub.mode", out _)) continue;
                var id = idElement.GetString()!;
                if (sentAt.TryGetValue(id, out var sent))
                {
                    latency.RecordValue(Math.Max(1, (now - sent) * 1_000_000 / Stopwatch.Frequency));
                    onDelivered();
                }
                await socket.SendAsync(Encoding.UTF8.GetBytes($$"""{"id":"{{id}}"}"""), WebSocketMessageType.Text, true, ct);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
    }
}

/// <summary>The hub as its own process (Release build next to this one), so its RSS and CPU are its own.</summary>
public sealed class HubProcess : IDisposable
{
    private readonly Process _process;

    private HubProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int Id => _process.Id;

    /// <param name="environment">Extra environment variables for the hub process (e.g. GC settings), over the defaults below.</param>
    public static async Task<HubProcess> StartAsync(string connectionString, IReadOnlyDictionary<string, string>? environment = null)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var dll = Path.Combine(AppContext.BaseDirectory, "EventSourcedHub.dll");
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { dll, "--urls", $"http://127.0.0.1:{port}", "--Logging:LogLevel:Default", "Warning" }) start.ArgumentList.Add(arg);
        start.Environment["ConnectionStrings__Hub"] = connectionString;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        // The load comes from one address: the per-client limit would measure itself, not the hub.
        start.Environment["Hub__Limits__RequestsPerSecondPerClient"] = "1000000";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[hub] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var hub = new HubProcess(process, new Uri($"http://127.0.0.1:{port}"));
        using var http = new HttpClient();
        for (var i = 0; i < 300; i++)
        {
            try
            {
                if ((await http.GetAsync(new Uri(hub.BaseAddress, "/.well-known/fhircast-configuration"))).IsSuccessStatusCode) return hub;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("The hub did not start.");
    }

    public TimeSpan CpuTime()
    {
        _process.Refresh();
        return _process.TotalProcessorTime;
    }

    public double RssMb()
    {
        _process.Refresh();
        return _process.WorkingSet64 / (1024.0 * 1024.0);
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
    }
}
