using FluentValidation;

namespace EventSourcedHub;

/// <summary>Refuses to start with settings that cannot work, naming the key to fix, instead of failing later at run time.</summary>
public sealed class HubOptionsValidator : AbstractValidator<HubOptions>
{
    public HubOptionsValidator()
    {
        RuleFor(o => o.DataDirectory).NotEmpty().WithName("Hub:DataDirectory");
        RuleFor(o => o.DefaultLeaseSeconds).GreaterThan(0).WithName("Hub:DefaultLeaseSeconds");
        RuleFor(o => o.MaxLeaseSeconds).GreaterThanOrEqualTo(o => o.DefaultLeaseSeconds)
            .WithMessage("Hub:MaxLeaseSeconds must be at least Hub:DefaultLeaseSeconds.").WithName("Hub:MaxLeaseSeconds");
        RuleFor(o => o.UnconnectedSubscriptionSeconds).GreaterThan(0).WithName("Hub:UnconnectedSubscriptionSeconds");
        RuleFor(o => o.PingIntervalSeconds).GreaterThan(0).WithName("Hub:PingIntervalSeconds");
        RuleFor(o => o.ExpiryCheckMilliseconds).InclusiveBetween(10, 60_000).WithName("Hub:ExpiryCheckMilliseconds");
        RuleFor(o => o.ReconnectGraceSeconds).GreaterThanOrEqualTo(0).WithName("Hub:ReconnectGraceSeconds");
        RuleFor(o => o.SnapshotInterval).GreaterThan(0).WithName("Hub:SnapshotInterval");
        RuleFor(o => o.MaxCommitBatch).InclusiveBetween(1, 1000).WithName("Hub:MaxCommitBatch");
        // 0: acks are not tracked (rulings.md 36).
        RuleFor(o => o.AckTimeoutSeconds).GreaterThanOrEqualTo(0).WithName("Hub:AckTimeoutSeconds");
        RuleFor(o => o.PublicBaseUrl).Must(BeAnHttpBaseUrl!).When(o => o.PublicBaseUrl is not null)
            .WithMessage("Hub:PublicBaseUrl must be an absolute http:// or https:// URL without a query or fragment, e.g. https://hub.example.org.")
            .WithName("Hub:PublicBaseUrl");
        RuleForEach(o => o.Cors.AllowedOrigins).Must(BeAnOrigin)
            .WithMessage("Hub:Cors:AllowedOrigins: '{PropertyValue}' is not an origin such as https://viewer.example.org.");
        RuleForEach(o => o.Cors.WebSocketOrigins).Must(BeAnOrigin)
            .WithMessage("Hub:Cors:WebSocketOrigins: '{PropertyValue}' is not an origin such as https://viewer.example.org.");
        RuleForEach(o => o.ForwardedHeaders.KnownProxies).Must(a => System.Net.IPAddress.TryParse(a, out _))
            .WithMessage("Hub:ForwardedHeaders:KnownProxies: '{PropertyValue}' is not an IP address.");
        RuleForEach(o => o.ForwardedHeaders.KnownNetworks).Must(n => System.Net.IPNetwork.TryParse(n, out _))
            .WithMessage("Hub:ForwardedHeaders:KnownNetworks: '{PropertyValue}' is not a network in CIDR form such as 10.0.0.0/24.");
        RuleFor(o => o.IdleTopicSeconds).GreaterThan(0).WithName("Hub:IdleTopicSeconds");
        RuleFor(o => o.FinishedReplayRetentionMinutes).GreaterThanOrEqualTo(0).WithName("Hub:FinishedReplayRetentionMinutes");
        RuleFor(o => o.AuditBatchMilliseconds).InclusiveBetween(1, 60_000).WithName("Hub:AuditBatchMilliseconds");
        RuleFor(o => o.SyncErrorSeverity).Must(s => s is "warning" or "information" or "error" or "fatal")
            .WithMessage("Hub:SyncErrorSeverity must be one of warning, information, error, fatal.").WithName("Hub:SyncErrorSeverity");
        RuleFor(o => o.Limits.MaxSubscriptionsPerTopic).GreaterThan(0).WithName("Hub:Limits:MaxSubscriptionsPerTopic");
        RuleFor(o => o.Limits.MaxContextEntries).GreaterThan(0).WithName("Hub:Limits:MaxContextEntries");
        RuleFor(o => o.Limits.RequestsPerSecondPerClient).GreaterThan(0).WithName("Hub:Limits:RequestsPerSecondPerClient");
        RuleFor(o => o.Limits.MaxImportBytes).GreaterThan(0).WithName("Hub:Limits:MaxImportBytes");
        RuleFor(o => o.Limits.MaxBundleEntries).GreaterThan(0).WithName("Hub:Limits:MaxBundleEntries");
        // At least 2: the current anchor is never the one closed, so there must be a suspended one to close.
        RuleFor(o => o.Limits.MaxOpenAnchors).GreaterThanOrEqualTo(2).WithName("Hub:Limits:MaxOpenAnchors");
        RuleFor(o => o.Limits.MaxRequestBodyBytes).GreaterThan(0).WithName("Hub:Limits:MaxRequestBodyBytes");
        RuleFor(o => o.Limits.SubscriberQueueCapacity).GreaterThan(0).WithName("Hub:Limits:SubscriberQueueCapacity");
        RuleFor(o => o.Limits.MaxInboundMessageBytes).GreaterThan(0).WithName("Hub:Limits:MaxInboundMessageBytes");
        RuleFor(o => o.Limits.AuditQueueCapacity).GreaterThan(0).WithName("Hub:Limits:AuditQueueCapacity");
    }

    private static bool BeAnHttpBaseUrl(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Query.Length == 0 && uri.Fragment.Length == 0;

    /// <summary>Scheme, host and port only, as a browser sends it in `Origin`.</summary>
    private static bool BeAnOrigin(string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.PathAndQuery == "/" && !origin.EndsWith('/')
        && uri.Fragment.Length == 0 && uri.UserInfo.Length == 0;

    public static HubOptions ValidOrThrow(HubOptions options)
    {
        var result = new HubOptionsValidator().Validate(options);
        if (!result.IsValid)
            throw new InvalidOperationException("Invalid hub configuration: " + string.Join(" ", result.Errors.Select(e => e.ErrorMessage)));
        return options;
    }
}
