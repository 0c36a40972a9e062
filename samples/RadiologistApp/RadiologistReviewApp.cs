using System.Text.Json.Nodes;
using FhircastSamples;

namespace RadiologistApp;

/// <summary>
/// A sample app that plays the radiologist confirming AI evidence (docs/integrations.md): it waits for a preliminary
/// Observation shared in the report's content, selects it (`DiagnosticReport-select`), then finalises it (status
/// `final`) with a `DiagnosticReport-update`. It confirms one finding and stops, or gives up after `--timeout` seconds.
/// </summary>
public static class RadiologistReviewApp
{
    public const string DefaultName = "Radiologist app";

    public static Task<int> Main(string[] args) => RunAsync(args, Console.Out, CancellationToken.None);

    public static async Task<int> RunAsync(string[] args, TextWriter log, CancellationToken ct)
    {
        SampleOptions options;
        try
        {
            options = SampleOptions.Parse(args, DefaultName);
        }
        catch (ArgumentException e)
        {
            await log.WriteLineAsync(e.Message);
            return 2;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.Timeout);
        try
        {
            await using var hub = await FhircastConnection.SubscribeAsync(options, ["DiagnosticReport-update", "DiagnosticReport-select"], timeout.Token);
            await log.WriteLineAsync($"{options.Name}: subscribed to {options.Topic}; waiting for a preliminary finding");
            // A finding shared before this app subscribed is in the current context's content; later ones arrive as updates.
            var (report, finding, versionId) = await PreliminaryFindingAsync(hub, timeout.Token);
            var findingReference = $"Observation/{(string?)finding["id"]}";
            await log.WriteLineAsync($"{options.Name}: reviewing {findingReference} of {report}");

            await hub.PublishAsync("DiagnosticReport-select", [Context.ReferenceEntry("report", report), Context.ReferenceEntry("select", findingReference)],
                versionId, timeout.Token);
            // The hub sends the select back to its sender too; it carries the version to update from.
            var selected = await hub.NextAsync(timeout.Token, "DiagnosticReport-select");
            versionId = (string?)selected["event"]!["context.versionId"] ?? versionId;

            var confirmed = finding.DeepClone().AsObject();
            confirmed["status"] = "final";
            confirmed["meta"] = new JsonObject { ["versionId"] = NextVersion((string?)finding["meta"]?["versionId"]) };
            confirmed["note"] = new JsonArray(new JsonObject { ["text"] = "Confirmed by the radiologist." });
            await hub.PublishAsync("DiagnosticReport-update", Context.Update(report, confirmed), versionId, timeout.Token);
            await log.WriteLineAsync($"{options.Name}: {findingReference} is final");
            return 0;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            await log.WriteLineAsync($"{options.Name}: no preliminary finding within {options.Timeout.TotalSeconds} s; stopping");
            return 1;
        }
        catch (InvalidOperationException e)
        {
            await log.WriteLineAsync($"{options.Name}: {e.Message}");
            return 1;
        }
    }

    private static async Task<(string Report, JsonObject Finding, string? VersionId)> PreliminaryFindingAsync(FhircastConnection hub, CancellationToken ct)
    {
        var current = await hub.CurrentContextAsync(ct);
        if ((string?)current["context.type"] == "DiagnosticReport" && current["context"] is JsonArray context
            && Preliminary((Context.Resource(context, "content")?["entry"] as JsonArray ?? []).OfType<JsonObject>().Select(e => e["resource"]).OfType<JsonObject>()) is { } shared)
            return (Context.Reference(context, "report")!, shared, (string?)current["context.versionId"]);
        while (true)
        {
            var update = await hub.NextAsync(ct, "DiagnosticReport-update");
            var updateContext = update["event"]!["context"]!.AsArray();
            if (Preliminary(Context.UpdatedResources(updateContext)) is { } finding)
                return (Context.Reference(updateContext, "report")!, finding, (string?)update["event"]!["context.versionId"]);
        }
    }

    private static string NextVersion(string? version) => int.TryParse(version, out var n) ? (n + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : "2";

    private static JsonObject? Preliminary(IEnumerable<JsonObject> resources) =>
        resources.FirstOrDefault(r => (string?)r["resourceType"] == "Observation" && (string?)r["status"] == "preliminary");
}
