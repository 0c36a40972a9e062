using EventSourcedHub.Bench;

// dotnet run -c Release --project bench/EventSourcedHub.Bench -- <scenario> [options]; see docs/benchmarks.md.
return args.FirstOrDefault() switch
{
    "context-as-of" => await ContextAsOfBenchmark.RunAsync(args[1..]),
    "load" => await LoadBenchmark.RunAsync(args[1..]),
    "current-context" => await CurrentContextBenchmark.RunAsync(args[1..]),
    "publish-receipts" => await PublishThroughputBenchmark.RunAsync(args[1..]),
    "idle-sockets" => await IdleSocketsBenchmark.RunAsync(args[1..]),
    "reporting" => await ReportingBenchmark.RunAsync(args[1..]),
    "suspended-anchors" => await SuspendedAnchorsBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: EventSourcedHub.Bench context-as-of [--events N] [--samples N]");
    Console.Error.WriteLine("       EventSourcedHub.Bench current-context [--topics 10000] [--requests 5000] [--clients 4]");
    Console.Error.WriteLine("       EventSourcedHub.Bench load [--topics 50] [--subscribers 2] [--publishers 8] [--seconds 20] [--rate 500 (0 = as fast as possible)] [--warmup 10] [--hub-env NAME=VALUE ...] [--label name]");
    Console.Error.WriteLine("       EventSourcedHub.Bench publish-receipts [--subscribers N] [--events N] [--rounds N]");
    Console.Error.WriteLine("       EventSourcedHub.Bench idle-sockets [--sockets 10000] [--topics 100] [--concurrency 16] [--settle 15] [--label name] [--hub-env NAME=VALUE ...]");
    Console.Error.WriteLine("       EventSourcedHub.Bench reporting [--sessions 8] [--seconds 60] [--warmup 10] [--hub-env NAME=VALUE ...] [--label name]");
    Console.Error.WriteLine("       EventSourcedHub.Bench suspended-anchors [--opens 1500] [--interval-ms 20] [--warmup-opens 100] [--hub-env NAME=VALUE ...] [--label name]");
    return 2;
}
