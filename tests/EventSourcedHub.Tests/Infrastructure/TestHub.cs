using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>
/// A real hub on a loopback port (Kestrel, real HTTP and WebSockets) over its own fresh PostgreSQL database.
/// Settings use the same `Hub:` keys an operator would set.
/// </summary>
public sealed class TestHub : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestHub(WebApplication app, Uri baseAddress, string connectionString)
    {
        _app = app;
        BaseAddress = baseAddress;
        ConnectionString = connectionString;
        Client = new HubClient(baseAddress);
    }

    public Uri BaseAddress { get; }
    public string ConnectionString { get; }
    public HubClient Client { get; }
    public IServiceProvider Services => _app.Services;

    /// <param name="logTo">An extra log provider, for tests of what the hub logs (it gets every level the settings' `Logging` keys allow).</param>
    /// <param name="configure">Services a test adds to the host (e.g. an in-memory trace exporter).</param>
    public static async Task<TestHub> StartAsync(IDictionary<string, string?>? settings = null, string? connectionString = null, ILoggerProvider? logTo = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        connectionString ??= await TestPostgres.CreateDatabaseAsync("hub");
        var config = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Hub"] = connectionString,
            ["urls"] = "http://127.0.0.1:0",
            ["Hub:ExpiryCheckMilliseconds"] = "100",
            // Most tests read without acknowledging; tests of the ack time-out set their own.
            ["Hub:AckTimeoutSeconds"] = "60",
            // Every test client shares one address; tests of the rate limit set their own.
            ["Hub:Limits:RequestsPerSecondPerClient"] = "100000",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) config[key] = value;

        var app = await HubHost.BuildAsync([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(config);
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(new FailureLoggerProvider());
            if (logTo is not null) builder.Logging.AddProvider(logTo);
            configure?.Invoke(builder);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestHub(app, new Uri(address), connectionString);
    }

    /// <summary>Stops the hub like an operator would (graceful shutdown).</summary>
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>Hub-side errors are written to the test output stream so that a failing test shows why.</summary>
internal sealed class FailureLoggerProvider : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new FailureLogger(categoryName);
    public void Dispose() { }

    private sealed class FailureLogger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) Console.Error.WriteLine($"[hub {logLevel}] {category}: {formatter(state, exception)} {exception}");
        }
    }
}
