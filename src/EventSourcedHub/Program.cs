using EventSourcedHub;
using EventSourcedHub.Storage;

// `schema [file]` exports the database DDL (default: db/fhircast.sql of this repository); anything else runs the hub.
if (args is ["schema", ..])
{
    var path = args.Length > 1 ? args[1] : HubStore.DefaultSchemaPath();
    await HubStore.WriteSchemaAsync(path);
    Console.WriteLine($"Wrote {Path.GetFullPath(path)}");
    return;
}

await using var app = await HubHost.BuildAsync(args);
await app.RunAsync();

public partial class Program;
