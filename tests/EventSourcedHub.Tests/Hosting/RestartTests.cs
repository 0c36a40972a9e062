using System.Net;
using EventSourcedHub.Tests.Infrastructure;
using static EventSourcedHub.Tests.Infrastructure.FhircastEvents;

namespace EventSourcedHub.Tests.Hosting;

public sealed class RestartTests
{
    [Fact]
    public async Task acknowledged_context_survives_a_graceful_restart_and_live_subscriptions_end_with_it()
    {
        var database = await TestPostgres.CreateDatabaseAsync("restart");
        var topic = NewTopic();
        var open = ReportOpen(topic, "r1");
        string endpoint;
        await using (var first = await TestHub.StartAsync(connectionString: database))
        {
            var subscriber = await first.Client.SubscribeAndConnectAsync(topic, "DiagnosticReport-open");
            endpoint = subscriber.Endpoint;
            await first.Client.PublishAsync(open);
            await subscriber.DisposeAsync();
        }

        await using var second = await TestHub.StartAsync(connectionString: database);
        var context = await second.Client.GetContextAsync(topic);
        Assert.Equal("DiagnosticReport", (string?)context["context.type"]);
        Assert.Equal(HubClient.Canonical(ContextOf(open)), HubClient.Canonical(new System.Text.Json.Nodes.JsonArray(
            context["context"]!.AsArray().Take(3).Select(e => e!.DeepClone()).ToArray())));

        var reconnectTo = endpoint.Replace(new Uri(endpoint).Authority, second.BaseAddress.Authority);
        await using var late = await TestSubscriber.ConnectAsync(reconnectTo);
        Assert.Equal("denied", (string?)Assert.Single(await late.ReceiveUntilClosedAsync())["hub.mode"]);

        // The same event id is still known after the restart (HUB-EVT-06).
        await using var fresh = await second.Client.SubscribeAndConnectAsync(topic, "DiagnosticReport-open,DiagnosticReport-close");
        Assert.Equal("DiagnosticReport-open", (string?)(await fresh.ReceiveAsync())["event"]!["hub.event"]);
        await second.Client.PublishAsync(open);
        await fresh.AssertNothingReceivedAsync(TimeSpan.FromMilliseconds(300));
    }

    [Fact]
    public async Task the_hub_process_on_its_embedded_postgres_recovers_after_kill_9_and_loses_nothing_acknowledged()
    {
        var dataDirectory = Directory.CreateTempSubdirectory("hub-restart-").FullName;
        try
        {
            var topic = NewTopic();
            var open = PatientOpen(topic, "p-kill9");
            await using (var first = await HubProcess.StartAsync(dataDirectory))
            {
                await first.Client.SubscribeAsync(topic, "Patient-open");
                await first.Client.PublishAsync(open);
                first.Kill();
            }

            await using (var second = await HubProcess.StartAsync(dataDirectory))
            {
                var context = await second.Client.GetContextAsync(topic);
                Assert.Equal("Patient", (string?)context["context.type"]);
                Assert.Equal(HubClient.Canonical(ContextOf(open)[0]), HubClient.Canonical(context["context"]![0]));
                await second.StopAsync();
            }

            // A graceful stop also stops the embedded PostgreSQL.
            var pidFile = Path.Combine(dataDirectory, "pgdata", "postmaster.pid");
            for (var i = 0; i < 50 && File.Exists(pidFile); i++) await Task.Delay(100);
            Assert.False(File.Exists(pidFile), "PostgreSQL still running after the hub stopped");
        }
        finally
        {
            await HubProcess.StopPostgresIfRunningAsync(dataDirectory);
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task an_unknown_topic_is_still_unknown_after_a_restart()
    {
        var database = await TestPostgres.CreateDatabaseAsync("restart");
        await using (await TestHub.StartAsync(connectionString: database)) { }
        await using var hub = await TestHub.StartAsync(connectionString: database);
        using var response = await hub.Client.GetContextRawAsync(NewTopic());
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
