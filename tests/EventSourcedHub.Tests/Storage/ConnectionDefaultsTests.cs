using EventSourcedHub.Storage;
using Npgsql;

namespace EventSourcedHub.Tests.Storage;

/// <summary>The hub's connection defaults (issue 7) apply unless the operator's connection string says otherwise.</summary>
public sealed class ConnectionDefaultsTests
{
    [Fact]
    public void statements_are_prepared_and_pooled_connections_are_not_reset_by_default()
    {
        var tuned = new NpgsqlConnectionStringBuilder(HubStore.Tuned("Host=127.0.0.1;Port=5432;Database=hub;Username=postgres"));
        Assert.Equal(64, tuned.MaxAutoPrepare);
        Assert.True(tuned.NoResetOnClose);
        Assert.Equal(5, tuned.Timeout);
        Assert.Equal("hub", tuned.Database);
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Database=hub;Max Auto Prepare=0;No Reset On Close=false;Timeout=30")]
    [InlineData("Host=127.0.0.1;Database=hub;MaxAutoPrepare=0;noresetonclose=false;timeout=30")]
    public void values_given_in_the_connection_string_win(string connectionString)
    {
        var tuned = new NpgsqlConnectionStringBuilder(HubStore.Tuned(connectionString));
        Assert.Equal(0, tuned.MaxAutoPrepare);
        Assert.False(tuned.NoResetOnClose);
        Assert.Equal(30, tuned.Timeout);
    }
}
