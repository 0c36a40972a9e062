using EventSourcedHub.Bench;

// dotnet run -c Release --project bench/EventSourcedHub.Bench -- <scenario> [options]; see docs/benchmarks.md.
return args.FirstOrDefault() switch
{
    "context-as-of" => await ContextAsOfBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: EventSourcedHub.Bench context-as-of [--events N] [--samples N]");
    return 2;
}
