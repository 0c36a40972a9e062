using System.Reflection;
using EventSourcedHub.Audit;
using EventSourcedHub.Storage;

namespace EventSourcedHub.Tests.Storage;

/// <summary>A new stream event must reach every projection that keeps one record per event; forgetting one breaks them silently.</summary>
public sealed class EventCoverageTests
{
    public static TheoryData<string> EventTypeNames() => new(HubStore.EventTypes.Keys);

    private static bool Handles(Type projection, Type eventType) =>
        projection.GetMethods(BindingFlags.Public | BindingFlags.Instance)
            .Where(m => m.Name is "Create" or "Apply" or "Project")
            .SelectMany(m => m.GetParameters())
            .Any(p => p.ParameterType == eventType
                      || (p.ParameterType.IsGenericType && p.ParameterType.GetGenericArguments().Contains(eventType)));

    [Theory]
    [MemberData(nameof(EventTypeNames))]
    public void every_stored_event_type_is_folded_audited_and_chained(string name)
    {
        var type = HubStore.EventTypes[name];
        Assert.True(Handles(typeof(TopicSessionProjection), type), $"TopicSessionProjection does not fold {name}");
        Assert.True(Handles(typeof(AuditRecordProjection), type), $"AuditRecordProjection does not audit {name}");
        Assert.True(Handles(typeof(ChainLinkProjection), type), $"ChainLinkProjection does not chain {name}");
    }
}
