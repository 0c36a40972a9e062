namespace EventSourcedHub.Tests.Infrastructure;

public static class Repository
{
    /// <summary>The folder holding EventSourcedHub.sln, above the test output folder.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EventSourcedHub.sln"))) return dir.FullName;
        }
        throw new DirectoryNotFoundException("EventSourcedHub.sln not found above the test output folder.");
    }
}
