using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace EventSourcedHub.OpenApi;

/// <summary>
/// The OpenAPI document at `/openapi/v1.json` and its interactive reference at `/docs/api` (rulings.md 37). Both are
/// open without a token in every mode, like discovery: they describe the API and hold no session data.
/// </summary>
public static class HubOpenApi
{
    public const string DocumentName = "v1";
    public const string DocumentPattern = "/openapi/{documentName}.json";
    public const string ReferencePrefix = "/docs/api";

    public static IServiceCollection AddHubOpenApi(this IServiceCollection services, HubOptions hub) =>
        services.AddOpenApi(DocumentName, options => options.AddDocumentTransformer(new HubDocumentTransformer(hub.Auth.IsJwt)));

    public static void MapHubOpenApi(this WebApplication app, HubOptions hub)
    {
        app.MapOpenApi(DocumentPattern);
        // The page loads its script from the hub (`/docs/api/scalar.js`, embedded in the package), and everything that
        // would call out (fonts, the AI agent, MCP) is off: the reference works on a hospital network without internet.
        app.MapScalarApiReference(ReferencePrefix, options =>
        {
            options.WithTitle("EventSourcedHub API")
                .WithOpenApiRoutePattern(DocumentPattern)
                .DisableDefaultFonts()
                .DisableAgent()
                .DisableMcp();
            if (hub.Auth.IsJwt) options.AddPreferredSecuritySchemes([HubDocumentTransformer.BearerScheme]);
        });
    }

    /// <summary>The routes that serve the documentation itself; the document does not describe them.</summary>
    public static bool IsDocumentation(string pattern) =>
        pattern == DocumentPattern || pattern.StartsWith(ReferencePrefix, StringComparison.Ordinal);
}

/// <summary>
/// Describes every mapped route from <see cref="Catalogue"/>, keyed by method and route pattern: what the generator
/// finds out from the delegates (route values, a body it cannot see through `HttpContext`) is replaced by the catalogue's
/// parameters, bodies, answers and examples. Routes the catalogue does not know keep what the generator made.
/// </summary>
internal sealed class HubDocumentTransformer(bool tokens) : IOpenApiDocumentTransformer
{
    public const string BearerScheme = "bearer";

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "EventSourcedHub",
            Version = "v1",
            Description = "An event-sourced FHIRcast 3.0 hub (docs/api.md). FHIRcast at `/api/hub`, session history, replay and analysis at "
                          + "`/api/sessions`, the audit store as FHIR R4 at `/fhir`. Errors are FHIR OperationOutcomes (`application/fhir+json`), "
                          + "except on the subscription form, which answers `text/plain`. "
                          + (tokens
                              ? "This hub runs with `Hub:Auth:Mode=Jwt`: send `Authorization: Bearer <token>` with SMART FHIRcast scopes (docs/security.md)."
                              : "This hub runs without tokens (`Hub:Auth:Mode=None`, loopback only)."),
        };
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[Catalogue.OperationOutcomeSchema] = Schemas.OperationOutcome;
        document.Components.Schemas[Catalogue.SubscriptionFormSchema] = Schemas.SubscriptionForm;
        document.Components.Schemas[Catalogue.NotificationSchema] = Schemas.Notification;
        if (tokens)
        {
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A token from the hub's identity provider with SMART FHIRcast scopes, e.g. `fhircast/Patient-open.write`.",
            };
        }
        document.Tags = new HashSet<OpenApiTag>
        {
            new() { Name = "FHIRcast", Description = "Subscribe, the WebSocket channel, publish, get current context, discovery." },
            new() { Name = "Sessions", Description = "This hub's extensions: events since, context as of, export, import, replay, summaries." },
            new() { Name = "Audit", Description = "A session's audit, timeline and hash-chain verification." },
            new() { Name = "FHIR", Description = "The audit store as FHIR R4: AuditEvent, Provenance, CapabilityStatement." },
        };

        document.Paths ??= new OpenApiPaths();
        foreach (var (pattern, method) in MappedRoutes(context.ApplicationServices))
        {
            if (!Catalogue.ByKey.TryGetValue(Catalogue.Key(method, pattern), out var described)) continue;
            if (!document.Paths.TryGetValue(pattern, out var found) || found is not OpenApiPathItem pathItem)
                document.Paths[pattern] = pathItem = new OpenApiPathItem();
            pathItem.Operations ??= new Dictionary<HttpMethod, OpenApiOperation>();
            pathItem.Operations[HttpMethod.Parse(method)] = Describe(described, document);
        }
        return Task.CompletedTask;
    }

    /// <summary>(route pattern, method) of every mapped endpoint except the documentation's own; a route without methods (the WebSocket) as GET.</summary>
    public static IEnumerable<(string Pattern, string Method)> MappedRoutes(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && !HubOpenApi.IsDocumentation(raw))
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (e.RoutePattern.RawText!, m)))
            .Distinct();

    private OpenApiOperation Describe(Operation described, OpenApiDocument document)
    {
        var operation = new OpenApiOperation
        {
            OperationId = OperationId(described),
            Summary = described.Summary,
            Description = described.Description,
            Tags = new HashSet<OpenApiTagReference> { new(described.Tag, document) },
            Parameters = [.. PathParameters(described.Pattern), .. described.Query.Select(Query)],
            Responses = new OpenApiResponses(),
        };
        if (described.Request.Length > 0)
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = described.Request.ToDictionary(b => b.MediaType, b => Media(b, document)),
            };
        foreach (var answer in described.Answers.Concat(Catalogue.Common(described, tokens)))
        {
            operation.Responses[answer.Status.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new OpenApiResponse
            {
                Description = answer.Description,
                Content = answer.Bodies.Length == 0 ? null : answer.Bodies.ToDictionary(b => b.MediaType, b => Media(b, document)),
            };
        }
        if (tokens && !described.Open)
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
        return operation;
    }

    private static string OperationId(Operation described) =>
        string.Concat(described.Summary.Split(' ', '-', '(', ')', ',').Where(w => w.Length > 0).Select(w => char.ToUpperInvariant(w[0]) + w[1..]));

    private static IEnumerable<IOpenApiParameter> PathParameters(string pattern) =>
        System.Text.RegularExpressions.Regex.Matches(pattern, "{([^}:?]+)").Select(m => m.Groups[1].Value).Select(name => new OpenApiParameter
        {
            Name = name,
            In = ParameterLocation.Path,
            Required = true,
            Description = Catalogue.PathParameter(name),
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            Example = JsonValue.Create(Catalogue.PathExample(name)),
        });

    private static IOpenApiParameter Query(QueryParameter parameter) => new OpenApiParameter
    {
        Name = parameter.Name,
        In = ParameterLocation.Query,
        Required = parameter.Required,
        Description = parameter.Description,
        Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        Example = JsonValue.Create(parameter.Example),
    };

    /// <summary>JSON examples as JSON, the others (form, NDJSON, text) as the text sent.</summary>
    private static OpenApiMediaType Media(Body body, OpenApiDocument document) => new()
    {
        Schema = body.Schema is { } name ? new OpenApiSchemaReference(name, document) : null,
        Example = body.MediaType is Catalogue.Json or Catalogue.FhirJson ? JsonNode.Parse(body.Example) : JsonValue.Create(body.Example),
    };
}

/// <summary>The shapes the document names: the FHIR error, the subscription form, an event request.</summary>
internal static class Schemas
{
    private static OpenApiSchema Text(string description) => new() { Type = JsonSchemaType.String, Description = description };

    public static OpenApiSchema OperationOutcome => new()
    {
        Type = JsonSchemaType.Object,
        Description = "A FHIR R4 OperationOutcome with one issue.",
        Required = new HashSet<string> { "resourceType", "issue" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["resourceType"] = Text("`OperationOutcome`."),
            ["issue"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Items = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["severity"] = Text("`error`."),
                        ["code"] = Text("The FHIR issue type: `invalid`, `not-found`, `conflict`, `login`, `forbidden`, `too-long`, `throttled`, `transient`, …"),
                        ["diagnostics"] = Text("What was wrong, for the developer."),
                    },
                },
            },
        },
    };

    public static OpenApiSchema SubscriptionForm => new()
    {
        Type = JsonSchemaType.Object,
        Description = "Every field at most once. Fields the hub does not read are ignored, `hub.callback` and `hub.secret` among them.",
        Required = new HashSet<string> { "hub.mode", "hub.channel.type", "hub.topic" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["hub.mode"] = Text("`subscribe` or `unsubscribe`."),
            ["hub.channel.type"] = Text("`websocket`."),
            ["hub.topic"] = Text("The session, used exactly as sent."),
            ["hub.events"] = Text("Subscribe: comma-separated event names."),
            ["subscriber.name"] = Text("The app's name, used in SyncErrors and the audit."),
            ["hub.lease_seconds"] = Text("Requested lease; `hub.lease` is read the same way."),
            ["hub.channel.endpoint"] = Text("Renew or unsubscribe: the endpoint (full URL or id); also as `endpoint`."),
            ["resume.after"] = Text("This hub's extension: the id of the last event the app received."),
        },
    };

    public static OpenApiSchema Notification => new()
    {
        Type = JsonSchemaType.Object,
        Description = "A FHIRcast event request; forwarded byte for byte with only the hub's version keys added.",
        Required = new HashSet<string> { "timestamp", "id", "event" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["timestamp"] = Text("An ISO 8601 instant with seconds and a zone."),
            ["id"] = Text("Unique per event; a retry with the same id gets the original answer."),
            ["event"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Required = new HashSet<string> { "hub.topic", "hub.event", "context" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["hub.topic"] = Text("The session."),
                    ["hub.event"] = Text("The event name, e.g. `Patient-open`, `DiagnosticReport-update`."),
                    ["context.versionId"] = Text("An update: the version the sender last saw."),
                    ["context"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.Object } },
                },
            },
        },
    };
}
