using System.Net.Http.Headers;
using EventSourcedHub.Tests.Security;

namespace EventSourcedHub.Tests.Infrastructure;

/// <summary>Tests against a hub of their own with `Hub:Auth:Mode=Jwt`, calling it with real RS256 tokens of <see cref="TokenIssuer"/>.</summary>
public abstract class JwtHubTests : IAsyncLifetime
{
    protected TokenIssuer Issuer { get; } = new();
    protected TestHub Server { get; private set; } = null!;
    protected HubClient Hub => Server.Client;

    public async Task InitializeAsync() => Server = await TestHub.StartAsync(Issuer.HubSettings());

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Issuer.Dispose();
    }

    /// <summary>Sends <paramref name="token"/> with every following request (null: none).</summary>
    protected void Use(string? token) =>
        Hub.Http.DefaultRequestHeaders.Authorization = token is null ? null : new AuthenticationHeaderValue("Bearer", token);
}
