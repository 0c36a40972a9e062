using System.Globalization;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>A scrape of `/metrics` in the Prometheus text format: one sample per line, `name{label="value",…} number`.</summary>
public sealed class PrometheusText
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public PrometheusText(string text)
    {
        Text = text;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var labelsStart = line.IndexOf('{');
            var valueStart = line.LastIndexOf(' ');
            var name = labelsStart >= 0 ? line[..labelsStart] : line[..valueStart];
            var labels = new Dictionary<string, string>();
            if (labelsStart >= 0)
            {
                var labelText = line[(labelsStart + 1)..line.LastIndexOf('}')];
                foreach (var pair in SplitLabels(labelText))
                {
                    var eq = pair.IndexOf('=');
                    labels[pair[..eq]] = pair[(eq + 2)..^1];
                }
            }
            var valueText = line[(valueStart + 1)..];
            var value = valueText switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                _ => double.Parse(valueText, CultureInfo.InvariantCulture),
            };
            _samples.Add((name, labels, value));
        }
    }

    public string Text { get; }

    public static async Task<PrometheusText> ScrapeAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/metrics");
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return new PrometheusText(await response.Content.ReadAsStringAsync());
    }

    public bool Has(string name) => _samples.Any(s => s.Name == name);

    /// <summary>The sum of the samples of <paramref name="name"/> whose labels include <paramref name="labels"/> (0 when none).</summary>
    public double Value(string name, params (string Label, string Value)[] labels) =>
        _samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var v) && v == l.Value)).Sum(s => s.Value);

    private static IEnumerable<string> SplitLabels(string text)
    {
        var start = 0;
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\') { i++; continue; }
            if (text[i] == '"') quoted = !quoted;
            else if (text[i] == ',' && !quoted)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        if (start < text.Length) yield return text[start..];
    }
}
