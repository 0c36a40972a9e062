using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;

namespace EventSourcedHub.Audit;

/// <summary>An invalid or unsupported search request: answered 400 with this issue code.</summary>
public sealed class SearchRejected(OperationOutcome.IssueType code, string message) : Exception(message)
{
    public OperationOutcome.IssueType Code { get; } = code;
}

/// <summary>A SQL `where` fragment (placeholders `^`) and its parameters, built from the FHIR search parameters.</summary>
public sealed class SqlFilter
{
    private readonly List<string> _clauses = [];
    public List<object> Parameters { get; } = [];

    public void Add(string clause, params object[] parameters)
    {
        _clauses.Add(clause);
        Parameters.AddRange(parameters);
    }

    public string Where => _clauses.Count == 0 ? "true" : string.Join(" and ", _clauses);
}

/// <summary>The parts of FHIR search the audit surface supports: parameter checks, dates, `_count`, `_sort` and keyset cursors.</summary>
public static partial class FhirSearch
{
    public const int DefaultCount = 50;
    public const int MaxCount = 1000;

    /// <summary>Every parameter of the request, each with all its values; unknown names are 400 unless `Prefer: handling=lenient`.</summary>
    public static Dictionary<string, List<string>> Parameters(HttpRequest request, IReadOnlySet<string> known)
    {
        var lenient = request.Headers["Prefer"].Any(p => p is not null && p.Split([',', ';']).Any(part => part.Trim().Equals("handling=lenient", StringComparison.OrdinalIgnoreCase)));
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, values) in request.Query)
        {
            if (!known.Contains(name))
            {
                if (lenient) continue;
                throw new SearchRejected(OperationOutcome.IssueType.NotSupported,
                    $"Unknown or unsupported search parameter '{name}'. Supported: {string.Join(", ", known.Order(StringComparer.Ordinal))}. Send 'Prefer: handling=lenient' to have unknown parameters ignored.");
            }
            result[name] = values.Where(v => v is not null).Select(v => v!).ToList();
        }
        return result;
    }

    public static int Count(Dictionary<string, List<string>> parameters)
    {
        if (!parameters.TryGetValue("_count", out var values)) return DefaultCount;
        if (values.Count != 1 || !int.TryParse(values[0], NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
            throw new SearchRejected(OperationOutcome.IssueType.Invalid, $"_count must be one positive integer; got '{string.Join(",", values)}'.");
        return Math.Min(count, MaxCount);
    }

    /// <summary>True for ascending. Only the resource's date parameter can be sorted on.</summary>
    public static bool Ascending(Dictionary<string, List<string>> parameters, string dateParameter)
    {
        if (!parameters.TryGetValue("_sort", out var values)) return false;
        if (values.Count == 1 && values[0] == dateParameter) return true;
        if (values.Count == 1 && values[0] == "-" + dateParameter) return false;
        throw new SearchRejected(OperationOutcome.IssueType.NotSupported, $"_sort supports only '{dateParameter}' and '-{dateParameter}'; got '{string.Join(",", values)}'.");
    }

    /// <summary>Comma-separated values of every occurrence: each occurrence is ANDed, the values inside it ORed.</summary>
    public static IEnumerable<string[]> Alternatives(Dictionary<string, List<string>> parameters, string name) =>
        parameters.TryGetValue(name, out var values)
            ? values.Select(v => v.Split(',', StringSplitOptions.TrimEntries))
                .Select(parts => parts.Any(string.IsNullOrEmpty) ? throw new SearchRejected(OperationOutcome.IssueType.Invalid, $"Empty value in '{name}'.") : parts)
            : [];

    /// <summary>Adds `column` conditions for each `date`-typed value (prefixes eq, gt, lt, ge, le, sa, eb; precision decides the range).</summary>
    public static void AddDates(SqlFilter filter, Dictionary<string, List<string>> parameters, string name, string column)
    {
        if (!parameters.TryGetValue(name, out var values)) return;
        foreach (var value in values)
        {
            var prefix = value.Length > 2 && char.IsLetter(value[0]) && char.IsLetter(value[1]) ? value[..2] : "eq";
            var (start, end) = DateRange(prefix == "eq" && !char.IsLetter(value.FirstOrDefault()) ? value : value[2..], name);
            switch (prefix)
            {
                case "eq": filter.Add($"{column} >= ^ and {column} < ^", start, end); break;
                case "ge": filter.Add($"{column} >= ^", start); break;
                case "gt" or "sa": filter.Add($"{column} >= ^", end); break;
                case "le": filter.Add($"{column} < ^", end); break;
                case "lt" or "eb": filter.Add($"{column} < ^", start); break;
                default: throw new SearchRejected(OperationOutcome.IssueType.Invalid, $"Unsupported prefix '{prefix}' in {name}={value}; use eq, gt, lt, ge, le, sa or eb.");
            }
        }
    }

    [GeneratedRegex(@"^(?<y>\d{4})(-(?<m>\d{2})(-(?<d>\d{2})(T(?<h>\d{2}):(?<mi>\d{2})(:(?<s>\d{2})(\.(?<f>\d{1,9}))?)?(?<z>Z|[+-]\d{2}:\d{2})?)?)?)?$")]
    private static partial Regex DatePattern();

    /// <summary>The instant range [start, end) a FHIR date, dateTime or instant value stands for (UTC when no offset is given).</summary>
    public static (DateTimeOffset Start, DateTimeOffset End) DateRange(string value, string name)
    {
        var match = DatePattern().Match(value);
        SearchRejected Bad() => new(OperationOutcome.IssueType.Invalid, $"'{value}' is not a valid FHIR date for '{name}' (e.g. 2025-03-01, 2025-03-01T14:58:45Z, ge2025-03-01).");
        if (!match.Success) throw Bad();
        int Part(string group, int fallback) => match.Groups[group].Success ? int.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) : fallback;
        try
        {
            var offset = match.Groups["z"].Success && match.Groups["z"].Value != "Z"
                ? TimeSpan.ParseExact(match.Groups["z"].Value[1..], "hh\\:mm", CultureInfo.InvariantCulture) * (match.Groups["z"].Value[0] == '-' ? -1 : 1)
                : TimeSpan.Zero;
            var start = new DateTimeOffset(Part("y", 1), Part("m", 1), Part("d", 1), Part("h", 0), Part("mi", 0), Part("s", 0), offset);
            if (match.Groups["f"].Success)
            {
                var digits = match.Groups["f"].Value;
                var micros = long.Parse(digits.PadRight(6, '0')[..6], CultureInfo.InvariantCulture);
                start = start.AddTicks(micros * 10);
                return (start, start.AddTicks(digits.Length >= 6 ? 10 : (long)Math.Pow(10, 6 - digits.Length) * 10));
            }
            var end = match.Groups["s"].Success ? start.AddSeconds(1)
                : match.Groups["mi"].Success ? start.AddMinutes(1)
                : match.Groups["d"].Success ? start.AddDays(1)
                : match.Groups["m"].Success ? start.AddMonths(1)
                : start.AddYears(1);
            return (start, end);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw Bad();
        }
        catch (FormatException)
        {
            throw Bad();
        }
    }

    /// <summary>The opaque `_cursor` of a keyset page: the (recorded, id) of the last entry shown.</summary>
    public static string Cursor(DateTimeOffset recorded, string id)
    {
        var micros = (recorded.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        return Convert.ToBase64String(Encoding.UTF8.GetBytes($"{micros.ToString(CultureInfo.InvariantCulture)}|{id}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }

    public static (DateTimeOffset Recorded, string Id)? ReadCursor(Dictionary<string, List<string>> parameters)
    {
        if (!parameters.TryGetValue("_cursor", out var values)) return null;
        try
        {
            if (values.Count != 1) throw new FormatException();
            var text = values[0].Replace('-', '+').Replace('_', '/');
            text = text.PadRight(text.Length + (4 - text.Length % 4) % 4, '=');
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(text)).Split('|', 2);
            var micros = long.Parse(parts[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            return (DateTimeOffset.UnixEpoch.AddTicks(micros * 10), parts[1]);
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException or OverflowException)
        {
            throw new SearchRejected(OperationOutcome.IssueType.Invalid, "_cursor is not a cursor this server issued; follow the 'next' link of a previous page.");
        }
    }

    /// <summary>`Type/id` for a reference search value; a bare id gets <paramref name="defaultType"/> when given.</summary>
    public static string Reference(string value, string? defaultType) =>
        value.Contains('/') ? NotificationReferences.Normalise(value) : defaultType is null ? value : $"{defaultType}/{value}";

    /// <summary>The code of a token value (`system|code` or `code`).</summary>
    public static string Code(string value) => value.Contains('|') ? value[(value.IndexOf('|') + 1)..] : value;
}
