using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using HdrHistogram;

namespace EventSourcedHub.Bench;

/// <summary>
/// Issue 11: does publishing slow down as suspended anchors pile up on a topic? One app on one topic with two acking
/// subscribers (Patient-open, Patient-close) opens N new patients, one every interval (or as soon as the previous open
/// was delivered to both, whichever is later), and never closes any. Compares publish-to-deliver latency of the first
/// and the last opens, on the hub process and on <see cref="TrivialHub"/> (whose state does not grow).
/// </summary>
public static class SuspendedAnchorsBenchmark
{
    private const string SubscribedEvents = "Patient-open,Patient-close";
    private static readonly string[] SubscriberNames = ["PACS", "Reporting"];
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(10);

    private sealed record Options(int Opens, int IntervalMs, int WarmupOpens, int MaxSeconds, string Label)
    {
        /// <summary>How many opens the first and the last window hold: 300, fewer for short runs.</summary>
        public int Window => Math.Max(1, Math.Min(300, Opens / 2));
    }

    private sealed record Result(
        int Published, long NonSuccess, long Timeouts, long WarmupFailures, long Other, TimeSpan Elapsed,
        HistogramBase All, HistogramBase First, HistogramBase Last, double? HubRssMb, double? HubCpuPercent, double? DatabaseCpuPercent);

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            BenchArgs.Number(args, "--opens", 1500), BenchArgs.Number(args, "--interval-ms", 20), BenchArgs.Number(args, "--warmup-opens", 100),
            BenchArgs.Number(args, "--max-seconds", 600), BenchArgs.Text(args, "--label", "suspended anchors"));
        if (options.Opens < 1 || options.IntervalMs < 0 || options.WarmupOpens < 0 || options.MaxSeconds < 1)
        {
            Console.Error.WriteLine("--opens and --max-seconds must be positive, --interval-ms and --warmup-opens at least 0.");
            return 2;
        }
        var hubEnvironment = BenchArgs.HubEnvironment(args);

        Result trivial;
        await using (var trivialHub = await TrivialHub.StartAsync())
        {
            Console.WriteLine($"trivial hub at {trivialHub.BaseAddress}");
            trivial = await DriveAsync(trivialHub.BaseAddress, null, null, options);
        }
        await using var database = await BenchDatabase.StartAsync();
        Result hub;
        using (var hubProcess = await HubProcess.StartAsync(database.ConnectionString, hubEnvironment))
        {
            Console.WriteLine($"hub at {hubProcess.BaseAddress}");
            hub = await DriveAsync(hubProcess.BaseAddress, hubProcess, database, options);
        }

        var date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            scenario = options.Label, date, commit = Machine.Commit(), machine = Machine.Describe(), options.Opens, options.IntervalMs, options.WarmupOpens,
            window = options.Window, hubEnv = hubEnvironment, hub = Summary(hub), trivialHub = Summary(trivial),
        }));
        var w = options.Window;
        string Row(string target, Result r) =>
            $"| {target} | {r.Published} | {r.Published / r.Elapsed.TotalSeconds:0} | {Latency.Ms(r.First, 50)} | {Latency.Ms(r.First, 99)} | {Latency.Ms(r.Last, 50)} | {Latency.Ms(r.Last, 99)} "
            + $"| {Latency.Ratio(r.Last, r.First, 50)} | {Latency.Ms(r.All, 50)} | {Latency.Ms(r.All, 99)} | {Latency.Ms(r.All, 100)} | {r.NonSuccess} | {r.Timeouts} | {r.Other} "
            + $"| {Rounded(r.HubRssMb)} | {Rounded(r.HubCpuPercent)} | {Rounded(r.DatabaseCpuPercent)} |";
        var warmupNote = hub.WarmupFailures + trivial.WarmupFailures > 0
            ? $" Failed opens during the warm-ups (not in the table): hub {hub.WarmupFailures}, trivial hub {trivial.WarmupFailures}."
            : "";
        var stoppedNote = hub.Published < options.Opens || trivial.Published < options.Opens
            ? $" Stopped at --max-seconds {options.MaxSeconds} before all {options.Opens} opens: hub {hub.Published}, trivial hub {trivial.Published}."
            : "";
        Machine.Record($"""
            ### Suspended anchors: {options.Label} ({date}, commit {Machine.Commit()}, {Machine.Describe()})

            `dotnet run -c Release --project bench/EventSourcedHub.Bench -- suspended-anchors --opens {options.Opens} --interval-ms {options.IntervalMs} --warmup-opens {options.WarmupOpens}{BenchArgs.HubEnvironmentText(args)} --label "{options.Label}"`;
            one topic, 2 acking subscribers of Patient-open,Patient-close; {options.Opens} Patient-opens of new patients, never closed, one every
            {options.IntervalMs} ms or as soon as the previous one was delivered to both, whichever is later (after {options.WarmupOpens} unmeasured
            opens on another topic). Latency from publish to delivery, every delivery; "first"/"last" = the first and the last {w} opens.
            "other" counts notifications the bench did not publish (e.g. closes the hub generates when it evicts an anchor).
            "trivial hub": the bench's in-process hub that stores nothing.{warmupNote}{stoppedNote}

            | target | opens | opens/s | first {w} p50 ms | first {w} p99 ms | last {w} p50 ms | last {w} p99 ms | p50 last/first | all p50 ms | all p99 ms | max ms | non-2xx | timeouts | other | hub RSS MB | hub CPU % | PostgreSQL CPU % |
            |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
            {Row("hub", hub)}
            {Row("trivial hub", trivial)}
            """);
        return hub.NonSuccess + hub.Timeouts + trivial.NonSuccess + trivial.Timeouts == 0 ? 0 : 1;
    }

    private static string Rounded(double? value) => value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static object Summary(Result r) => new
    {
        published = r.Published, seconds = r.Elapsed.TotalSeconds, nonSuccess = r.NonSuccess, timeouts = r.Timeouts, warmupFailures = r.WarmupFailures, other = r.Other,
        firstP50 = Latency.Ms(r.First, 50), firstP99 = Latency.Ms(r.First, 99), lastP50 = Latency.Ms(r.Last, 50), lastP99 = Latency.Ms(r.Last, 99),
        lastOverFirst = Latency.Ratio(r.Last, r.First, 50), p50 = Latency.Ms(r.All, 50), p99 = Latency.Ms(r.All, 99), max = Latency.Ms(r.All, 100),
        hubRssMb = r.HubRssMb, hubCpuPercent = r.HubCpuPercent, databaseCpuPercent = r.DatabaseCpuPercent,
    };

    private static async Task<Result> DriveAsync(Uri baseAddress, HubProcess? hub, BenchDatabase? database, Options options)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = DeliveryTimeout };
        var tracker = new DeliveryTracker();
        using var stop = new CancellationTokenSource();
        var run = Guid.NewGuid().ToString("N")[..8];
        var deadline = Stopwatch.StartNew();
        var overBudget = () => deadline.Elapsed >= TimeSpan.FromSeconds(options.MaxSeconds);

        // Warm-up on a topic of its own (JIT, pools, caches), so that the measured topic starts empty.
        long warmupFailures = 0;
        if (options.WarmupOpens > 0)
        {
            var warmupTopic = $"anchors-{run}-warmup";
            var warmupSubscribers = await SubscribeAsync(http, warmupTopic, tracker, stop.Token);
            var warmup = await OpenPatientsAsync(http, tracker, warmupTopic, options.WarmupOpens, options.IntervalMs, _ => null, overBudget);
            warmupFailures = warmup.NonSuccess + warmup.Timeouts;
            foreach (var subscriber in warmupSubscribers) await subscriber.CloseAsync();
        }

        var topic = $"anchors-{run}";
        var subscribers = await SubscribeAsync(http, topic, tracker, stop.Token);
        var otherBefore = tracker.Other;
        HistogramBase all = Latency.NewHistogram(), first = Latency.NewHistogram(), last = Latency.NewHistogram();
        var hubCpuBefore = hub?.CpuTime() ?? TimeSpan.Zero;
        var databaseCpuBefore = database?.CpuTime();
        var clock = Stopwatch.StartNew();
        var result = await OpenPatientsAsync(http, tracker, topic, options.Opens, options.IntervalMs, i =>
        {
            var window = i < options.Window ? first : i >= options.Opens - options.Window ? last : null;
            return microseconds =>
            {
                all.RecordValue(microseconds);
                window?.RecordValue(microseconds);
            };
        }, overBudget);
        var elapsed = clock.Elapsed;
        var hubCpu = hub is null ? (double?)null : (hub.CpuTime() - hubCpuBefore).TotalSeconds / elapsed.TotalSeconds * 100;
        var databaseCpu = database?.CpuTime() - databaseCpuBefore is { } used ? used.TotalSeconds / elapsed.TotalSeconds * 100 : (double?)null;
        var hubRss = hub?.RssMb();
        await stop.CancelAsync();
        foreach (var subscriber in subscribers) await subscriber.CloseAsync();
        return new Result(result.Published, result.NonSuccess, result.Timeouts, warmupFailures, tracker.Other - otherBefore, elapsed, all, first, last, hubRss, hubCpu, databaseCpu);
    }

    private static async Task<List<AckingSubscriber>> SubscribeAsync(HttpClient http, string topic, DeliveryTracker tracker, CancellationToken stop)
    {
        var subscribers = new List<AckingSubscriber>();
        foreach (var name in SubscriberNames)
            subscribers.Add(await AckingSubscriber.ConnectAsync(http, topic, SubscribedEvents, name, tracker.OnDelivered, stop));
        return subscribers;
    }

    /// <summary>
    /// Opens <paramref name="count"/> new patients on the topic, each after the previous one was delivered and at least
    /// <paramref name="intervalMs"/> after the previous publish; stops early when over the time budget.
    /// </summary>
    private static async Task<(int Published, long NonSuccess, long Timeouts)> OpenPatientsAsync(
        HttpClient http, DeliveryTracker tracker, string topic, int count, int intervalMs, Func<int, Action<long>?> recorder, Func<bool> overBudget)
    {
        var interval = TimeSpan.FromMilliseconds(intervalMs);
        long nonSuccess = 0, timeouts = 0;
        var published = 0;
        var previous = Stopwatch.StartNew();
        for (var i = 0; i < count && !overBudget(); i++)
        {
            if (i > 0 && previous.Elapsed < interval) await Task.Delay(interval - previous.Elapsed);
            previous.Restart();
            var id = $"{topic}-open-{i}";
            var delivered = tracker.Expect(id, SubscriberNames.Length, recorder(i));
            var status = await Fhircast.PublishAsync(http, Fhircast.PatientOpen(topic, id, $"pat-{topic}-{i}"));
            published++;
            if (status is < 200 or > 299)
            {
                tracker.Forget(id);
                if (status == 0) timeouts++;
                else nonSuccess++;
                continue;
            }
            try
            {
                await delivered.WaitAsync(DeliveryTimeout);
            }
            catch (TimeoutException)
            {
                tracker.Forget(id);
                Console.Error.WriteLine($"{id}: not delivered to both subscribers within {DeliveryTimeout.TotalSeconds} s");
                timeouts++;
            }
        }
        return (published, nonSuccess, timeouts);
    }
}
