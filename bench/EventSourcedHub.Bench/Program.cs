using EventSourcedHub.Bench;

// dotnet run -c Release --project bench/EventSourcedHub.Bench -- <scenario> [options]; see docs/benchmarks.md.
return args.FirstOrDefault() switch
{
    "context-as-of" => await ContextAsOfBenchmark.RunAsync(args[1..]),
    "publish-receipts" => await PublishThroughputBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: EventSourcedHub.Bench context-as-of [--events N] [--samples N]");
    Console.Error.WriteLine("       EventSourcedHub.Bench publish-receipts [--subscribers N] [--events N] [--rounds N]");
    return 2;
}
