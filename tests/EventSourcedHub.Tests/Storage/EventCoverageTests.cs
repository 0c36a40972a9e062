using System.Reflection;
using EventSourcedHub.Audit;
using EventSourcedHub.Storage;

namespace EventSourcedHub.Tests.Storage;

/// <summary>A new stream event must be folded and audited; forgetting one breaks the session or the audit trail silently.</summary>
public sealed class EventCoverageTests
{
    public static TheoryData<string> EventTypeNames() => new(HubStore.EventTypes.Keys);

    private static bool Handles(Type projection, Type eventType) =>
        projection.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.Name is "Create" or "Apply" or "Project")
            .SelectMany(m => m.GetParameters())
            .Any(p => p.ParameterType == eventType
                      || (p.ParameterType.IsGenericType && p.ParameterType.GetGenericArguments().Contains(eventType)));

    /// <summary>An instance of a stored event record with plain values in every field.</summary>
    private static object Sample(Type type)
    {
        var constructor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        var values = constructor.GetParameters().Select(object? (p) => p.ParameterType switch
        {
            var t when t == typeof(string) => p.Name == "Notification" ? "{\"event\":{\"context\":[]}}" : "x",
            var t when t == typeof(string[]) => new[] { "x" },
            var t when t == typeof(DateTimeOffset) => DateTimeOffset.UnixEpoch,
            var t when t == typeof(long) => 1L,
            var t when t == typeof(int) => 1,
            var t when t == typeof(double) => 1.0,
            var t when t == typeof(bool) => false,
            var t when t.IsArray => Array.CreateInstance(t.GetElementType()!, 0),
            _ => null,
        }).ToArray();
        return constructor.Invoke(values);
    }

    [Theory]
    [MemberData(nameof(EventTypeNames))]
    public void every_stored_event_type_is_folded_and_has_an_audit_event(string name)
    {
        var type = HubStore.EventTypes[name];
        Assert.True(Handles(typeof(TopicSessionProjection), type), $"TopicSessionProjection does not fold {name}");
        var record = AuditEvents.Record(new RecordedEvent("topic", 1, Guid.NewGuid(), name, DateTimeOffset.UnixEpoch, "{}", Sample(type)), "app");
        Assert.Equal(name, record.EventType);
        Assert.Contains("\"resourceType\":\"AuditEvent\"", record.Json);
    }
}
