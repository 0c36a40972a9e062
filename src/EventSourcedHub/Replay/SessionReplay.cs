using EventSourcedHub.Http;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using EventSourcedHub.Domain;
using EventSourcedHub.Fhir;
using EventSourcedHub.Storage;
using Marten;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Replay;

/// <summary>The progress of one replay, as `GET /api/replays/{id}` shows it.</summary>
public sealed class ReplayRun
{
    public required string Id { get; init; }
    public required string SourceTopic { get; init; }
    public required string TargetTopic { get; init; }
    public required long FromVersion { get; init; }
    public required long ToVersion { get; init; }
    public required double Speed { get; init; }
    public required int Total { get; init; }
    public int Published;
    public int Rejected;
    public DateTimeOffset Started { get; init; }

    /// <summary>Who started the run: the agent of the events it publishes.</summary>
    public required Security.Actor Actor { get; init; }
    internal CancellationTokenSource Cancellation { get; } = new();

    // Status and Finished change together under this lock: the run's task and a cancel request race on them.
    private readonly object _gate = new();
    private string _status = "running";
    private DateTimeOffset? _finished;

    /// <summary>running, cancelling, completed, cancelled or failed.</summary>
    public string Status
    {
        get { lock (_gate) return _status; }
    }

    public DateTimeOffset? Finished
    {
        get { lock (_gate) return _finished; }
    }

    /// <summary>A running run is now cancelling; one that has ended stays as it ended.</summary>
    public void Cancelling()
    {
        lock (_gate)
        {
            if (_status == "running") _status = "cancelling";
        }
    }

    public void Finish(string status, DateTimeOffset at)
    {
        lock (_gate)
        {
            _status = status;
            _finished = at;
        }
    }

    public object View()
    {
        lock (_gate)
        {
            return new
            {
                id = Id, sourceTopic = SourceTopic, targetTopic = TargetTopic, fromVersion = FromVersion, toVersion = ToVersion, speed = Speed,
                status = _status, total = Total, published = Published, rejected = Rejected, started = Started, finished = _finished,
            };
        }
    }
}

/// <summary>
/// `POST /api/sessions/{topic}/replay`: re-publishes a recorded session's notifications into a target topic through the
/// normal write path (validated, stored, distributed), with new event ids, the target's own versionIds, and the source
/// event named in each new event's metadata (rulings.md 18). Pacing follows the recorded times divided by `speed`
/// (0 = as fast as possible). Runs are kept in memory: they end with the process, and a finished run is forgotten
/// `Hub:FinishedReplayRetentionMinutes` after it ended.
/// </summary>
public sealed class SessionReplay(IDocumentStore store, TopicStream topics, Security.Access access, IOptions<HubOptions> options, TimeProvider clock, ILogger<SessionReplay> logger)
{
    private readonly ConcurrentDictionary<string, ReplayRun> _runs = new();

    private sealed record Recorded(long Version, DateTimeOffset At, INotificationEvent Notification);

    public async Task<IResult> StartAsync(HttpContext http, string sourceTopic)
    {
        JsonDocument body;
        try
        {
            body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
        }
        catch (JsonException e)
        {
            return Answers.Invalid($"The body is not valid JSON: {e.Message}");
        }
        using (body)
        {
            var root = body.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return Answers.Invalid("The body must be an object with `targetTopic`.");
            if (!root.TryGetProperty("targetTopic", out var t) || t.ValueKind != JsonValueKind.String || t.GetString()!.Trim().Length == 0)
                return Answers.Invalid("`targetTopic` is required: the topic to replay into.");
            var target = t.GetString()!;
            if (!StorableText.IsStorable(target)) return Answers.For(StorableText.Refused("`targetTopic`"));
            if (target == sourceTopic) return Answers.Invalid("`targetTopic` must differ from the recorded topic.");
            if (access.ReplayInto(http, target) is { } denied) return denied;
            var speed = 1.0;
            if (root.TryGetProperty("speed", out var s) && (s.ValueKind != JsonValueKind.Number || !s.TryGetDouble(out speed) || speed < 0 || speed > 1000))
                return Answers.Invalid("`speed` must be a number from 0 (as fast as possible) to 1000; 1.0 is the original pacing.");
            if (!TryVersion(root, "fromVersion", out var from) || !TryVersion(root, "toVersion", out var to))
                return Answers.Invalid("`fromVersion` and `toVersion` must be whole numbers, 1 or more.");

            await using var session = store.QuerySession();
            var state = await session.Events.FetchStreamStateAsync(sourceTopic, http.RequestAborted);
            if (state is null) return Answers.NotFound($"Unknown topic '{sourceTopic}'.");
            var first = from ?? 1;
            var last = to ?? state.Version;
            if (first > last || last > state.Version)
                return Answers.Invalid($"The range {first}..{last} is not within the recorded versions 1..{state.Version}.");

            var recorded = (await session.Events.FetchStreamAsync(sourceTopic, version: last, fromVersion: first, token: http.RequestAborted))
                .Where(e => e.Data is INotificationEvent and not SyncErrorRaised)
                .Select(e => new Recorded(e.Version, e.Timestamp, (INotificationEvent)e.Data))
                .ToList();

            var run = new ReplayRun
            {
                Id = Guid.NewGuid().ToString("N"), SourceTopic = sourceTopic, TargetTopic = target, FromVersion = first, ToVersion = last,
                Speed = speed, Total = recorded.Count, Started = clock.GetUtcNow(), Actor = Security.Actor.Of(http),
            };
            await topics.AppendAsync(target, (_, _, _) => Task.FromResult<Decision<object[]>>(new object[]
            {
                new ReplayStarted(run.Id, sourceTopic, first, last, speed, run.Started),
            }), http.RequestAborted, run.Actor.Headers());
            ForgetFinished();
            _runs[run.Id] = run;
            _ = Task.Run(() => RunAsync(run, recorded));
            return Results.Json(run.View(), statusCode: StatusCodes.Status202Accepted);
        }
    }

    public IResult Get(string id)
    {
        ForgetFinished();
        return _runs.TryGetValue(id, out var run) ? Results.Json(run.View()) : Answers.NotFound($"No replay '{id}' on this hub.");
    }

    public IResult Cancel(string id)
    {
        ForgetFinished();
        if (!_runs.TryGetValue(id, out var run)) return Answers.NotFound($"No replay '{id}' on this hub.");
        run.Cancelling();
        run.Cancellation.Cancel();
        return Results.Json(run.View(), statusCode: StatusCodes.Status202Accepted);
    }

    private async Task RunAsync(ReplayRun run, List<Recorded> recorded)
    {
        var policy = options.Value.ContentPolicy();
        var ct = run.Cancellation.Token;
        try
        {
            for (var i = 0; i < recorded.Count; i++)
            {
                if (i > 0 && run.Speed > 0)
                {
                    var gap = (recorded[i].At - recorded[i - 1].At) / run.Speed;
                    if (gap > TimeSpan.Zero) await Task.Delay(gap, clock, ct);
                }
                ct.ThrowIfCancellationRequested();
                if (await ReplayOneAsync(run, recorded[i], policy, ct)) Interlocked.Increment(ref run.Published);
                else Interlocked.Increment(ref run.Rejected);
            }
            run.Finish("completed", clock.GetUtcNow());
        }
        catch (OperationCanceledException)
        {
            run.Finish("cancelled", clock.GetUtcNow());
        }
        catch (Exception e)
        {
            logger.LogError(e, "Replay {Replay} of {Source} into {Target} failed", run.Id, run.SourceTopic, run.TargetTopic);
            run.Finish("failed", clock.GetUtcNow());
        }
    }

    /// <summary>Finished runs stay readable for a while, then go: memory does not grow with the number of replays.</summary>
    private void ForgetFinished()
    {
        var before = clock.GetUtcNow() - TimeSpan.FromMinutes(options.Value.FinishedReplayRetentionMinutes);
        foreach (var (id, run) in _runs)
        {
            if (run.Finished is { } finished && finished < before) _runs.TryRemove(new KeyValuePair<string, ReplayRun>(id, run));
        }
    }

    /// <summary>One recorded notification through the write path; false when the target's state rejects it.</summary>
    private async Task<bool> ReplayOneAsync(ReplayRun run, Recorded source, ContentPolicy policy, CancellationToken ct)
    {
        var request = NotificationRequest.Parse(NotificationText.Retarget(source.Notification.Notification, Guid.NewGuid().ToString(), run.TargetTopic), null);
        if (request.IsRejected) return false;
        var headers = new Dictionary<string, object>(run.Actor.Headers())
        {
            ["replay-id"] = run.Id,
            ["replay-of-topic"] = run.SourceTopic,
            ["replay-of-event"] = source.Notification.EventId,
            ["replay-of-version"] = source.Version.ToString(CultureInfo.InvariantCulture),
        };
        var appended = await topics.AppendAsync(run.TargetTopic, (state, _, _) =>
        {
            if (state is null) return Task.FromResult<Decision<object[]>>(Rejection.UnknownTopic(run.TargetTopic));
            var decision = TopicDecisions.Replay(state, request.Value!, () => Guid.NewGuid().ToString(), policy);
            return Task.FromResult<Decision<object[]>>(decision.IsRejected ? decision.Rejection! : decision.Value!.Events);
        }, ct, headers);
        return !appended.IsRejected && appended.Value!.Events.Count > 0;
    }

    private static bool TryVersion(JsonElement root, string name, out long? version)
    {
        version = null;
        if (!root.TryGetProperty(name, out var v)) return true;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n) || n < 1) return false;
        version = n;
        return true;
    }
}
