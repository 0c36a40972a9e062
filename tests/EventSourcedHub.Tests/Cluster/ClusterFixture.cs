using System.Net;
using System.Text.Json.Nodes;
using EventSourcedHub.Tests.Infrastructure;
using Npgsql;

namespace EventSourcedHub.Tests.Cluster;

/// <summary>
/// Several hub processes (real processes, as an operator runs them) on one PostgreSQL database, behind nginx (issue 14).
/// </summary>
public sealed class HubClusterHarness : IAsyncDisposable
{
    public static readonly IReadOnlyDictionary<string, string> Settings = new Dictionary<string, string>
    {
        ["Hub:ExpiryCheckMilliseconds"] = "200",
        ["Hub:AckTimeoutSeconds"] = "60",
        ["Hub:PingIntervalSeconds"] = "1",
        ["Hub:Limits:RequestsPerSecondPerClient"] = "100000",
    };

    private HubClusterHarness(string connectionString, List<HubProcess> hubs, NginxProxy proxy)
    {
        ConnectionString = connectionString;
        Hubs = hubs;
        Proxy = proxy;
    }

    public string ConnectionString { get; }
    public List<HubProcess> Hubs { get; }
    public NginxProxy Proxy { get; private set; }

    /// <summary>Through the proxy, as apps reach the cluster.</summary>
    public HubClient Client => Proxy.Client;

    public static async Task<HubClusterHarness> StartAsync(int hubs = 2, string? connectionString = null)
    {
        var database = connectionString ?? await TestPostgres.CreateDatabaseAsync("cluster");
        // One after the other: the first creates the schema.
        var processes = new List<HubProcess>();
        for (var i = 0; i < hubs; i++) processes.Add(await HubProcess.StartOnAsync(database, new Dictionary<string, string>(Settings)));
        var proxy = await NginxProxy.StartAsync(processes.Select(p => p.Port));
        return new HubClusterHarness(database, processes, proxy);
    }

    /// <summary>Starts hub <paramref name="index"/> again on its port (after a kill), so the proxy reaches it again.</summary>
    public async Task RestartAsync(int index)
    {
        var port = Hubs[index].Port;
        await Hubs[index].DisposeAsync();
        Hubs[index] = await HubProcess.StartOnAsync(ConnectionString, new Dictionary<string, string>(Settings), port);
    }

    /// <summary>An endpoint URL the proxy issued, pointed at one hub process instead.</summary>
    public static string On(HubProcess hub, string endpoint) => endpoint.Replace(new Uri(endpoint).Authority, hub.BaseAddress.Authority);

    public async Task<TestSubscriber> ConnectOnAsync(HubProcess hub, string topic, string events, string name = "test app")
    {
        var subscriber = await TestSubscriber.ConnectAsync(On(hub, await Client.SubscribeAsync(topic, events, name)));
        var confirmation = await subscriber.ReceiveAsync();
        Assert.True("subscribe" == (string?)confirmation["hub.mode"], confirmation.ToJsonString());
        return subscriber;
    }

    /// <summary>The ids of the topic's <paramref name="eventName"/> notifications in stream order, as events-since gives them.</summary>
    public async Task<List<string>> StreamIdsAsync(string topic, string eventName)
    {
        using var response = await Client.Http.GetAsync($"/api/sessions/{Uri.EscapeDataString(topic)}/events?afterVersion=0&events={eventName}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var events = body is JsonArray array ? array : body["events"]!.AsArray();
        return events.Select(e => (string)(e!["notification"]?["id"] ?? e["id"])!).ToList();
    }

    /// <summary>How many processes hold the leader lock (pg_locks is visible to every session).</summary>
    public async Task<long> LeadersAsync()
    {
        var key = EventSourcedHub.Storage.HubCluster.LockKey("leader");
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "select count(*) from pg_locks where locktype = 'advisory' and granted and objsubid = 1 and classid::bigint = @high and objid::bigint = @low "
            + "and database = (select oid from pg_database where datname = current_database())", connection);
        command.Parameters.AddWithValue("high", (key >> 32) & 0xFFFFFFFFL);
        command.Parameters.AddWithValue("low", key & 0xFFFFFFFFL);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync();
        foreach (var hub in Hubs) await hub.DisposeAsync();
    }
}

/// <summary>Two hub processes behind nginx, shared by the tests of a class (fresh topics per test).</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public HubClusterHarness Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await HubClusterHarness.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}
