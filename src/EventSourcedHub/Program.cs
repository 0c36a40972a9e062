using EventSourcedHub;

await using var app = await HubHost.BuildAsync(args);
await app.RunAsync();

public partial class Program;
