using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text.Json;
using HdrHistogram;

namespace EventSourcedHub.Bench;

/// <summary>
/// Issue 11: N concurrent reporting sessions, each its own topic with three acking subscribers (PACS, Reporting, AI).
/// Each session loops: DiagnosticReport-open, three DiagnosticReport-updates (one ~1 KB Observation each, against the
/// `context.versionId` a subscriber just received), a DiagnosticReport-select of the last Observation, a Patient-open
/// of a new patient that is never closed (the report becomes a suspended anchor, and open Patient anchors pile up), and
/// the DiagnosticReport-close of the report. Every step waits until its notification reached all three subscribers;
/// every delivery is timed. The same load then runs against the hub process and against <see cref="TrivialHub"/> (the
/// generator's ceiling), and the durable-INSERT floor is measured at the same concurrency.
/// </summary>
public static class ReportingBenchmark
{
    public const string SubscribedEvents =
        "DiagnosticReport-open,DiagnosticReport-update,DiagnosticReport-select,DiagnosticReport-close,Patient-open,Patient-close";

    private static readonly string[] SubscriberNames = ["PACS", "Reporting", "AI"];
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(10);

    private sealed record Options(int Sessions, int Seconds, int Warmup, string Label);

    private sealed record Result(
        long Accepted, long NonSuccess, long Timeouts, long WarmupFailures, long Partial, long Loops, long PatientOpens, long Delivered, long Other, long Unreadable,
        TimeSpan Elapsed, HistogramBase All, HistogramBase First, HistogramBase Last, double? HubRssMb, double? HubCpuPercent, double? DatabaseCpuPercent, double BenchCpuPercent,
        HistogramBase? AuditLag = null, double? AuditDrainMs = null)
    {
        public double PerSecond => Accepted / Elapsed.TotalSeconds;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var options = new Options(
            BenchArgs.Number(args, "--sessions", 8), BenchArgs.Number(args, "--seconds", 60), BenchArgs.Number(args, "--warmup", 10),
            BenchArgs.Text(args, "--label", "reporting"));
        if (options.Sessions < 1 || options.Seconds < 1 || options.Warmup < 0)
        {
            Console.Error.WriteLine("--sessions and --seconds must be positive, --warmup at least 0.");
            return 2;
        }
        var hubEnvironment = BenchArgs.HubEnvironment(args);
        Console.WriteLine($"Observation {Observation("obs-0-0-0", "pat-0-0", "stu-0-0").Length} bytes, update event "
            + $"{ReportUpdate("reporting-00000000-0", "update-0-0-0", "rep-0-0", "pat-0-0", "stu-0-0", Guid.NewGuid().ToString(), "obs-0-0-0").Length} bytes");

        Result trivial;
        await using (var trivialHub = await TrivialHub.StartAsync())
        {
            Console.WriteLine($"trivial hub at {trivialHub.BaseAddress}: {options.Warmup} s warm-up, {options.Seconds} s measured");
            trivial = await DriveAsync(trivialHub.BaseAddress, null, null, options);
        }
        await using var database = await BenchDatabase.StartAsync();
        var floor = await InsertFloor.MeasureAsync(database.ConnectionString, options.Sessions, TimeSpan.FromSeconds(Math.Min(options.Seconds, 10)));
        Result hub;
        using (var hubProcess = await HubProcess.StartAsync(database.ConnectionString, hubEnvironment))
        {
            Console.WriteLine($"hub at {hubProcess.BaseAddress}: {options.Warmup} s warm-up, {options.Seconds} s measured");
            hub = await DriveAsync(hubProcess.BaseAddress, hubProcess, database, options);
        }

        var date = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            scenario = options.Label, date, commit = Machine.Commit(), machine = Machine.Describe(), options.Sessions, options.Seconds, warmupSeconds = options.Warmup,
            hubEnv = hubEnvironment, floorTps = floor, hub = Summary(hub), trivialHub = Summary(trivial),
        }));
        string Row(string target, Result r, string floorText, string ratio) =>
            $"| {target} | {r.PerSecond:0} | {r.Delivered / r.Elapsed.TotalSeconds:0} | {Latency.Ms(r.All, 50)} | {Latency.Ms(r.All, 90)} | {Latency.Ms(r.All, 99)} | {Latency.Ms(r.All, 100)} "
            + $"| {Latency.Ms(r.First, 50)} | {Latency.Ms(r.Last, 50)} | {Latency.Ratio(r.Last, r.First, 50)} | {r.NonSuccess} | {r.Timeouts} "
            + $"| {Rounded(r.HubRssMb)} | {Rounded(r.HubCpuPercent)} | {Rounded(r.DatabaseCpuPercent)} | {r.BenchCpuPercent:0} | {floorText} | {ratio} |";
        var notes = (hub.WarmupFailures + trivial.WarmupFailures > 0
                ? $" Failed steps during the warm-ups (not in the table): hub {hub.WarmupFailures}, trivial hub {trivial.WarmupFailures}."
                : "")
            + (hub.Partial + trivial.Partial > 0 ? $" Answered 206 (partly unknown select): hub {hub.Partial}, trivial hub {trivial.Partial}." : "")
            + (hub.Other > 0 ? $" The hub sent {hub.Other} notifications the bench did not publish (acked, not timed)." : "")
            + (hub.AuditLag is { } lag
                ? $" Audit lag (age of the oldest committed event without its AuditEvent, sampled every {AuditLagSampling.TotalMilliseconds:0} ms while measured):"
                  + $" p50 {Latency.Ms(lag, 50)} ms, p99 {Latency.Ms(lag, 99)} ms, max {Latency.Ms(lag, 100)} ms; all audited {hub.AuditDrainMs:0} ms after the last publish."
                : "");
        Machine.Record($"""
            ### Reporting sessions: {options.Label} ({date}, commit {Machine.Commit()}, {Machine.Describe()})

            `dotnet run -c Release --project bench/EventSourcedHub.Bench -- reporting --sessions {options.Sessions} --seconds {options.Seconds} --warmup {options.Warmup}{BenchArgs.HubEnvironmentText(args)} --label "{options.Label}"`;
            {options.Sessions} sessions, each its own topic with 3 acking subscribers; each loop DiagnosticReport-open, 3 × -update (one ~1 KB
            Observation each), -select, Patient-open of a new patient (never closed), DiagnosticReport-close, each step waiting for its
            delivery to all 3 subscribers. Latency from publish to delivery, every delivery; "first/last fifth" by publish time within the
            {options.Seconds} measured seconds (after {options.Warmup} s of unmeasured warm-up). "trivial hub": the same load against the
            bench's in-process hub that stores nothing (the load generator's ceiling; its CPU is in "bench CPU %").

            | target | events/s | delivered/s | p50 ms | p90 ms | p99 ms | max ms | p50 first fifth ms | p50 last fifth ms | last/first | non-2xx | timeouts | hub RSS MB | hub CPU % | PostgreSQL CPU % | bench CPU % | floor INSERT/s ({options.Sessions} clients) | events/s / floor |
            |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
            {Row("hub", hub, floor.ToString("0"), (hub.PerSecond / floor).ToString("0.00"))}
            {Row("trivial hub", trivial, "-", "-")}

            Hub: {hub.Loops} loops completed in the whole run (warm-up included), {hub.PatientOpens} Patient-opens of new patients that the
            app never closed (about {hub.PatientOpens / options.Sessions} per topic); its events/s are {hub.PerSecond / trivial.PerSecond * 100:0.0} % of the trivial hub's.{notes}
            """);
        return hub.NonSuccess + hub.Timeouts + trivial.NonSuccess + trivial.Timeouts == 0 ? 0 : 1;
    }

    private static string Rounded(double? value) => value is { } v ? v.ToString("0", CultureInfo.InvariantCulture) : "-";

    private static object Summary(Result r) => new
    {
        accepted = r.PerSecond, delivered = r.Delivered / r.Elapsed.TotalSeconds, nonSuccess = r.NonSuccess, timeouts = r.Timeouts, warmupFailures = r.WarmupFailures,
        partial = r.Partial, loops = r.Loops, patientOpens = r.PatientOpens, otherNotifications = r.Other, unreadableFrames = r.Unreadable, measuredSeconds = r.Elapsed.TotalSeconds,
        p50 = Latency.Ms(r.All, 50), p90 = Latency.Ms(r.All, 90), p99 = Latency.Ms(r.All, 99), max = Latency.Ms(r.All, 100),
        firstFifthP50 = Latency.Ms(r.First, 50), lastFifthP50 = Latency.Ms(r.Last, 50), lastOverFirst = Latency.Ratio(r.Last, r.First, 50),
        hubRssMb = r.HubRssMb, hubCpuPercent = r.HubCpuPercent, databaseCpuPercent = r.DatabaseCpuPercent, benchCpuPercent = r.BenchCpuPercent,
        auditLagP50 = r.AuditLag is { } a ? Latency.Ms(a, 50) : null, auditLagP99 = r.AuditLag is { } b ? Latency.Ms(b, 99) : null,
        auditLagMax = r.AuditLag is { } c ? Latency.Ms(c, 100) : null, auditDrainMs = r.AuditDrainMs,
    };

    private static readonly TimeSpan AuditLagSampling = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// The hub writes AuditEvents, Provenance and chain links after the commit (issue 11): the age, in milliseconds, of
    /// the oldest committed event whose topic's audit trail has not reached it yet (0 when all are audited).
    /// </summary>
    private static async Task<long> AuditLagMsAsync(Npgsql.NpgsqlConnection connection)
    {
        await using var command = new Npgsql.NpgsqlCommand(
            """
            select coalesce(max(extract(epoch from clock_timestamp() - e.timestamp)) * 1000, 0)::bigint
            from fhircast.mt_streams s left join fhircast.mt_doc_auditprogress p on p.id = s.id
            join fhircast.mt_events e on e.stream_id = s.id and e.version = coalesce(p.version, 0) + 1
            where s.id <> 'mt_tombstone'
            """, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<Result> DriveAsync(Uri baseAddress, HubProcess? hub, BenchDatabase? database, Options options)
    {
        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = DeliveryTimeout };
        var tracker = new DeliveryTracker();
        using var stop = new CancellationTokenSource();
        var run = Guid.NewGuid().ToString("N")[..8];
        var topics = Enumerable.Range(0, options.Sessions).Select(s => $"reporting-{run}-{s}").ToArray();
        var subscribers = new List<AckingSubscriber>();
        foreach (var topic in topics)
        {
            foreach (var name in SubscriberNames)
                subscribers.Add(await AckingSubscriber.ConnectAsync(http, topic, SubscribedEvents, name, tracker.OnDelivered, stop.Token));
        }

        var generator = new Generator(http, tracker, options);
        var bench = Process.GetCurrentProcess();
        var sessions = topics.Select((topic, s) => Task.Run(() => generator.SessionAsync(topic, s))).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(options.Warmup));
        var hubCpuBefore = hub?.CpuTime() ?? TimeSpan.Zero;
        var databaseCpuBefore = database?.CpuTime();
        bench.Refresh();
        var benchCpuBefore = bench.TotalProcessorTime;
        var measured = Stopwatch.StartNew();
        var lag = database is null ? null : Latency.NewHistogram();
        await using var lagConnection = database is null ? null : new Npgsql.NpgsqlConnection(database.ConnectionString);
        if (lagConnection is not null) await lagConnection.OpenAsync();
        var sampling = lagConnection is null ? Task.CompletedTask : Task.Run(async () =>
        {
            while (!sessions.All(s => s.IsCompleted))
            {
                lag!.RecordValue(Math.Clamp(await AuditLagMsAsync(lagConnection) * 1000, 1, 59_000_000));
                await Task.Delay(AuditLagSampling);
            }
        });
        await Task.WhenAll(sessions);
        var elapsed = measured.Elapsed;
        await sampling;
        double? drainMs = null;
        if (lagConnection is not null)
        {
            var drain = Stopwatch.StartNew();
            while (await AuditLagMsAsync(lagConnection) > 0 && drain.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(10);
            drainMs = drain.Elapsed.TotalMilliseconds;
        }
        var hubCpu = hub is null ? (double?)null : (hub.CpuTime() - hubCpuBefore).TotalSeconds / elapsed.TotalSeconds * 100;
        var databaseCpu = database?.CpuTime() - databaseCpuBefore is { } used ? used.TotalSeconds / elapsed.TotalSeconds * 100 : (double?)null;
        var hubRss = hub?.RssMb();
        bench.Refresh();
        var benchCpu = (bench.TotalProcessorTime - benchCpuBefore).TotalSeconds / elapsed.TotalSeconds * 100;

        await stop.CancelAsync();
        foreach (var subscriber in subscribers) await subscriber.CloseAsync();
        return new Result(generator.Accepted, generator.NonSuccess, generator.Timeouts, generator.WarmupFailures, generator.Partial, generator.Loops,
            generator.PatientOpens, tracker.Delivered, tracker.Other, subscribers.Sum(s => s.Unreadable), elapsed, generator.All, generator.First, generator.Last, hubRss, hubCpu, databaseCpu, benchCpu,
            lag, drainMs);
    }

    private sealed class StepFailedException : Exception;

    /// <summary>The sessions' loops, sharing one clock: warm-up first, then the measured seconds; nothing starts after that.</summary>
    private sealed class Generator(HttpClient http, DeliveryTracker tracker, Options options)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly TimeSpan _warmup = TimeSpan.FromSeconds(options.Warmup);
        private readonly TimeSpan _end = TimeSpan.FromSeconds(options.Warmup + options.Seconds);
        public readonly LongConcurrentHistogram All = Latency.NewHistogram(), First = Latency.NewHistogram(), Last = Latency.NewHistogram();
        public long Accepted, NonSuccess, Timeouts, WarmupFailures, Partial, Loops, PatientOpens;

        private bool Over => _clock.Elapsed >= _end;

        public async Task SessionAsync(string topic, int session)
        {
            for (var loop = 0; !Over; loop++)
            {
                try
                {
                    if (await LoopAsync(topic, $"{session}-{loop}")) Interlocked.Increment(ref Loops);
                }
                catch (StepFailedException)
                {
                    await Task.Delay(100); // the report is abandoned (left open); the next loop starts a new one
                }
            }
        }

        /// <summary>One report from open to close; false when the run ended before it was done.</summary>
        private async Task<bool> LoopAsync(string topic, string n)
        {
            string report = $"rep-{n}", patient = $"pat-{n}", study = $"stu-{n}";
            if (Over) return false;
            var version = await StepAsync($"open-{n}", id => ReportOpen(topic, id, report, patient, study));
            var observation = "";
            for (var u = 0; u < 3; u++)
            {
                if (Over) return false;
                observation = $"obs-{n}-{u}";
                var (seen, current) = (version, observation);
                version = await StepAsync($"update-{n}-{u}", id => ReportUpdate(topic, id, report, patient, study, seen, current));
            }
            if (Over) return false;
            await StepAsync($"select-{n}", id => ReportSelect(topic, id, report, patient, observation));
            if (Over) return false;
            await StepAsync($"patient-{n}", id => Fhircast.PatientOpen(topic, id, $"pat-{n}-next"));
            Interlocked.Increment(ref PatientOpens);
            if (Over) return false;
            await StepAsync($"close-{n}", id => ReportClose(topic, id, report, patient));
            return true;
        }

        /// <summary>Publishes one event and waits until all subscribers received it; the `context.versionId` they got.</summary>
        private async Task<string?> StepAsync(string id, Func<string, string> body)
        {
            var at = _clock.Elapsed;
            var measured = at >= _warmup;
            Action<long>? record = null;
            if (measured)
            {
                var fraction = (at - _warmup) / (_end - _warmup);
                var fifth = fraction < 0.2 ? First : fraction >= 0.8 ? Last : null;
                record = microseconds =>
                {
                    All.RecordValue(microseconds);
                    fifth?.RecordValue(microseconds);
                };
            }
            var json = body(id);
            var delivered = tracker.Expect(id, SubscriberNames.Length, record);
            var status = await Fhircast.PublishAsync(http, json);
            if (status is < 200 or > 299)
            {
                tracker.Forget(id);
                if (!measured) Interlocked.Increment(ref WarmupFailures);
                else if (status == 0) Interlocked.Increment(ref Timeouts); // no answer within the time-out, or the connection failed
                else Interlocked.Increment(ref NonSuccess);
                throw new StepFailedException();
            }
            if (measured) Interlocked.Increment(ref Accepted);
            if (status == 206) Interlocked.Increment(ref Partial); // a select naming a resource the hub does not know: a generator bug
            try
            {
                return await delivered.WaitAsync(DeliveryTimeout);
            }
            catch (TimeoutException)
            {
                tracker.Forget(id);
                Console.Error.WriteLine($"{id}: not delivered to all subscribers within {DeliveryTimeout.TotalSeconds} s");
                if (measured) Interlocked.Increment(ref Timeouts);
                else Interlocked.Increment(ref WarmupFailures);
                throw new StepFailedException();
            }
        }
    }

    private static string Envelope(string topic, string id, string name, string context, string versionId = "") =>
        $$$"""{"timestamp":"{{{Fhircast.Timestamp()}}}","id":"{{{id}}}","event":{"hub.topic":"{{{topic}}}","hub.event":"{{{name}}}"{{{versionId}}},"context":[{{{context}}}]}}""";

    private static string Reference(string key, string type, string id) => $$$"""{"key":"{{{key}}}","reference":{"reference":"{{{type}}}/{{{id}}}"}}""";

    private static string ReportOpen(string topic, string id, string report, string patient, string study) => Envelope(topic, id, "DiagnosticReport-open",
        $$$"""{"key":"report","resource":{"resourceType":"DiagnosticReport","id":"{{{report}}}","status":"preliminary","code":{"text":"CT chest with contrast"},"subject":{"reference":"Patient/{{{patient}}}"},"imagingStudy":[{"reference":"ImagingStudy/{{{study}}}"}]}},"""
        + $$$"""{"key":"patient","resource":{{{Fhircast.Patient(patient)}}}},"""
        + $$$"""{"key":"study","resource":{"resourceType":"ImagingStudy","id":"{{{study}}}","status":"available","subject":{"reference":"Patient/{{{patient}}}"},"identifier":[{"system":"urn:dicom:uid","value":"urn:oid:{{{StudyUid()}}}"}]}}""");

    /// <summary>An update adding one new Observation (about 1 KB), against the version the subscribers just received.</summary>
    private static string ReportUpdate(string topic, string id, string report, string patient, string study, string? versionId, string observation) => Envelope(topic, id, "DiagnosticReport-update",
        Reference("report", "DiagnosticReport", report) + "," + Reference("patient", "Patient", patient) + ","
        + $$$"""{"key":"updates","resource":{"resourceType":"Bundle","id":"bundle-{{{id}}}","type":"transaction","entry":[{"request":{"method":"PUT","url":"Observation/{{{observation}}}"},"resource":"""
        + Observation(observation, patient, study) + "}]}}",
        $$$""","context.versionId":"{{{versionId}}}" """.TrimEnd());

    private static string Observation(string id, string patient, string study) =>
        $$$"""{"resourceType":"Observation","id":"{{{id}}}","status":"preliminary","category":["""
        + """{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"imaging","display":"Imaging"}]}],"code":"""
        + """{"coding":[{"system":"http://www.radlex.org","code":"RID49690","display":"finding"}],"text":"Finding"},"subject":"""
        + $$$"""{"reference":"Patient/{{{patient}}}"},"effectiveDateTime":"{{{Fhircast.Timestamp()}}}","derivedFrom":["""
        + $$$"""{"reference":"ImagingStudy/{{{study}}}"}],"valueString":"{{{Finding}}}"}""";

    private static string ReportSelect(string topic, string id, string report, string patient, string observation) => Envelope(topic, id, "DiagnosticReport-select",
        Reference("report", "DiagnosticReport", report) + "," + Reference("patient", "Patient", patient) + ","
        + $$$"""{"key":"select","reference":[{"reference":"Observation/{{{observation}}}"}]}""");

    private static string ReportClose(string topic, string id, string report, string patient) => Envelope(topic, id, "DiagnosticReport-close",
        Reference("report", "DiagnosticReport", report) + "," + Reference("patient", "Patient", patient));

    private const string Finding =
        "Solid nodule in the right upper lobe, series 3 image 42, measuring 8 x 6 mm, unchanged in size and morphology compared with the prior "
        + "examination. No new pulmonary nodules. Mild centrilobular emphysema with upper lobe predominance. No consolidation, no pleural "
        + "effusion, no pneumothorax. Mediastinal and hilar lymph nodes are not enlarged by size criteria. Heart size is normal; no pericardial "
        + "effusion. Recommendation: follow-up CT in 12 months.";

    /// <summary>A DICOM study instance UID under the 2.25 (UUID) root.</summary>
    private static string StudyUid() => "2.25." + new BigInteger(Guid.NewGuid().ToByteArray(), isUnsigned: true);
}
