namespace EventSourcedHub.Iid;

/// <summary>`Hub:Iid:*`: the IHE Invoke Image Display bridge (docs/integrations.md).</summary>
public sealed class IidOptions
{
    /// <summary>The topic an IID request without `topic` and without a topic-bound token publishes to; unset, such a request is 400.</summary>
    public string? DefaultTopic { get; set; }
}
