namespace FhircastSamples;

/// <summary>The command line every sample takes: `--hub`, `--topic`, and optionally `--token`, `--name`, `--timeout` (seconds).</summary>
public sealed record SampleOptions(Uri Hub, string Topic, string? Token, string Name, TimeSpan Timeout)
{
    public static SampleOptions Parse(string[] args, string defaultName)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"Expected `--option value` pairs, got '{args[i]}'.");
            values[args[i][2..]] = args[++i];
        }
        if (!values.TryGetValue("hub", out var hub) || !Uri.TryCreate(hub, UriKind.Absolute, out var hubUri))
            throw new ArgumentException("--hub is required: the hub URL, e.g. http://127.0.0.1:5080/api/hub");
        if (!values.TryGetValue("topic", out var topic) || topic.Length == 0) throw new ArgumentException("--topic is required.");
        var seconds = values.TryGetValue("timeout", out var t) ? int.Parse(t, System.Globalization.CultureInfo.InvariantCulture) : 60;
        return new SampleOptions(hubUri, topic, values.GetValueOrDefault("token"), values.GetValueOrDefault("name") ?? defaultName, TimeSpan.FromSeconds(seconds));
    }
}
