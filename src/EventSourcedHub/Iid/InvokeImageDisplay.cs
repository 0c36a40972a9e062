using System.Net;
using System.Text;
using EventSourcedHub.Domain;
using EventSourcedHub.Http;
using EventSourcedHub.Security;
using EventSourcedHub.Storage;
using Microsoft.Extensions.Options;

namespace EventSourcedHub.Iid;

/// <summary>
/// `GET /IHEInvokeImageDisplay` (IHE IID RAD-106, rulings.md 37): an EHR's image display URL becomes the FHIRcast opens
/// every viewer subscribed to the topic follows, through the same write path as an event request. Answers a small HTML
/// page for the EHR's iframe; a bad request is 400 with a plain-text message. The token was checked by the access
/// filter; 401 and 403 are OperationOutcomes, as on every event request (rulings.md 10).
/// </summary>
public sealed class InvokeImageDisplay(TopicStream topics, Access access, IOptions<HubOptions> options, TimeProvider clock)
{
    public const string Path = "/IHEInvokeImageDisplay";

    public async Task<IResult> HandleAsync(HttpContext http)
    {
        var query = http.Request.Query.ToDictionary(p => p.Key, p => p.Value.Select(v => v ?? "").ToArray(), StringComparer.OrdinalIgnoreCase);
        var parsed = ImageDisplayRequest.Parse(query);
        if (parsed.IsRejected) return Rejected(http, parsed.Rejection!);
        var request = parsed.Value!;
        var topic = request.TopicFor(access.Caller(http).BoundTopic, options.Value.Iid.DefaultTopic);
        if (topic.IsRejected) return Rejected(http, topic.Rejection!);

        var eventName = request.RequestType == ImageDisplayRequestType.Study ? "ImagingStudy-open" : "Patient-open";
        RequestAudit.Details(http).Topic = topic.Value;
        RequestAudit.Details(http).EventName = eventName;
        if (access.Publish(http, topic.Value!, eventName) is { } denied) return denied;

        var timestamp = clock.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var policy = options.Value.ContentPolicy();
        IReadOnlyList<ImageDisplayOpen> opens = [];
        var appended = await topics.AppendAsync(topic.Value!, (state, _, _) =>
        {
            var decision = ImageDisplay.Publish(state, request, topic.Value!, timestamp, () => Guid.NewGuid().ToString(), policy);
            if (decision.IsRejected) return Task.FromResult<Decision<object[]>>(decision.Rejection!);
            opens = decision.Value!.Opens;
            return Task.FromResult<Decision<object[]>>(decision.Value.Events);
        }, http.RequestAborted, Actor.Of(http).Headers());
        if (appended.IsRejected) return Rejected(http, appended.Rejection!);
        return Results.Content(Page(topic.Value!, request, opens), "text/html; charset=utf-8", Encoding.UTF8);
    }

    /// <summary>Every refusal is 400 in plain text (rulings.md 37); RequestAudit records it with this message (rulings.md 11).</summary>
    private static IResult Rejected(HttpContext http, Rejection rejection)
    {
        RequestAudit.Details(http).Reason = rejection.Message;
        return Results.Text(rejection.Message, "text/plain", Encoding.UTF8, StatusCodes.Status400BadRequest);
    }

    /// <summary>What was opened, for a person looking at the EHR's iframe. Every value from the request is HTML-escaped.</summary>
    private static string Page(string topic, ImageDisplayRequest request, IReadOnlyList<ImageDisplayOpen> opens)
    {
        static string E(string? text) => WebUtility.HtmlEncode(text ?? "");
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Image display requested</title>")
            .Append("<style>body{font-family:sans-serif;margin:1em}dt{font-weight:bold}</style></head><body>")
            .Append("<h1>Image display requested</h1><p>The viewers subscribed to session <code>").Append(E(topic)).Append("</code> were asked to open:</p><ol>");
        foreach (var open in opens)
        {
            html.Append("<li>");
            if (open.StudyUid is not null)
            {
                html.Append("Study <code>").Append(E(open.StudyUid)).Append("</code>");
                if (open.AccessionNumber is not null) html.Append(", accession <code>").Append(E(open.AccessionNumber)).Append("</code>");
                if (open.PatientIdentifier is not null) html.Append(", patient <code>").Append(E(open.PatientIdentifier)).Append("</code>");
            }
            else
            {
                html.Append("Patient <code>").Append(E(open.PatientIdentifier)).Append("</code>");
            }
            html.Append(" (<code>").Append(E(open.EventName)).Append("</code> ").Append(E(open.EventId)).Append(")</li>");
        }
        html.Append("</ol>");
        if (opens.Count > 1) html.Append("<p>The last study is the current one; the others stay open in the session.</p>");
        if (request.ViewerType is not null || request.DiagnosticQuality is not null || request.KeyImagesOnly is not null)
        {
            html.Append("<p>Display hints, not passed on (FHIRcast has no place for them):</p><dl>");
            if (request.ViewerType is not null) html.Append("<dt>viewerType</dt><dd>").Append(E(request.ViewerType)).Append("</dd>");
            if (request.DiagnosticQuality is { } quality) html.Append("<dt>diagnosticQuality</dt><dd>").Append(quality ? "true" : "false").Append("</dd>");
            if (request.KeyImagesOnly is { } keyImages) html.Append("<dt>keyImagesOnly</dt><dd>").Append(keyImages ? "true" : "false").Append("</dd>");
            html.Append("</dl>");
        }
        return html.Append("</body></html>").ToString();
    }
}
