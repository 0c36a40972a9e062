namespace EventSourcedHub.Domain.Tests;

public class ResourceReferenceTests
{
    [Theory]
    [InlineData("Patient/p1", "Patient", "p1")]
    [InlineData("DiagnosticReport/rpt-40012366", "DiagnosticReport", "rpt-40012366")]
    [InlineData("https://fhir.example.com/r5/ImagingStudy/stu-1", "ImagingStudy", "stu-1")]
    [InlineData("Patient/p1/", "Patient", "p1")]
    [InlineData("Patient/p1?_format=json", "Patient", "p1")]
    [InlineData("Patient/p1#contained", "Patient", "p1")]
    [InlineData("Patient/p1/_history/2", "Patient", "p1")]
    [InlineData("https://fhir.example.com/Observation/o1/_history/7?x=1", "Observation", "o1")]
    [InlineData("a/b/Encounter/e.1", "Encounter", "e.1")]
    public void HUB_CS_07_a_relative_or_absolute_Type_slash_id_reference_yields_type_and_id(string reference, string type, string id)
    {
        Assert.True(ResourceReference.TryParse(reference, out var parsedType, out var parsedId));
        Assert.Equal((type, id), (parsedType, parsedId));
    }

    [Theory]
    [InlineData("")]
    [InlineData("p1")]
    [InlineData("Patient")]
    [InlineData("Patient/")]
    [InlineData("/p1")]
    [InlineData("patient/p1")]
    [InlineData("urn:uuid:8a1f9d3c-0000-4000-8000-000000000000")]
    [InlineData("#contained")]
    [InlineData("?Patient/p1")]
    [InlineData("_history/2")]
    [InlineData("Patient/_history/2")]
    [InlineData("https://fhir.example.com/Patient/p1/_history")]
    public void HUB_CS_07_text_that_does_not_end_in_Type_slash_id_is_not_a_reference(string reference)
    {
        Assert.False(ResourceReference.TryParse(reference, out _, out _));
    }
}
