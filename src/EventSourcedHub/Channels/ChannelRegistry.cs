using System.Collections.Concurrent;

namespace EventSourcedHub.Channels;

/// <summary>The WebSockets connected to this hub process, by endpoint id. At most one per endpoint (HUB-WS-08).</summary>
public sealed class ChannelRegistry
{
    private readonly ConcurrentDictionary<string, SubscriberChannel> _channels = new();

    public bool Contains(string endpointId) => _channels.ContainsKey(endpointId);

    public bool TryAdd(SubscriberChannel channel) => _channels.TryAdd(channel.EndpointId, channel);

    public SubscriberChannel? Find(string endpointId) => _channels.GetValueOrDefault(endpointId);

    public void Remove(SubscriberChannel channel) => _channels.TryRemove(new KeyValuePair<string, SubscriberChannel>(channel.EndpointId, channel));

    public IReadOnlyCollection<SubscriberChannel> All => _channels.Values.ToArray();

    public int Count => _channels.Count;
}
