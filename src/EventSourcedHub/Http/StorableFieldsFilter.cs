using EventSourcedHub.Domain;

namespace EventSourcedHub.Http;

/// <summary>
/// Route values and query parameters reach the store (keys, search parameters), so text PostgreSQL cannot store is
/// refused here with 400, before any handler reads it (rulings.md 30). Bodies are checked by their parsers.
/// </summary>
public sealed class StorableFieldsFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        foreach (var (name, value) in request.RouteValues)
        {
            if (value is string text && !StorableText.IsStorable(text))
                return ValueTask.FromResult<object?>(Answers.For(StorableText.Refused($"The path segment `{{{name}}}`")));
        }
        foreach (var (name, values) in request.Query)
        {
            if (!StorableText.IsStorable(name) || values.Any(v => !StorableText.IsStorable(v)))
                return ValueTask.FromResult<object?>(Answers.For(StorableText.Refused($"The query parameter `{StorableText.Escape(name)}`")));
        }
        return next(context);
    }
}
