namespace EventSourcedHub;

/// <summary>
/// Every tunable of the hub, bound from the `Hub` configuration section, so each is also an environment variable
/// (`Hub__AckTimeoutSeconds`). docs/configuration.md lists them with their defaults.
/// </summary>
public sealed class HubOptions
{
    public const string Section = "Hub";

    /// <summary>Where the embedded PostgreSQL keeps its cluster when no `ConnectionStrings:Hub` is given.</summary>
    public string DataDirectory { get; set; } = "./.hub-data";

    public int DefaultLeaseSeconds { get; set; } = 7200;
    public int MaxLeaseSeconds { get; set; } = 86400;

    /// <summary>A subscription whose WebSocket has not connected this long after the 202 is discarded (HUB-WS-09).</summary>
    public int UnconnectedSubscriptionSeconds { get; set; } = 60;

    /// <summary>WebSocket ping interval; a peer that does not answer within the same time is dropped (HUB-HB-01).</summary>
    public int PingIntervalSeconds { get; set; } = 10;

    /// <summary>How often leases and unconnected subscriptions are checked for expiry.</summary>
    public int ExpiryCheckMilliseconds { get; set; } = 1000;

    /// <summary>
    /// Time a subscriber has to acknowledge a notification before the hub raises a SyncError and ends it (HUB-DIST-06/07).
    /// 0 turns ack tracking off hub-wide, for deployments whose apps never ack (rulings.md 36).
    /// </summary>
    public int AckTimeoutSeconds { get; set; } = 10;

    /// <summary>
    /// Subscriber names (`subscriber.name`, else the token's client) whose acks are not awaited, while the others stay
    /// tracked. An entry ending in `*` is a prefix: OHIF's extension names itself `OHIF-<topic>-<random>`.
    /// </summary>
    public string[] AcklessSubscribers { get; set; } = [];

    /// <summary>Whether acks are awaited from a subscriber of this name.</summary>
    public bool AwaitsAcks(string subscriberName) =>
        AckTimeoutSeconds > 0 && !AcklessSubscribers.Any(entry => entry.EndsWith('*')
            ? subscriberName.StartsWith(entry[..^1], StringComparison.Ordinal)
            : subscriberName == entry);

    /// <summary>Severity of hub-generated SyncErrors: `warning` (FHIRcast profile) or `information` (IRA RAD-155), AMB-01.</summary>
    public string SyncErrorSeverity { get; set; } = "warning";

    /// <summary>Whether a select moves the anchor's `context.versionId` (AMB-02); off, so update-only subscribers stay current.</summary>
    public bool BumpVersionOnSelect { get; set; }

    /// <summary>
    /// Seconds a dropped WebSocket may reconnect to its endpoint and get what it missed (0: off, as IRA ends a
    /// subscription on a dropped socket). An app's explicit close (1000) still ends the subscription at once.
    /// </summary>
    public int ReconnectGraceSeconds { get; set; }

    /// <summary>Every this many stream versions the session's state is kept as a snapshot, bounding time-travel reads.</summary>
    public int SnapshotInterval { get; set; } = 200;

    /// <summary>
    /// At most this many appends (from concurrent writers, on any topics) share one transaction (group commit); 1 commits
    /// every append alone.
    /// </summary>
    public int MaxCommitBatch { get; set; } = 100;

    /// <summary>Run the async projections (session summaries) in this process. Exactly one node of a cluster may (rulings.md 14).</summary>
    public bool RunAsyncProjections { get; set; } = true;

    /// <summary>Send implied `T-open` events to subscribers of lesser events (HUB-CTX-09, AMB-22).</summary>
    public bool DeriveOpenEvents { get; set; } = true;

    /// <summary>Record a delivery receipt (sent, ack status and latency, or time-out) per notification and subscriber (docs/audit.md).</summary>
    public bool DeliveryReceipts { get; set; } = true;

    /// <summary>How long the audit writer gathers receipts, rejected and read audits before one commit (durability window).</summary>
    public int AuditBatchMilliseconds { get; set; } = 200;

    /// <summary>
    /// The absolute URL clients reach the hub at (e.g. `https://hub.example.org`), used for every URL the hub returns
    /// instead of the request's scheme and host; unset, those come from the request and the trusted forwarded headers.
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// Per-topic state of a topic not used for this long (its dispatcher, its writer's turn and last committed state) is
    /// released; it is read again from the store when the topic is next used.
    /// </summary>
    public int IdleTopicSeconds { get; set; } = 600;

    /// <summary>How long a finished replay run stays readable at `GET /api/replays/{id}`.</summary>
    public int FinishedReplayRetentionMinutes { get; set; } = 60;

    public HubLimits Limits { get; set; } = new();

    public HubCorsOptions Cors { get; set; } = new();

    public HubForwardedHeadersOptions ForwardedHeaders { get; set; } = new();

    public HubCompatibilityOptions Compatibility { get; set; } = new();

    public Security.HubAuthOptions Auth { get; set; } = new();

    public Domain.SubscriptionPolicy SubscriptionPolicy() => new(DefaultLeaseSeconds, MaxLeaseSeconds, UnconnectedSubscriptionSeconds, Limits.MaxSubscriptionsPerTopic);

    public Domain.ContentPolicy ContentPolicy() =>
        new(BumpVersionOnSelect, Limits.MaxBundleEntries, DeriveOpenEvents, Limits.MaxOpenAnchors, Compatibility.LenientUpdates);

    /// <summary>Binds the `Hub` section, reading each list setting given as one comma-separated value too.</summary>
    public static HubOptions Bind(IConfigurationSection section) => (section.Get<HubOptions>() ?? new HubOptions()).WithListsGivenAsText(section);

    /// <summary>
    /// The configuration binder ignores a single value for an array (`--Hub:AcklessSubscribers "OHIF,Viewer"`,
    /// `Hub__Cors__AllowedOrigins=https://a,https://b`); a silently ignored origin list would open or close the hub by surprise.
    /// </summary>
    public HubOptions WithListsGivenAsText(IConfigurationSection section)
    {
        string[] Read(string key, string[] bound) =>
            section[key] is { } text ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : bound;
        AcklessSubscribers = Read("AcklessSubscribers", AcklessSubscribers);
        Cors.AllowedOrigins = Read("Cors:AllowedOrigins", Cors.AllowedOrigins);
        Cors.WebSocketOrigins = Read("Cors:WebSocketOrigins", Cors.WebSocketOrigins);
        ForwardedHeaders.KnownProxies = Read("ForwardedHeaders:KnownProxies", ForwardedHeaders.KnownProxies);
        ForwardedHeaders.KnownNetworks = Read("ForwardedHeaders:KnownNetworks", ForwardedHeaders.KnownNetworks);
        return this;
    }
}

/// <summary>`Hub:Cors:*`: which browser origins may call the hub (rulings.md 35).</summary>
public sealed class HubCorsOptions
{
    /// <summary>Origins (`https://viewer.example.org`) allowed to call the HTTP API from a browser; empty: any origin, without credentials.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Origins a browser WebSocket may connect from (its `Origin` header); empty: any. Clients that send no `Origin` are not browsers and pass.</summary>
    public string[] WebSocketOrigins { get; set; } = [];
}

/// <summary>`Hub:ForwardedHeaders:*`: the reverse proxies whose X-Forwarded-For/-Proto/-Host are believed. Loopback always is.</summary>
public sealed class HubForwardedHeadersOptions
{
    /// <summary>Addresses of proxies (`10.0.0.5`, `2001:db8::5`).</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks of proxies in CIDR form (`10.0.0.0/24`).</summary>
    public string[] KnownNetworks { get; set; } = [];
}

/// <summary>`Hub:Compatibility:*`: leniencies for clients that predate FHIRcast 3.0's content sharing (docs/compatibility.md).</summary>
public sealed class HubCompatibilityOptions
{
    /// <summary>
    /// A `*-update` without its anchor key applies to the most recently opened anchor of that type, and one without
    /// `context.versionId` to that anchor's current version (rulings.md 36). Off: both are 400 as FHIRcast requires.
    /// </summary>
    public bool LenientUpdates { get; set; }
}

public sealed class HubLimits
{
    /// <summary>Largest request body accepted; larger ones get 413 (HUB-EVT-08).</summary>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Notifications waiting for one subscriber's socket; a subscriber that falls this far behind is dropped, never waited for.</summary>
    public int SubscriberQueueCapacity { get; set; } = 1024;

    /// <summary>Largest session log accepted by `POST /api/sessions/{topic}/import`.</summary>
    public long MaxImportBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Live subscriptions one topic may have; one more is refused with 403 (HUB-SUB-09).</summary>
    public int MaxSubscriptionsPerTopic { get; set; } = 1000;

    /// <summary>Entries in one event's `context`; more is 413.</summary>
    public int MaxContextEntries { get; set; } = 100;

    /// <summary>
    /// Requests per second one client (its token's client id, else its address) may make, with bursts up to twice that;
    /// beyond, 429 with Retry-After. High enough for the benchmark loads (8 publishers from one address).
    /// </summary>
    public int RequestsPerSecondPerClient { get; set; } = 2000;

    /// <summary>
    /// Open anchors one session keeps (rulings.md 28). An open beyond it makes the hub close the least recently opened
    /// suspended anchor, recorded and distributed as a `*-close` with the reason; never the current one.
    /// </summary>
    public int MaxOpenAnchors { get; set; } = 100;

    /// <summary>Entries in one update bundle; more is 413 (HUB-CS-14).</summary>
    public int MaxBundleEntries { get; set; } = 1000;

    /// <summary>
    /// Audit documents (receipts, rejected and read audits) waiting to be stored; while more wait, new requests get 503
    /// with Retry-After instead of the queue growing without bound (e.g. while the database is away).
    /// </summary>
    public int AuditQueueCapacity { get; set; } = 50_000;

    /// <summary>Largest WebSocket message (an ack) the hub reads from a subscriber.</summary>
    public int MaxInboundMessageBytes { get; set; } = 64 * 1024;
}
