using System.Collections.ObjectModel;
using System.Diagnostics;
using EventSourcedHub.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace EventSourcedHub.Tests.Observability;

public sealed class TraceTests
{
    [Fact]
    public async Task one_publish_is_one_trace_from_the_request_through_the_commit_to_the_delivery()
    {
        var spans = new FinishedSpans();
        await using var hub = await TestHub.StartAsync(configure: builder =>
            builder.Services.AddOpenTelemetry().WithTracing(tracing => tracing.AddInMemoryExporter(spans)));
        var topic = FhircastEvents.NewTopic();
        await using var subscriber = await hub.Client.SubscribeAndConnectAsync(topic, "Patient-open");

        await hub.Client.PublishAsync(FhircastEvents.PatientOpen(topic, "pat-1"), pathTopic: topic);
        await subscriber.ReceiveAndAckAsync();

        // Spans from other test hubs in this process are exported here too: the publish's request span picks ours.
        var request = await spans.WaitForAsync(s => s.Kind == ActivityKind.Server && (s.GetTagItem("url.path") as string) == $"/api/hub/{topic}");
        var append = await spans.WaitForAsync(s => s.OperationName == "hub.append" && s.ParentSpanId == request.SpanId);
        var commit = await spans.WaitForAsync(s => s.OperationName == "hub.commit" && s.ParentSpanId == append.SpanId);
        var distribute = await spans.WaitForAsync(s => s.OperationName == "hub.distribute" && s.ParentSpanId == append.SpanId);
        Assert.All(new[] { append, commit, distribute }, span => Assert.Equal(request.TraceId, span.TraceId));
        Assert.Equal(1, distribute.GetTagItem("hub.events"));

        // The group commit that took the append is a trace of its own, linked to it, with the SQL it ran.
        var batch = await spans.WaitForAsync(s => s.OperationName == "hub.group_commit" && s.Links.Any(l => l.Context.SpanId == append.SpanId));
        Assert.NotEqual(request.TraceId, batch.TraceId);
        await spans.WaitForAsync(s => s.Source.Name == "Npgsql" && s.ParentSpanId == batch.SpanId);
    }

    [Fact]
    public async Task an_otlp_endpoint_or_protocol_that_cannot_work_stops_the_start_naming_the_key()
    {
        var url = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHub.StartAsync(new Dictionary<string, string?> { ["Hub:Telemetry:OtlpEndpoint"] = "collector:4317" }));
        Assert.Contains("Hub:Telemetry:OtlpEndpoint", url.Message);
        var protocol = await Assert.ThrowsAsync<InvalidOperationException>(() => TestHub.StartAsync(new Dictionary<string, string?>
        {
            ["Hub:Telemetry:OtlpEndpoint"] = "http://127.0.0.1:4317",
            ["Hub:Telemetry:OtlpProtocol"] = "thrift",
        }));
        Assert.Contains("Hub:Telemetry:OtlpProtocol", protocol.Message);
    }

    /// <summary>Spans as the in-memory exporter hands them over, from the hub's threads; read under the same lock.</summary>
    private sealed class FinishedSpans : Collection<Activity>
    {
        protected override void InsertItem(int index, Activity item)
        {
            lock (this) base.InsertItem(index, item);
        }

        public async Task<Activity> WaitForAsync(Func<Activity, bool> match)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (true)
            {
                Activity[] finished;
                lock (this) finished = this.ToArray();
                if (finished.FirstOrDefault(match) is { } found) return found;
                if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"no such span among {finished.Length}: "
                    + string.Join(", ", finished.Select(s => $"{s.Source.Name}/{s.OperationName}").Distinct()));
                await Task.Delay(50);
            }
        }
    }
}
