using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using FsCheck;
using FsCheck.Fluent;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Security;

/// <summary>
/// A corpus of hundreds of generated malformed requests: none may get a 5xx, each gets the right 4xx class, none changes
/// the session, and the hub keeps serving.
/// </summary>
public sealed class HostileInputTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private static readonly JsonNode?[] Replacements =
    [
        null, JsonValue.Create(true), JsonValue.Create(0), JsonValue.Create(-1.5e300), JsonValue.Create(""), JsonValue.Create("x"),
        new JsonArray(), new JsonObject(), JsonValue.Create(new string('z', 20_000)), JsonValue.Create("\u0000\u202e<script>"),
    ];

    private async Task<long> VersionOfAsync(string topic)
    {
        await using var query = fixture.Hub.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return (await query.Events.FetchStreamStateAsync(topic))?.Version ?? 0;
    }

    private static IEnumerable<(string Path, JsonNode Parent, object Key)> Slots(JsonNode node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    yield return ($"{path}.{key}", obj, key);
                    if (value is not null) foreach (var inner in Slots(value, $"{path}.{key}")) yield return inner;
                }
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    yield return ($"{path}[{i}]", array, i);
                    if (array[i] is { } value) foreach (var inner in Slots(value, $"{path}[{i}]")) yield return inner;
                }
                break;
        }
    }

    /// <summary>Every field of a valid report update replaced by every wrong JSON type.</summary>
    private static IEnumerable<(string What, string Body)> FuzzedEvents(string topic, string version)
    {
        var valid = ReportUpdate(topic, "r1", version, [Put(ObservationResource("o1"), "Observation/o1")], id: "valid");
        var slotCount = Slots(JsonNode.Parse(valid)!, "$").Count();
        for (var slot = 0; slot < slotCount; slot++)
        {
            foreach (var replacement in Replacements)
            {
                var root = JsonNode.Parse(valid)!;
                var (path, parent, key) = Slots(root, "$").ElementAt(slot);
                if (parent is JsonObject obj) obj[(string)key] = replacement?.DeepClone();
                else ((JsonArray)parent)[(int)key] = replacement?.DeepClone();
                // A fresh id, so that no mutation is answered as a retry of another.
                if (root is JsonObject r && path != "$.id") r["id"] = Guid.NewGuid().ToString();
                var shown = $"{path} := {replacement?.ToJsonString() ?? "null"}";
                yield return (shown[..Math.Min(shown.Length, 120)], root.ToJsonString());
            }
        }
    }

    [Fact]
    public async Task hundreds_of_fuzzed_events_never_get_a_5xx_and_rejected_ones_change_nothing()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "DiagnosticReport-open");
        await _hub.PublishAsync(ReportOpen(topic, "r1"));
        var version = (string)(await _hub.GetContextAsync(topic))["context.versionId"]!;

        var count = 0;
        var failures = new List<string>();
        foreach (var (what, body) in FuzzedEvents(topic, version))
        {
            count++;
            var before = await VersionOfAsync(topic);
            using var response = await _hub.PublishJsonAsync(body);
            var status = (int)response.StatusCode;
            if (status >= 500) failures.Add($"{status} for {what}");
            else if (status >= 400)
            {
                if (response.Content.Headers.ContentType?.MediaType != "application/fhir+json") failures.Add($"{status} without OperationOutcome for {what}");
                if (await VersionOfAsync(topic) != before) failures.Add($"{status} but the session changed for {what}");
            }
            else if (await VersionOfAsync(topic) == before)
            {
                failures.Add($"{status} but nothing was recorded for {what}");
            }
        }
        Assert.True(count >= 300, $"only {count} fuzzed events");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        await _hub.PublishAsync(Custom(topic, "org.example.still-alive"));
    }

    public static TheoryData<string, string, string, int> RawRequests()
    {
        var deep = new string('[', 5000) + new string(']', 5000);
        return new()
        {
            { "deep nesting", "application/json", $$$"""{"timestamp":"2025-03-01T14:58:45Z","id":"x","event":{"hub.topic":"TOPIC","hub.event":"Patient-open","context":{{{deep}}}}}""", 400 },
            { "deep object nesting", "application/json", string.Concat(Enumerable.Repeat("{\"a\":", 3000)) + "1" + new string('}', 3000), 400 },
            { "truncated", "application/json", """{"timestamp":"2025-03-01T14:58:45Z","id":"x","event":{"hub.topic":""", 400 },
            { "trailing garbage", "application/json", """{"timestamp":"2025-03-01T14:58:45Z","id":"x","event":{}} {"x":1}""", 400 },
            { "json as xml", "application/xml", "<event/>", 415 },
            { "no content type", "", "{}", 415 },
            { "text", "text/plain", "hello", 415 },
            { "json in a form", "application/x-www-form-urlencoded", """{"timestamp":"x"}""", 400 },
            { "form injection in a value", "application/x-www-form-urlencoded", "hub.channel.type=websocket&hub.mode=subscribe&hub.topic=TOPIC&hub.events=Patient-open%26hub.mode%3Dunsubscribe%0D%0AX-Evil%3A1", 400 },
            { "form injection without control characters", "application/x-www-form-urlencoded", "hub.channel.type=websocket&hub.mode=subscribe&hub.topic=TOPIC&hub.events=Patient-open%26hub.mode%3Dunsubscribe", 202 },
            { "duplicate mode", "application/x-www-form-urlencoded", "hub.channel.type=websocket&hub.mode=subscribe&hub.mode=unsubscribe&hub.topic=TOPIC&hub.events=Patient-open", 400 },
            { "nul in the topic", "application/x-www-form-urlencoded", "hub.channel.type=websocket&hub.mode=unsubscribe&hub.topic=TOPIC%00&hub.channel.endpoint=abc", 400 },
            { "endpoint path traversal", "application/x-www-form-urlencoded", "hub.channel.type=websocket&hub.mode=unsubscribe&hub.topic=TOPIC&hub.channel.endpoint=..%2F..%2Fetc%2Fpasswd", 400 },
            { "empty form", "application/x-www-form-urlencoded", "", 400 },
            { "only separators", "application/x-www-form-urlencoded", "&&&===&", 400 },
            { "unknown topic", "application/json", PatientOpen("never-subscribed-topic", "p"), 400 },
            { "huge id", "application/json", PatientOpen("TOPIC", "p").Replace("\"id\":\"", "\"id\":\"" + new string('i', 900_000)), 413 },
        };
    }

    [Theory]
    [MemberData(nameof(RawRequests))]
    public async Task raw_hostile_requests_get_the_right_4xx_and_change_nothing(string what, string mediaType, string body, int expected)
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var before = await VersionOfAsync(topic);
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.Replace("TOPIC", topic)));
        if (mediaType.Length > 0) content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        using var request = new HttpRequestMessage(HttpMethod.Post, HubClient.HubPath) { Content = content };
        request.Headers.ExpectContinue = true;
        using var response = await _hub.Http.SendAsync(request);
        Assert.True(expected == (int)response.StatusCode, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        if (expected >= 400) Assert.Equal(before, await VersionOfAsync(topic));
    }

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { 0xFF, 0xFE, 0xFD })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    [InlineData(new byte[] { 0xF8, 0x88, 0x80, 0x80, 0x80 })]
    [InlineData(new byte[] { 0xE2, 0x82 })]
    public async Task invalid_utf8_anywhere_in_an_event_is_400(byte[] bad)
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var json = PatientOpen(topic, "PLACEHOLDER");
        var at = json.IndexOf("PLACEHOLDER", StringComparison.Ordinal);
        var bytes = Encoding.UTF8.GetBytes(json[..at]).Concat(bad).Concat(Encoding.UTF8.GetBytes(json[(at + "PLACEHOLDER".Length)..])).ToArray();
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await _hub.Http.PostAsync(HubClient.HubPath, content);
        await HubClient.AssertOperationOutcome(response, HttpStatusCode.BadRequest, "invalid");
    }

    [Theory]
    [InlineData("GET", "/api/hub/..%2F..%2Fetc%2Fpasswd", 404)]
    [InlineData("GET", "/api/hub/ws/..%2F..%2Fadmin", 404)]
    [InlineData("GET", "/api/hub/ws/%27%20OR%201%3D1--", 404)]
    [InlineData("GET", "/api/sessions/x/events?afterVersion=99999999999999999999", 400)]
    [InlineData("GET", "/api/sessions/x/context?version=-1", 400)]
    [InlineData("PUT", "/api/hub", 405)]
    [InlineData("DELETE", "/api/hub/x", 405)]
    [InlineData("GET", "/nope", 404)]
    public async Task path_tricks_are_answered_with_an_operation_outcome(string method, string path, int expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await _hub.Http.SendAsync(request);
        Assert.Equal(expected, (int)response.StatusCode);
        Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task a_nul_in_the_path_is_refused_by_the_server_with_400()
    {
        using var response = await _hub.Http.GetAsync("/api/hub/%00");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData("hub.topic")]
    [InlineData("hub.events")]
    [InlineData("subscriber.name")]
    public async Task control_characters_in_subscription_fields_are_400_text(string field)
    {
        var fields = new Dictionary<string, string>
        {
            ["hub.channel.type"] = "websocket", ["hub.mode"] = "subscribe", ["hub.topic"] = NewTopic(), ["hub.events"] = "Patient-open", ["subscriber.name"] = "app",
        };
        fields[field] += "\u0000";
        using var response = await _hub.PostFormAsync(fields.Select(f => (f.Key, f.Value)).ToArray());
        await HubClient.AssertPlainTextError(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task a_topic_path_of_ten_thousand_characters_is_refused_without_a_5xx()
    {
        using var response = await _hub.Http.GetAsync("/api/hub/" + new string('t', 10_000));
        Assert.InRange((int)response.StatusCode, 400, 499);
    }

    /// <summary>Arbitrary JSON values where the envelope's fields belong: any answer but a 5xx.</summary>
    [Fact]
    public async Task any_envelope_of_arbitrary_json_values_is_answered_without_a_5xx()
    {
        var topic = NewTopic();
        await _hub.SubscribeAsync(topic, "Patient-open");
        var leaf = Gen.OneOf(
            Gen.Constant<JsonNode?>(null),
            ArbMap.Default.GeneratorFor<bool>().Select(b => (JsonNode?)JsonValue.Create(b)),
            ArbMap.Default.GeneratorFor<int>().Select(i => (JsonNode?)JsonValue.Create(i)),
            ArbMap.Default.GeneratorFor<string>().Select(s => (JsonNode?)JsonValue.Create(s ?? "")),
            Gen.Elements<JsonNode?>(JsonValue.Create(topic), JsonValue.Create("Patient-open"), JsonValue.Create("2025-03-01T14:58:45Z")));
        var entry = Gen.ListOf(leaf).Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray()));
        var value = Gen.OneOf(leaf, entry);
        var envelopes =
            from timestamp in value
            from id in value
            from hubTopic in value
            from name in value
            from context in value
            select new JsonObject
            {
                ["timestamp"] = timestamp?.DeepClone(), ["id"] = id?.DeepClone(),
                ["event"] = new JsonObject { ["hub.topic"] = hubTopic?.DeepClone(), ["hub.event"] = name?.DeepClone(), ["context"] = context?.DeepClone() },
            }.ToJsonString();

        Prop.ForAll(envelopes.ToArbitrary(), (Action<string>)(body =>
        {
            using var response = _hub.PublishJsonAsync(body).GetAwaiter().GetResult();
            Assert.True((int)response.StatusCode < 500, $"{(int)response.StatusCode} for {body}");
        })).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }
}
