namespace EventSourcedHub.Domain.Tests;

public class EventNameTests
{
    [Theory]
    [InlineData("DiagnosticReport-open", "DiagnosticReport", "open")]
    [InlineData("patient-CLOSE", "patient", "CLOSE")]
    [InlineData("Foo-Bar-update", "Foo-Bar", "update")]
    [InlineData("Patient-", "Patient", null)]
    [InlineData("-open", null, null)]
    [InlineData("SyncError", null, null)]
    [InlineData("org.example.foo", null, null)]
    public void HUB_CTX_01_the_anchor_type_is_before_the_last_dash_and_the_action_after_it(string name, string? anchorType, string? action)
    {
        var eventName = new EventName(name);

        Assert.Equal((anchorType, action), (eventName.AnchorType, eventName.Action));
    }

    [Theory]
    [InlineData("Patient-open", true, false, false)]
    [InlineData("PATIENT-OPEN", true, false, false)]
    [InlineData("imagingstudy-Open", true, false, false)]
    [InlineData("Patient-close", false, true, false)]
    [InlineData("patient-CLOSE", false, true, false)]
    [InlineData("Home-open", false, false, true)]
    [InlineData("HOME-OPEN", false, false, true)]
    [InlineData("Home-close", false, true, false)]
    [InlineData("-open", false, false, false)]
    [InlineData("-close", false, false, false)]
    [InlineData("open", false, false, false)]
    [InlineData("Patient-opened", false, false, false)]
    [InlineData("DiagnosticReport-update", false, false, false)]
    [InlineData("DiagnosticReport-select", false, false, false)]
    public void HUB_GEN_03_open_close_and_home_open_are_recognised_case_insensitively(string name, bool isOpen, bool isClose, bool isHomeOpen)
    {
        var eventName = new EventName(name);

        Assert.Equal((isOpen, isClose, isHomeOpen), (eventName.IsOpen, eventName.IsClose, eventName.IsHomeOpen));
    }

    [Theory]
    [InlineData("DiagnosticReport-update", true, false)]
    [InlineData("diagnosticreport-UPDATE", true, false)]
    [InlineData("DiagnosticReport-select", false, true)]
    [InlineData("DIAGNOSTICREPORT-Select", false, true)]
    [InlineData("-update", false, false)]
    [InlineData("-select", false, false)]
    [InlineData("DiagnosticReport-updated", false, false)]
    [InlineData("DiagnosticReport-open", false, false)]
    public void HUB_GEN_03_update_and_select_are_recognised_case_insensitively(string name, bool isUpdate, bool isSelect)
    {
        var eventName = new EventName(name);

        Assert.Equal((isUpdate, isSelect), (eventName.IsUpdate, eventName.IsSelect));
    }

    [Fact]
    public void HUB_GEN_03_infrastructure_names_and_matching_ignore_case()
    {
        Assert.True(new EventName("syncerror").IsSyncError);
        Assert.True(new EventName("HEARTBEAT").IsHeartbeat);
        Assert.False(new EventName("SyncError2").IsSyncError);
        Assert.False(new EventName("Heartbeat").IsSyncError);
        Assert.True(new EventName("DiagnosticReport-Open").Matches("diagnosticreport-open"));
        Assert.False(new EventName("DiagnosticReport-open").Matches("DiagnosticReport-close"));
        Assert.Equal("patient-OPEN", new EventName("patient-OPEN").ToString());
    }

    [Theory]
    [InlineData("Patient", "patient")]
    [InlineData("Encounter", "encounter")]
    [InlineData("ImagingStudy", "study")]
    [InlineData("imagingstudy", "study")]
    [InlineData("DiagnosticReport", "report")]
    [InlineData("DIAGNOSTICREPORT", "report")]
    [InlineData("ImagingSelection", "imagingselection")]
    public void HUB_CTX_anchor_keys_are_the_legacy_names_or_the_lower_cased_type(string type, string key)
    {
        Assert.Equal(key, EventName.AnchorKeyFor(type));
    }

    [Theory]
    [InlineData("patient", "Patient")]
    [InlineData("ENCOUNTER", "Encounter")]
    [InlineData("imagingStudy", "ImagingStudy")]
    [InlineData("diagnosticreport", "DiagnosticReport")]
    [InlineData("ImagingSelection", "ImagingSelection")]
    public void HUB_CTX_01_catalog_types_have_one_canonical_spelling(string type, string canonical)
    {
        Assert.Equal(canonical, EventName.NormalizeType(type));
    }
}
