using EventSourcedHub.Storage;

using EventSourcedHub.Tests.Infrastructure;

namespace EventSourcedHub.Tests.Storage;

public sealed class SchemaExportTests
{
    [Fact]
    public async Task the_committed_db_schema_matches_what_the_code_creates()
    {
        var committed = Path.Combine(Repository.Root(), "db", "fhircast.sql");
        var fresh = Path.Combine(Path.GetTempPath(), $"fhircast-{Guid.NewGuid():N}.sql");
        try
        {
            await HubStore.WriteSchemaAsync(fresh);
            Assert.True(File.ReadAllText(committed) == File.ReadAllText(fresh),
                "db/fhircast.sql is out of date: run `dotnet run --project src/EventSourcedHub -- schema`.");
        }
        finally
        {
            File.Delete(fresh);
        }
    }
}
