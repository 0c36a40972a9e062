using System.Text;
using System.Text.Json;

namespace EventSourcedHub.Domain;

/// <summary>
/// Text PostgreSQL can store (rulings.md 30): its `text` and `jsonb` refuse NUL and UTF-16 surrogates without their
/// pair. Requests carrying them are refused at the door; audit records of refused requests keep them escaped.
/// </summary>
public static class StorableText
{
    /// <summary>True when <paramref name="text"/> holds no NUL and no lone surrogate.</summary>
    public static bool IsStorable(string? text)
    {
        if (text is null) return true;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0') return false;
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
                else return false;
            }
            else if (char.IsLowSurrogate(c)) return false;
        }
        return true;
    }

    /// <summary>The text with NUL and lone surrogates written as `\u0000`-style escapes, so it can be stored and read.</summary>
    public static string Escape(string text)
    {
        if (IsStorable(text)) return text;
        var escaped = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                escaped.Append(c).Append(text[++i]);
            }
            else if (c == '\0' || char.IsSurrogate(c))
            {
                escaped.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                escaped.Append(c);
            }
        }
        return escaped.ToString();
    }

    /// <summary>
    /// The JSON path of the first member name or string value, anywhere in <paramref name="element"/>, that PostgreSQL
    /// could not store once decoded (`"\u0000"`, `"\ud800"`); null when there is none.
    /// </summary>
    public static string? FindUnstorable(JsonElement element, string path = "$")
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return Decodes(element) ? null : path;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        return $"{path} (a member name)";
                    }
                    if (!IsStorable(name)) return $"{path} (a member name)";
                    if (FindUnstorable(property.Value, $"{path}.{name}") is { } found) return found;
                }
                return null;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    if (FindUnstorable(item, $"{path}[{index++}]") is { } found) return found;
                }
                return null;
            default:
                return null;
        }
    }

    // System.Text.Json refuses to decode an escaped lone surrogate (InvalidOperationException).
    private static bool Decodes(JsonElement value)
    {
        try
        {
            return IsStorable(value.GetString());
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>The message of a rejection for unstorable text in <paramref name="field"/>.</summary>
    public static Rejection Refused(string field) =>
        Rejection.Invalid($"{field} contains a NUL character or a lone UTF-16 surrogate (e.g. \\u0000, \\ud800), which this hub cannot store.");
}
