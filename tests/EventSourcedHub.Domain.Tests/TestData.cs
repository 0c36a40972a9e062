namespace EventSourcedHub.Domain.Tests;

/// <summary>Small builders shared by the tests: one fixed topic, fixed times, compact event JSON, counter-based version ids.</summary>
internal static class TestData
{
    public const string Topic = "topic-1";
    public const string Timestamp = "2025-03-01T14:58:45.988Z";

    /// <summary>A fixed "now" for decisions.</summary>
    public static readonly DateTimeOffset T0 = new(2025, 3, 1, 15, 0, 0, TimeSpan.Zero);

    /// <summary>Version ids `v1`, `v2`, ... in call order; a fresh counter per call.</summary>
    public static Func<string> VersionCounter(string prefix = "v")
    {
        var next = 0;
        return () => prefix + ++next;
    }

    /// <summary>An event request as compact JSON. <paramref name="eventExtras"/> (e.g. <see cref="Versions"/>) goes between `hub.event` and `context`.</summary>
    public static string Event(string name, string context = "[]", string id = "evt-1", string topic = Topic, string timestamp = Timestamp, string eventExtras = "") =>
        $$$"""{"timestamp":"{{{timestamp}}}","id":"{{{id}}}","event":{"hub.topic":"{{{topic}}}","hub.event":"{{{name}}}"{{{eventExtras}}},"context":{{{context}}}}}""";

    /// <summary>The event-level version keys exactly as the hub writes them (to splice into <see cref="Event"/>).</summary>
    public static string Versions(string versionId, string? priorVersionId = null) =>
        $",\"context.versionId\":\"{versionId}\"" + (priorVersionId is null ? "" : $",\"context.priorVersionId\":\"{priorVersionId}\"");

    public static string Context(params string[] entries) => "[" + string.Join(",", entries) + "]";

    public static string Resource(string key, string resourceType, string id) =>
        $$$"""{"key":"{{{key}}}","resource":{"resourceType":"{{{resourceType}}}","id":"{{{id}}}"}}""";

    public static string Reference(string key, string reference) =>
        $$$"""{"key":"{{{key}}}","reference":{"reference":"{{{reference}}}"}}""";

    public static string PatientOpen(string patientId, string id = "evt-1") =>
        Event("Patient-open", Context(Resource("patient", "Patient", patientId)), id);

    public static string PatientClose(string patientId, string id = "evt-close") =>
        Event("Patient-close", Context(Resource("patient", "Patient", patientId)), id);

    public static string StudyOpen(string studyId, string id = "evt-study") =>
        Event("ImagingStudy-open", Context(Resource("study", "ImagingStudy", studyId)), id);

    public static NotificationRequest Request(string json, string? pathTopic = null)
    {
        var decision = NotificationRequest.Parse(json, pathTopic);
        Assert.False(decision.IsRejected, decision.Rejection?.Message);
        return decision.Value!;
    }

    public static T Accepted<T>(Decision<T> decision)
    {
        Assert.False(decision.IsRejected, decision.Rejection?.Message);
        Assert.NotNull(decision.Value);
        return decision.Value!;
    }

    /// <summary>The rejection of a refused decision; it always carries a message for the caller.</summary>
    public static Rejection Rejected<T>(Decision<T> decision)
    {
        Assert.True(decision.IsRejected, "expected a rejection");
        var rejection = decision.Rejection!;
        Assert.False(string.IsNullOrWhiteSpace(rejection.Message));
        return rejection;
    }

    public static TopicSession Session(params object[] events) => TopicSession.Fold(Topic, events);

    public static TopicSession Apply(TopicSession state, IEnumerable<object> events) => events.Aggregate(state, TopicSession.Evolve);

    /// <summary>Publishes <paramref name="json"/> through the decision and folds what it decided into the state.</summary>
    public static TopicSession StateAfter(TopicSession state, string json, Func<string> versions) =>
        Apply(state, Accepted(TopicDecisions.Publish(state, Request(json), versions, Policy)).Events);

    /// <summary>The default content policy without derived opens, so that the id counter only mints versionIds.</summary>
    public static readonly ContentPolicy Policy = ContentPolicy.Default with { DeriveOpenEvents = false };

    /// <summary>A topic that exists (it has one requested subscription), as after its first subscribe.</summary>
    public static TopicSession KnownTopic() =>
        Session(new Subscribed("ep-1", "Acme", ["Patient-open"], 7200, T0));

    /// <summary>A form in the order given; a null value leaves the field out.</summary>
    public static List<KeyValuePair<string, string>> Form(params (string Key, string? Value)[] fields) =>
        fields.Where(f => f.Value is not null).Select(f => new KeyValuePair<string, string>(f.Key, f.Value!)).ToList();

    /// <summary>A valid subscribe form; each override replaces its field (null removes it).</summary>
    public static List<KeyValuePair<string, string>> SubscribeForm(params (string Key, string? Value)[] overrides) =>
        WithOverrides(
            [("hub.channel.type", "websocket"), ("hub.mode", "subscribe"), ("hub.topic", Topic), ("hub.events", "Patient-open,Patient-close")],
            overrides);

    /// <summary>A valid unsubscribe form; each override replaces its field (null removes it).</summary>
    public static List<KeyValuePair<string, string>> UnsubscribeForm(params (string Key, string? Value)[] overrides) =>
        WithOverrides(
            [("hub.channel.type", "websocket"), ("hub.mode", "unsubscribe"), ("hub.topic", Topic), ("hub.channel.endpoint", "wss://hub.example.com/api/hub/ws/ep-1")],
            overrides);

    private static List<KeyValuePair<string, string>> WithOverrides((string Key, string? Value)[] defaults, (string Key, string? Value)[] overrides)
    {
        var fields = defaults.ToList();
        foreach (var (key, value) in overrides)
        {
            fields.RemoveAll(f => f.Key == key);
            fields.Add((key, value));
        }
        return Form(fields.ToArray());
    }
}
