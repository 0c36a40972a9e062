namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>Tests that need a hub with their own settings (short time-outs, tight limits): a fresh hub for each test.</summary>
public abstract class OwnHubTests(IDictionary<string, string?> settings) : IAsyncLifetime
{
    protected TestHub Server { get; private set; } = null!;
    protected HubClient Hub => Server.Client;

    public async Task InitializeAsync() => Server = await TestHub.StartAsync(settings);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
