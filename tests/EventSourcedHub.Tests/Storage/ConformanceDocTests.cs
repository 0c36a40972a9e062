using System.Text.RegularExpressions;

using EventSourcedHub.Tests.Infrastructure;

namespace EventSourcedHub.Tests.Storage;

/// <summary>docs/conformance.md names the tests behind each requirement; a renamed or deleted test must not leave it stale.</summary>
public sealed class ConformanceDocTests
{
    [Fact]
    public void every_test_named_in_the_conformance_table_exists()
    {
        var root = Repository.Root();
        var table = File.ReadAllText(Path.Combine(root, "docs", "conformance.md"));
        var sources = string.Join("\n", Directory.EnumerateFiles(Path.Combine(root, "tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
            .Select(File.ReadAllText));
        var named = Regex.Matches(table, @"`([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+)`").Select(m => m.Groups[1].Value).Distinct().ToList();

        Assert.True(named.Count > 100, $"expected the table to name the tests; found {named.Count}");
        var missing = named.Where(name => !sources.Contains($" {name}(")).ToList();
        Assert.True(missing.Count == 0, "docs/conformance.md names tests that do not exist: " + string.Join(", ", missing));
    }

    [Fact]
    public void every_row_has_a_known_status()
    {
        var rows = File.ReadAllLines(Path.Combine(Repository.Root(), "docs", "conformance.md")).Where(l => Regex.IsMatch(l, @"^\| (HUB|IRA)-")).ToList();
        Assert.True(rows.Count >= 135, $"expected every checklist ID; found {rows.Count} rows");
        Assert.All(rows, row => Assert.Matches(@"\| (done|done \(by design\)|partial|not yet|not applicable) \|", row));
    }
}
