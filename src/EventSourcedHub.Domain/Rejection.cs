namespace EventSourcedHub.Domain;

/// <summary>Why the hub refuses a request. The kind decides the HTTP status; nothing was changed.</summary>
public sealed record Rejection(RejectionKind Kind, string Message)
{
    public static Rejection Invalid(string message) => new(RejectionKind.Invalid, message);
    public static Rejection UnknownTopic(string topic) => new(RejectionKind.UnknownTopic, $"Unknown topic '{topic}': subscribe to it first.");
    public static Rejection Conflict(string message) => new(RejectionKind.Conflict, message);
    public static Rejection NotFound(string message) => new(RejectionKind.NotFound, message);
    public static Rejection TooLarge(string message) => new(RejectionKind.TooLarge, message);
    public static Rejection Forbidden(string message) => new(RejectionKind.Forbidden, message);
    public static Rejection Unauthenticated(string message) => new(RejectionKind.Unauthenticated, message);
    public static Rejection UnsupportedMediaType(string message) => new(RejectionKind.UnsupportedMediaType, message);
    public static Rejection Throttled(string message) => new(RejectionKind.Throttled, message);
    public static Rejection Unavailable(string message) => new(RejectionKind.Unavailable, message);
}

public enum RejectionKind
{
    /// <summary>Malformed or not allowed (400).</summary>
    Invalid,
    /// <summary>An event for a topic that was never subscribed to (400, IRA "unknown session").</summary>
    UnknownTopic,
    /// <summary>The request does not fit the session's state, e.g. closing an anchor that is not open (409).</summary>
    Conflict,
    /// <summary>The thing asked for does not exist (404).</summary>
    NotFound,
    /// <summary>More than this hub accepts in one request (413, HUB-CS-14).</summary>
    TooLarge,
    /// <summary>Refused by the hub's policy, e.g. a limit on live subscriptions (403, HUB-SUB-09).</summary>
    Forbidden,
    /// <summary>No valid credentials (401).</summary>
    Unauthenticated,
    /// <summary>A body in a format the endpoint does not take (415).</summary>
    UnsupportedMediaType,
    /// <summary>The client sent more requests than it may (429).</summary>
    Throttled,
    /// <summary>The hub cannot serve the request right now, e.g. its database is away (503).</summary>
    Unavailable,
}
