using System.Diagnostics;
using EventSourcedHub.Domain;
using EventSourcedHub.Storage;
using HdrHistogram;
using Marten;

namespace EventSourcedHub.Bench;

/// <summary>
/// Issue 5's target: the context as of version 10,000 of a 10,000-event session in under 50 ms. Builds such a session
/// with the hub's own decisions (opens, content updates, selects, closes over five reports) and the hub's snapshots,
/// then times the same time-travel read the API makes (nearest snapshot, then the events after it).
/// </summary>
public static class ContextAsOfBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var events = BenchArgs.Number(args, "--events", 10_000);
        var samples = BenchArgs.Number(args, "--samples", 50);
        await using var database = await BenchDatabase.StartAsync();
        using var store = DocumentStore.For(opts => HubStore.Configure(opts, database.ConnectionString));
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();

        var topic = "bench-" + Guid.NewGuid().ToString("N");
        var build = Stopwatch.StartNew();
        var written = await WriteSessionAsync(store, topic, events);
        Console.WriteLine($"Wrote {written} events in {build.Elapsed.TotalSeconds:0.0} s");

        var results = new List<(string Point, LongHistogram Histogram)>();
        foreach (var version in new[] { written / 2, written - 1, written })
        {
            var histogram = new LongHistogram(TimeStamp.Seconds(10), 3);
            for (var i = 0; i < samples + 3; i++)
            {
                await using var query = store.QuerySession();
                var start = Stopwatch.GetTimestamp();
                var state = await TopicSnapshots.AsOfAsync(query, topic, version, CancellationToken.None);
                var elapsed = Stopwatch.GetTimestamp() - start;
                if (state?.Version != version) throw new InvalidOperationException($"Expected version {version}, got {state?.Version}.");
                if (i >= 3) histogram.RecordValue(elapsed); // the first reads warm up the JIT and caches
            }
            results.Add(($"version {version}", histogram));
        }

        var rows = results.Select(r =>
            $"| {r.Point} of {written} | {Ms(r.Histogram, 50)} | {Ms(r.Histogram, 90)} | {Ms(r.Histogram, 99)} | {Ms(r.Histogram, 100)} | {samples} |");
        var markdown = $"""
            ### Context as of a version ({DateTimeOffset.UtcNow:yyyy-MM-dd}, commit {Machine.Commit()}, {Machine.Describe()})

            `dotnet run -c Release --project bench/EventSourcedHub.Bench -- context-as-of --events {events} --samples {samples}`;
            snapshots every 200 versions (Hub:SnapshotInterval); PostgreSQL on the same machine. Target: under 50 ms at version 10,000.

            | read | p50 ms | p90 ms | p99 ms | max ms | samples |
            |---|---|---|---|---|---|
            {string.Join("\n", rows)}
            """;
        Console.WriteLine(markdown);
        Machine.Record(markdown);
        return 0;
    }

    /// <summary>A realistic session: reports opened and switched, content updated and selected, reports closed.</summary>
    private static async Task<long> WriteSessionAsync(IDocumentStore store, string topic, int count)
    {
        var state = TopicSession.Start(topic);
        var pending = new List<object>
        {
            new Subscribed("bench-endpoint", "bench", ["DiagnosticReport-open"], 7200, DateTimeOffset.UtcNow),
            new SubscriptionConfirmed("bench-endpoint", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(2)),
        };
        foreach (var e in pending) state = TopicSession.Evolve(state, e);
        var written = 0L;
        var snapshotFrom = TopicSession.Start(topic);
        var policy = ContentPolicy.Default with { DeriveOpenEvents = false };
        var n = 0;
        while (written + pending.Count < count)
        {
            var report = $"r{n % 5}";
            var anchor = state.FindAnchor("DiagnosticReport", report);
            var json = (n % 10) switch
            {
                _ when anchor is null => Open(topic, report, n),
                9 => Close(topic, report, n),
                8 => Select(topic, report, n),
                _ => Update(topic, report, anchor.VersionId, n),
            };
            var decision = TopicDecisions.Publish(state, NotificationRequest.Parse(json, null).Value!, () => Guid.NewGuid().ToString(), policy);
            foreach (var e in decision.Value?.Events ?? [])
            {
                state = TopicSession.Evolve(state, e);
                pending.Add(e);
            }
            n++;
            if (pending.Count >= 500) (written, snapshotFrom) = await FlushAsync(store, topic, pending, written, snapshotFrom);
        }
        (written, _) = await FlushAsync(store, topic, pending, written, snapshotFrom);
        return written;
    }

    /// <summary>Appends a batch with the snapshots the hub's write path would have written; returns the new totals.</summary>
    private static async Task<(long Written, TopicSession State)> FlushAsync(IDocumentStore store, string topic, List<object> pending, long written, TopicSession state)
    {
        if (pending.Count == 0) return (written, state);
        await using var session = store.LightweightSession();
        if (written == 0) session.Events.StartStream<TopicSession>(topic, pending.ToArray());
        else session.Events.Append(topic, pending.ToArray());
        session.Store(TopicSnapshots.Advance(topic, state, written, pending, 200).Due);
        foreach (var e in pending) state = TopicSession.Evolve(state, e) with { Version = ++written };
        session.StoreObjects(TopicDocuments.All(state));
        await session.SaveChangesAsync();
        pending.Clear();
        return (written, state);
    }

    private static string Envelope(string topic, string name, string context, int n, string extra = "") =>
        $$$"""{"timestamp":"2025-03-01T14:58:45.988Z","id":"e{{{n}}}","event":{"hub.topic":"{{{topic}}}","hub.event":"{{{name}}}"{{{extra}}},"context":{{{context}}}}}""";

    private static string Open(string topic, string report, int n) => Envelope(topic, "DiagnosticReport-open",
        $$$"""[{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"{{{report}}}","status":"unknown"}},{"key":"patient","resource":{"resourceType":"Patient","id":"p-{{{report}}}"}},{"key":"study","resource":{"resourceType":"ImagingStudy","id":"s-{{{report}}}","status":"available"}}]""", n);

    private static string Close(string topic, string report, int n) => Envelope(topic, "DiagnosticReport-close",
        $$$"""[{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"{{{report}}}"}}]""", n);

    private static string Select(string topic, string report, int n) => Envelope(topic, "DiagnosticReport-select",
        $$$"""[{"key":"report","reference":{"reference":"DiagnosticReport/{{{report}}}"}},{"key":"select","reference":{"reference":"Patient/p-{{{report}}}"}}]""", n);

    private static string Update(string topic, string report, string version, int n) => Envelope(topic, "DiagnosticReport-update",
        $$$$"""[{"key":"report","reference":{"reference":"DiagnosticReport/{{{{report}}}}"}},{"key":"updates","resource":{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"PUT","url":"Observation/o{{{{n % 7}}}}"},"resource":{"resourceType":"Observation","id":"o{{{{n % 7}}}}","status":"preliminary","valueQuantity":{"value":{{{{n}}}},"unit":"mm"}}}]}}]""",
        n, $$$$""","context.versionId":"{{{{version}}}}" """.TrimEnd());

    private static string Ms(HistogramBase histogram, double percentile) =>
        (histogram.GetValueAtPercentile(percentile) * 1000.0 / Stopwatch.Frequency).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);

}
