using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace EventSourcedHub.Bench;

/// <summary>
/// Issue 7 scenario (c): N idle subscribers, memory. Subscribes N WebSocket subscribers spread over T topics against a
/// hub process, keeps every socket open and reading (so the hub's pings are answered) without publishing anything,
/// lets the hub settle, then reads the hub's VmRSS and VmHWM from /proc. Target: 10,000 idle sockets ≤ 250 MB hub RSS.
/// </summary>
public static class IdleSocketsBenchmark
{
    private sealed record Options(int Sockets, int Topics, int Concurrency, int Settle, string Label, string[] HubEnvironment);

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            BenchArgs.Number(args, "--sockets", 10_000), BenchArgs.Number(args, "--topics", 100), BenchArgs.Number(args, "--concurrency", 16),
            BenchArgs.Number(args, "--settle", 15), BenchArgs.Text(args, "--label", "c: 10,000 idle subscribers"),
            args.Select((a, i) => (a, i)).Where(x => x.a == "--hub-env" && x.i + 1 < args.Length).Select(x => args[x.i + 1]).ToArray());
        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("idle-sockets reads the hub's memory from /proc and raises RLIMIT_NOFILE: Linux only.");
            return 2;
        }
        if (options.Sockets < 1 || options.Topics < 1 || options.Concurrency < 1)
        {
            Console.Error.WriteLine("--sockets, --topics and --concurrency must be positive.");
            return 2;
        }
        // Each socket is one descriptor in this process and one in the hub (plus each process's own files, Npgsql's
        // connections, the subscription POSTs): the soft limit, inherited by the hub, must be raised before it starts.
        var needed = (ulong)options.Sockets + 1024;
        if (!FileLimit.RaiseSoftToHard(out var soft, out var hard, out var error))
        {
            Console.Error.WriteLine($"Could not raise the open-file limit (RLIMIT_NOFILE): {error}.");
            return 2;
        }
        if (soft < needed)
        {
            Console.Error.WriteLine($"""
                The open-file limit is too low: {options.Sockets} sockets need at least {needed} descriptors in both this process
                and the hub process, but the hard RLIMIT_NOFILE is {hard} (soft now {soft}). Raise the hard limit (as root:
                `ulimit -Hn {needed}` in the shell that runs the benchmark, LimitNOFILE= for a service, nofile in
                /etc/security/limits.conf, or --ulimit nofile={needed}:{needed} for a container), or pass --sockets {Math.Max(0, (long)hard - 1024)} or fewer.
                """);
            return 2;
        }
        Console.WriteLine($"RLIMIT_NOFILE soft {soft}, hard {hard}; {options.Sockets} sockets over {options.Topics} topics, {options.Concurrency} at a time");

        IReadOnlyDictionary<string, string> hubEnvironment;
        try
        {
            hubEnvironment = BenchArgs.HubEnvironment(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        await using var database = await BenchDatabase.StartAsync();
        var hub = await HubProcess.StartAsync(database.ConnectionString, hubEnvironment);
        var subscribers = new List<Subscriber>();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());
        try
        {
            var hubLimit = HubOpenFileLimit(hub.Id);
            if (hubLimit is { } limit && limit < needed)
            {
                Console.Error.WriteLine($"The hub process got an open-file limit of {limit}, below the {needed} needed.");
                return 2;
            }
            await Task.Delay(TimeSpan.FromSeconds(options.Settle)); // let the freshly started hub settle too
            var cold = ProcStatus.Read(hub.Id);
            Console.WriteLine($"hub pid {hub.Id}: VmRSS {cold.RssMb:0.0} MB before subscribing");

            var topics = Enumerable.Range(0, options.Topics).Select(i => $"idle-{Guid.NewGuid():N}-{i}").ToArray();
            var warmCount = Math.Min(options.Sockets, Math.Max(100, options.Sockets / 100));
            var clock = Stopwatch.StartNew();
            // The first 1 % (at least 100) warm the hub up (JIT, pools, Marten); what follows is the marginal cost of a socket.
            await SubscribeAsync(hub, invoker, topics, 0, warmCount, options.Concurrency, subscribers);
            await WaitConfirmedAsync(subscribers, TimeSpan.FromSeconds(60));
            await Task.Delay(TimeSpan.FromSeconds(2));
            var warm = ProcStatus.Read(hub.Id);
            Console.WriteLine($"{warmCount} sockets: hub VmRSS {warm.RssMb:0.0} MB");
            await SubscribeAsync(hub, invoker, topics, warmCount, options.Sockets, options.Concurrency, subscribers);
            var subscribeSeconds = clock.Elapsed.TotalSeconds;
            var confirmed = await WaitConfirmedAsync(subscribers, TimeSpan.FromSeconds(120));
            Console.WriteLine($"{subscribers.Count} sockets connected, {confirmed} confirmed in {clock.Elapsed.TotalSeconds:0} s; settling {options.Settle} s");
            await Task.Delay(TimeSpan.FromSeconds(options.Settle));

            var loaded = ProcStatus.Read(hub.Id);
            var open = subscribers.Count(s => s.Socket.State == WebSocketState.Open && !s.Reader.IsCompleted);
            var unexpected = subscribers.Sum(s => s.OtherMessages);
            var hubFds = Directory.GetFiles($"/proc/{hub.Id}/fd").Length;
            var bench = ProcStatus.Read(Environment.ProcessId);
            var rssMb = loaded.RssMb;
            var summary = new
            {
                scenario = options.Label, date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd"), commit = Machine.Commit(), machine = Machine.Describe(),
                options.Sockets, options.Topics, options.Concurrency, settleSeconds = options.Settle, hubEnv = options.HubEnvironment,
                connected = subscribers.Count, confirmed, open, unexpectedMessages = unexpected, hubFds, subscribeSeconds,
                hubRssBeforeMb = cold.RssMb, warmSockets = warmCount, hubRssWarmMb = warm.RssMb, hubRssMb = rssMb, hubHwmMb = loaded.HwmMb,
                hubRssAnonMb = loaded.RssAnonMb, hubRssFileMb = loaded.RssFileMb, hubRssShmemMb = loaded.RssShmemMb, hubThreads = loaded.Threads,
                kbPerSocket = (rssMb - cold.RssMb) * 1024 / options.Sockets,
                marginalKbPerSocket = options.Sockets > warmCount ? (rssMb - warm.RssMb) * 1024 / (options.Sockets - warmCount) : double.NaN,
                benchRssMb = bench.RssMb, targetMet = rssMb <= 250 && open == options.Sockets,
            };
            Console.WriteLine(JsonSerializer.Serialize(summary, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
            var command = $"dotnet run -c Release --project bench/EventSourcedHub.Bench -- idle-sockets --sockets {options.Sockets} --topics {options.Topics} --concurrency {options.Concurrency} --settle {options.Settle} --label \"{options.Label}\""
                + string.Concat(options.HubEnvironment.Select(e => $" --hub-env {e}"));
            string F(double value, string format = "0") => double.IsNaN(value) ? "-" : value.ToString(format, CultureInfo.InvariantCulture);
            Machine.Record($"""
                ### Idle subscribers: {options.Label} ({summary.date}, commit {summary.commit}, {summary.machine})

                `{command}`;
                hub process (Kestrel, loopback) and PostgreSQL on the same machine, open-file limit {soft}. Target: 10,000 idle sockets ≤ 250 MB hub RSS.

                | sockets | topics | confirmed | open after {options.Settle} s | hub RSS MB before | hub RSS MB at {warmCount} sockets | hub RSS MB (anon / file / shmem) | hub VmHWM MB | KB/socket over before | marginal KB/socket | hub threads | hub fds | subscribe s | target met |
                |---|---|---|---|---|---|---|---|---|---|---|---|---|---|
                | {options.Sockets} | {options.Topics} | {confirmed} | {open} | {F(cold.RssMb)} | {F(warm.RssMb)} | {F(rssMb)} ({F(loaded.RssAnonMb)} / {F(loaded.RssFileMb)} / {F(loaded.RssShmemMb)}) | {F(loaded.HwmMb)} | {F(summary.kbPerSocket, "0.0")} | {F(summary.marginalKbPerSocket, "0.0")} | {loaded.Threads} | {hubFds} | {F(subscribeSeconds)} | {(summary.targetMet ? "yes" : "no")} |
                """);
            return 0;
        }
        finally
        {
            // The hub goes first, so 10,000 closing sockets do not become 10,000 SubscriberDropped appends.
            hub.Dispose();
            foreach (var subscriber in subscribers) subscriber.Socket.Abort();
            await Task.WhenAll(subscribers.Select(s => s.Reader));
            foreach (var subscriber in subscribers) subscriber.Socket.Dispose();
        }
    }

    private sealed class Subscriber(ClientWebSocket socket)
    {
        public ClientWebSocket Socket { get; } = socket;
        public TaskCompletionSource Confirmed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task Reader { get; set; } = Task.CompletedTask;
        public int OtherMessages;
    }

    /// <summary>Subscribes and connects subscribers <paramref name="from"/> to <paramref name="to"/> (exclusive), <paramref name="concurrency"/> at a time.</summary>
    private static async Task SubscribeAsync(HubProcess hub, HttpMessageInvoker invoker, string[] topics, int from, int to, int concurrency, List<Subscriber> subscribers)
    {
        using var http = new HttpClient { BaseAddress = hub.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var next = from - 1;
        var progress = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < to)
            {
                // Consecutive subscribers go to different topics, so the concurrent appends rarely wait for one topic's turn.
                var topic = topics[i % topics.Length];
                using var form = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["hub.channel.type"] = "websocket", ["hub.mode"] = "subscribe", ["hub.topic"] = topic,
                    ["hub.events"] = "Patient-open,Patient-close,ImagingStudy-open,ImagingStudy-close", ["subscriber.name"] = $"idle-{i}",
                });
                using var response = await http.PostAsync("/api/hub", form);
                var body = await response.Content.ReadAsStringAsync();
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"Subscriber {i} on {topic}: {(int)response.StatusCode} {body}");
                var endpoint = JsonDocument.Parse(body).RootElement.GetProperty("hub.channel.endpoint").GetString()!;
                var socket = new ClientWebSocket();
                // Idle means idle: no client-side keep-alive frames or timer per socket; the hub's pings are answered by the reader.
                socket.Options.KeepAliveInterval = TimeSpan.Zero;
                socket.Options.SetBuffer(1024, 1024);
                await socket.ConnectAsync(new Uri(endpoint), invoker, CancellationToken.None);
                var subscriber = new Subscriber(socket);
                subscriber.Reader = ReadAsync(subscriber);
                lock (subscribers)
                {
                    subscribers.Add(subscriber);
                    if (subscribers.Count % 1000 == 0) Console.WriteLine($"  {subscribers.Count} sockets ({progress.Elapsed.TotalSeconds:0} s)");
                }
            }
        })));
    }

    /// <summary>
    /// Keeps a receive pending for the socket's whole life: that is what answers the hub's pings (a WebSocket only handles
    /// control frames inside a receive). The first message must be the subscription's confirmation.
    /// </summary>
    private static async Task ReadAsync(Subscriber subscriber)
    {
        var buffer = new byte[512];
        var first = new StringBuilder();
        try
        {
            while (true)
            {
                var result = await subscriber.Socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close) return;
                if (!subscriber.Confirmed.Task.IsCompleted)
                {
                    first.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
                    if (!result.EndOfMessage) continue;
                    using var message = JsonDocument.Parse(first.ToString());
                    if (message.RootElement.TryGetProperty("hub.mode", out var mode) && mode.GetString() == "subscribe") subscriber.Confirmed.TrySetResult();
                    else subscriber.Confirmed.TrySetException(new InvalidOperationException($"Expected a confirmation, got {first}"));
                    first.Clear();
                }
                else if (result.EndOfMessage)
                {
                    Interlocked.Increment(ref subscriber.OtherMessages);
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            subscriber.Confirmed.TrySetException(new InvalidOperationException("The socket ended before its confirmation."));
        }
    }

    private static async Task<int> WaitConfirmedAsync(List<Subscriber> subscribers, TimeSpan timeout)
    {
        var all = Task.WhenAll(subscribers.Select(s => s.Confirmed.Task));
        await Task.WhenAny(all, Task.Delay(timeout));
        return subscribers.Count(s => s.Confirmed.Task.IsCompletedSuccessfully);
    }

    private static ulong? HubOpenFileLimit(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/limits").FirstOrDefault(l => l.StartsWith("Max open files"));
        var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is { Length: >= 4 } && ulong.TryParse(fields[3], out var soft) ? soft : null;
    }
}

/// <summary>Memory of a process from /proc/&lt;pid&gt;/status (kB figures, given here in MB).</summary>
public sealed record ProcStatus(double RssMb, double HwmMb, double RssAnonMb, double RssFileMb, double RssShmemMb, int Threads)
{
    public static ProcStatus Read(int pid)
    {
        var fields = File.ReadLines($"/proc/{pid}/status")
            .Select(l => l.Split(':', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim());
        double Mb(string name) => fields.TryGetValue(name, out var v) ? long.Parse(v.Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0 : double.NaN;
        return new ProcStatus(Mb("VmRSS"), Mb("VmHWM"), Mb("RssAnon"), Mb("RssFile"), Mb("RssShmem"), int.Parse(fields.GetValueOrDefault("Threads", "0"), CultureInfo.InvariantCulture));
    }
}

/// <summary>RLIMIT_NOFILE through libc: the soft limit is raised to the hard one; child processes inherit it.</summary>
public static class FileLimit
{
    private const int RlimitNofile = 7; // Linux (x86-64, arm64)

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out RLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref RLimit limit);

    public static bool RaiseSoftToHard(out ulong soft, out ulong hard, out string error)
    {
        soft = hard = 0;
        error = "";
        if (getrlimit(RlimitNofile, out var limit) != 0)
        {
            error = $"getrlimit failed (errno {Marshal.GetLastPInvokeError()})";
            return false;
        }
        hard = limit.Maximum;
        if (limit.Current < limit.Maximum)
        {
            var raised = limit with { Current = limit.Maximum };
            if (setrlimit(RlimitNofile, ref raised) != 0)
            {
                error = $"setrlimit to {limit.Maximum} failed (errno {Marshal.GetLastPInvokeError()})";
                return false;
            }
            getrlimit(RlimitNofile, out limit);
        }
        soft = limit.Current;
        return true;
    }
}
