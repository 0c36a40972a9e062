using System.Text.Json.Nodes;
using FhircastSamples;

namespace AiEvidenceCreator;

/// <summary>
/// An example AI evidence creator (docs/integrations.md): it subscribes to a topic, waits for a `DiagnosticReport-open`,
/// "analyses" the report's study, and shares its finding with a `DiagnosticReport-update`: an ImagingSelection of the
/// region and a preliminary Observation derived from the study and the selection, with the model's confidence in a note.
/// It handles one report and stops, or gives up after `--timeout` seconds.
/// </summary>
public static class AiEvidenceCreatorApp
{
    public const string DefaultName = "AI evidence creator";

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
            await using var hub = await FhircastConnection.SubscribeAsync(options, ["DiagnosticReport-open"], timeout.Token);
            await log.WriteLineAsync($"{options.Name}: subscribed to {options.Topic}; waiting for a DiagnosticReport-open");
            var open = await hub.NextAsync(timeout.Token, "DiagnosticReport-open");
            var context = open["event"]!["context"]!.AsArray();
            var report = Context.Reference(context, "report")!;
            var study = Context.Reference(context, "study");
            var patient = Context.Reference(context, "patient");
            var versionId = (string?)open["event"]!["context.versionId"];
            await log.WriteLineAsync($"{options.Name}: {report} opened (study {study}, version {versionId}); analysing");

            var (selection, observation) = Finding(study, patient);
            await hub.PublishAsync("DiagnosticReport-update", Context.Update(report, selection, observation), versionId, timeout.Token);
            await log.WriteLineAsync($"{options.Name}: shared Observation/{(string?)observation["id"]} (preliminary) and ImagingSelection/{(string?)selection["id"]}");
            return 0;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            await log.WriteLineAsync($"{options.Name}: no DiagnosticReport-open within {options.Timeout.TotalSeconds} s; stopping");
            return 1;
        }
        catch (InvalidOperationException e)
        {
            await log.WriteLineAsync($"{options.Name}: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// What a model would return for the study, as FHIR R5 resources: the region (ImagingSelection) and the finding
    /// (Observation, LOINC 59776-5 "Procedure findings", valued with SNOMED CT 427359005 "Solitary nodule of lung").
    /// </summary>
    public static (JsonObject Selection, JsonObject Observation) Finding(string? study, string? patient)
    {
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var selection = new JsonObject
        {
            ["resourceType"] = "ImagingSelection",
            ["id"] = $"ai-selection-{suffix}",
            ["status"] = "available",
            ["code"] = new JsonObject { ["text"] = "Region of the AI finding" },
        };
        var observation = new JsonObject
        {
            ["resourceType"] = "Observation",
            ["id"] = $"ai-finding-{suffix}",
            // The version of the finding, so that each Provenance the hub records names the version it is about.
            ["meta"] = new JsonObject { ["versionId"] = "1" },
            ["status"] = "preliminary",
            ["category"] = new JsonArray(new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://terminology.hl7.org/CodeSystem/observation-category", ["code"] = "imaging" }),
            }),
            ["code"] = new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://loinc.org", ["code"] = "59776-5", ["display"] = "Procedure findings" }),
            },
            ["valueCodeableConcept"] = new JsonObject
            {
                ["coding"] = new JsonArray(new JsonObject { ["system"] = "http://snomed.info/sct", ["code"] = "427359005", ["display"] = "Solitary nodule of lung" }),
            },
            ["device"] = new JsonObject { ["display"] = DefaultName },
            ["note"] = new JsonArray(new JsonObject { ["text"] = "AI confidence 0.87 (example model); to be confirmed by a radiologist." }),
        };
        if (patient is not null)
        {
            selection["subject"] = new JsonObject { ["reference"] = patient };
            observation["subject"] = new JsonObject { ["reference"] = patient };
        }
        var derivedFrom = new JsonArray();
        if (study is not null)
        {
            selection["derivedFrom"] = new JsonArray(new JsonObject { ["reference"] = study });
            derivedFrom.Add(new JsonObject { ["reference"] = study });
        }
        derivedFrom.Add(new JsonObject { ["reference"] = $"ImagingSelection/{(string?)selection["id"]}" });
        observation["derivedFrom"] = derivedFrom;
        return (selection, observation);
    }
}
