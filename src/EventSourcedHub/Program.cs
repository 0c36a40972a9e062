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

// `rebuild [hub options]` rebuilds every projection from the log on the configured (or embedded) database, then exits.
if (args is ["rebuild", ..])
{
    await using var maintenance = await HubHost.BuildAsync([.. args[1..], "--urls", "http://127.0.0.1:0"], maintenance: true);
    await maintenance.StartAsync();
    var snapshotInterval = maintenance.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<HubOptions>>().Value.SnapshotInterval;
    await ProjectionRebuild.RunAsync(maintenance.Services.GetRequiredService<Marten.IDocumentStore>(), maintenance.Services.GetServices<ISessionDocuments>(),
        snapshotInterval, Console.Out, CancellationToken.None);
    await maintenance.StopAsync();
    return;
}

await using var app = await HubHost.BuildAsync(args);
await app.RunAsync();

public partial class Program;
