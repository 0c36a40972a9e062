using System.Text.Json;

namespace EventSourcedHub.Domain.Tests;

public class ChannelMessagesTests
{
    [Fact]
    public void HUB_WS_02_the_confirmation_carries_mode_topic_events_as_one_string_and_the_lease_as_a_number()
    {
        Assert.Equal(
            """{"hub.mode":"subscribe","hub.topic":"topic-1","hub.events":"Patient-open,SyncError","hub.lease_seconds":7200}""",
            ChannelMessages.Confirmation("topic-1", ["Patient-open", "SyncError"], 7200));
    }

    [Fact]
    public void HUB_WS_07_the_denial_carries_mode_denied_topic_events_and_reason()
    {
        Assert.Equal(
            """{"hub.mode":"denied","hub.topic":"topic-1","hub.events":"Patient-open","hub.reason":"subscription lease expired"}""",
            ChannelMessages.Denial("topic-1", ["Patient-open"], "subscription lease expired"));
    }

    [Fact]
    public void HUB_WS_07_text_with_quotes_and_non_ascii_survives_as_json()
    {
        var denial = ChannelMessages.Denial("t\"1", ["Zoë-open"], "connection lost; subscribe again <now>");

        using var document = JsonDocument.Parse(denial);
        var root = document.RootElement;
        Assert.Equal("t\"1", root.GetProperty("hub.topic").GetString());
        Assert.Equal("Zoë-open", root.GetProperty("hub.events").GetString());
        Assert.Equal("connection lost; subscribe again <now>", root.GetProperty("hub.reason").GetString());
    }

    [Fact]
    public void HUB_WS_02_a_confirmation_with_no_events_has_an_empty_events_string()
    {
        using var document = JsonDocument.Parse(ChannelMessages.Confirmation("t", [], 1));

        Assert.Equal("", document.RootElement.GetProperty("hub.events").GetString());
        Assert.Equal(1, document.RootElement.GetProperty("hub.lease_seconds").GetInt32());
    }

    [Fact]
    public void HUB_HB_02_the_heartbeat_is_a_heartbeat_event_with_a_decimal_period_and_a_utc_millisecond_timestamp()
    {
        var at = new DateTimeOffset(2025, 3, 1, 16, 0, 0, 7, TimeSpan.FromHours(1));

        Assert.Equal(
            """{"timestamp":"2025-03-01T15:00:00.007Z","id":"hb-1","event":{"hub.topic":"topic-1","hub.event":"heartbeat","context":[{"key":"period","decimal":"10"}]}}""",
            ChannelMessages.Heartbeat("topic-1", "hb-1", at, 10));
    }
}
