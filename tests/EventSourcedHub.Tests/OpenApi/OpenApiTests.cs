using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EventSourcedHub.Tests.Infrastructure;
using EventSourcedHub.Tests.Security;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EventSourcedHub.Tests.OpenApi;

/// <summary>`/openapi/v1.json` and `/docs/api` (rulings.md 37).</summary>
public sealed class OpenApiTests(HubFixture fixture) : IClassFixture<HubFixture>
{
    private readonly HubClient _hub = fixture.Client;

    private async Task<JsonObject> DocumentAsync(HubClient hub)
    {
        using var response = await hub.Http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
    }

    /// <summary>Every route the app maps (method, pattern), read from its endpoints; a route without methods (the WebSocket) counts as GET.</summary>
    public static List<(string Pattern, string Method)> MappedRoutes(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (Pattern: e.RoutePattern.RawText!, Methods: e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]))
            // The documentation's own routes are not part of the API it documents.
            .Where(r => r.Pattern != "/openapi/{documentName}.json" && !r.Pattern.StartsWith("/docs/api", StringComparison.Ordinal))
            .SelectMany(r => r.Methods.Select(m => (r.Pattern, m.ToLowerInvariant())))
            .Distinct().ToList();

    [Fact]
    public async Task Rulings_37_the_document_describes_every_mapped_route_with_summary_parameters_and_answers()
    {
        var document = await DocumentAsync(_hub);
        var routes = MappedRoutes(fixture.Hub.Services);
        Assert.True(routes.Count >= 20, $"only {routes.Count} routes found");
        Assert.Contains(("/api/hub/ws/{endpointId}", "get"), routes);

        var paths = document["paths"]!.AsObject();
        foreach (var (pattern, method) in routes)
        {
            var operation = paths[pattern]?[method];
            Assert.True(operation is not null, $"{method.ToUpperInvariant()} {pattern} is not in the document");
            Assert.False(string.IsNullOrWhiteSpace((string?)operation["summary"]), $"{method} {pattern} has no summary");
            Assert.False(string.IsNullOrWhiteSpace((string?)operation["description"]), $"{method} {pattern} has no description");
            var responses = operation["responses"]!.AsObject();
            Assert.Contains(responses, r => r.Key is ['2', _, _] or "101");
            Assert.Contains("429", responses.Select(r => r.Key));
            foreach (var name in Regex.Matches(pattern, "{([^}]+)}").Select(m => m.Groups[1].Value))
                Assert.Contains(operation["parameters"]!.AsArray(), p => (string?)p!["name"] == name && (string?)p["in"] == "path" && (bool?)p["required"] == true);
            // Every body, asked or answered, comes with an example.
            var bodies = (operation["requestBody"]?["content"]?.AsObject() ?? []).Concat(responses.SelectMany(r => r.Value!["content"]?.AsObject() ?? []));
            foreach (var (mediaType, body) in bodies)
                Assert.True(body!["example"] is not null, $"{method} {pattern}: {mediaType} has no example");
        }
        // Nothing described that is not mapped.
        var described = paths.SelectMany(p => p.Value!.AsObject().Where(o => o.Key is "get" or "post" or "delete" or "put" or "patch").Select(o => (p.Key, o.Key)));
        Assert.Empty(described.Except(routes));
    }

    [Fact]
    public async Task Rulings_37_the_fhircast_operations_show_their_bodies_and_error_formats()
    {
        var paths = (await DocumentAsync(_hub))["paths"]!;

        var hub = paths["/api/hub"]!["post"]!;
        var forms = hub["requestBody"]!["content"]!;
        Assert.StartsWith("hub.mode=subscribe&hub.channel.type=websocket", (string?)forms["application/x-www-form-urlencoded"]!["example"]);
        Assert.Equal("Patient-open", (string?)forms["application/json"]!["example"]!["event"]!["hub.event"]);
        Assert.Equal("#/components/schemas/SubscriptionForm", (string?)forms["application/x-www-form-urlencoded"]!["schema"]!["$ref"]);
        var badRequest = hub["responses"]!["400"]!["content"]!;
        Assert.NotNull(badRequest["text/plain"]);
        Assert.Equal("OperationOutcome", (string?)badRequest["application/fhir+json"]!["example"]!["resourceType"]);
        Assert.StartsWith("ws://", (string?)hub["responses"]!["202"]!["content"]!["application/json"]!["example"]!["hub.channel.endpoint"]);

        var events = paths["/api/sessions/{topic}/events"]!["get"]!;
        Assert.Equal(["after", "afterVersion", "events", "topic"], events["parameters"]!.AsArray().Select(p => (string)p!["name"]!).Order(StringComparer.Ordinal));
        Assert.Equal("Sessions", (string?)events["tags"]![0]);

        var outcome = (await DocumentAsync(_hub))["components"]!["schemas"]!["OperationOutcome"]!;
        Assert.Equal("object", (string?)outcome["type"]);
    }

    [Fact]
    public async Task Rulings_37_without_tokens_the_document_declares_no_security()
    {
        var document = await DocumentAsync(_hub);

        Assert.Null(document["components"]!["securitySchemes"]);
        Assert.Null(document["paths"]!["/api/hub/{topic}"]!["get"]!["security"]);
        Assert.Null(document["paths"]!["/api/hub/{topic}"]!["get"]!["responses"]!["401"]);
    }

    [Fact]
    public async Task Rulings_37_the_reference_page_loads_its_script_from_the_hub_and_names_no_other_host()
    {
        using var page = await _hub.Http.GetAsync("/docs/api/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();

        var sources = Regex.Matches(html, "<script[^>]*\\ssrc=\"([^\"]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(sources);
        var bytes = 0L;
        foreach (var source in sources)
        {
            Assert.DoesNotMatch("^(https?:)?//", source);
            using var script = await _hub.Http.GetAsync(new Uri(new Uri(_hub.Http.BaseAddress!, "/docs/api/"), source));
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.True(script.Content.Headers.ContentType?.MediaType?.Contains("javascript") == true, $"{source}: {script.Content.Headers.ContentType}");
            bytes += (await script.Content.ReadAsByteArrayAsync()).Length;
        }
        // The reference's whole bundle (megabytes), not a loader that fetches it from elsewhere.
        Assert.True(bytes > 1_000_000, $"the page's scripts are only {bytes} bytes: {string.Join(", ", sources)}");
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html);
        Assert.Contains("\"url\":\"openapi/v1.json\"", html);
    }
}

/// <summary>With `Hub:Auth:Mode=Jwt` the document and the page stay open (like discovery); the document declares the bearer scheme.</summary>
public sealed class OpenApiWithTokensTests : IAsyncLifetime
{
    private readonly TokenIssuer _issuer = new();
    private TestHub _server = null!;

    public async Task InitializeAsync() => _server = await TestHub.StartAsync(_issuer.HubSettings());

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _issuer.Dispose();
    }

    [Fact]
    public async Task Rulings_37_with_jwt_the_document_and_reference_need_no_token_and_declare_bearer_on_protected_operations()
    {
        using var page = await _server.Client.Http.GetAsync("/docs/api/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using var response = await _server.Client.Http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

        Assert.Equal("bearer", (string?)document["components"]!["securitySchemes"]!["bearer"]!["scheme"]);
        var context = document["paths"]!["/api/hub/{topic}"]!["get"]!;
        Assert.NotNull(context["security"]![0]!["bearer"]);
        Assert.Equal("login", (string?)context["responses"]!["401"]!["content"]!["application/fhir+json"]!["example"]!["issue"]![0]!["code"]);
        // Discovery, metadata and the WebSocket upgrade need no token.
        foreach (var open in new[] { "/api/hub/.well-known/fhircast-configuration", "/fhir/metadata", "/api/hub/ws/{endpointId}" })
        {
            Assert.Null(document["paths"]![open]!["get"]!["security"]);
            Assert.Null(document["paths"]![open]!["get"]!["responses"]!["401"]);
        }
    }
}
