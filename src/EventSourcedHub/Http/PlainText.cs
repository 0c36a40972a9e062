namespace EventSourcedHub.Http;

/// <summary>The form-encoded subscription interface answers errors as plain text for developers (HUB-SUB-09, rulings.md 10).</summary>
public static class PlainText
{
    public static IResult Error(int status, string message) => Results.Text(message, "text/plain", System.Text.Encoding.UTF8, status);

    /// <summary>True for requests to the subscription interface: a form POST to `{hub}`.</summary>
    public static bool IsSubscriptionRequest(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && request.HasFormContentType;
}
