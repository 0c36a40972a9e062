namespace EventSourcedHub.Domain;

/// <summary>What a FHIRcast event name says about context: its anchor resource type and its action.</summary>
/// <remarks>Event names are compared case-insensitively everywhere (HUB-GEN-03); the name is kept as the sender wrote it.</remarks>
public readonly record struct EventName(string Value)
{
    public static readonly StringComparer Comparer = StringComparer.OrdinalIgnoreCase;

    public const string SyncError = "SyncError";
    public const string Heartbeat = "Heartbeat";
    public const string HomeOpen = "Home-open";

    /// <summary>The part before the last dash (`DiagnosticReport` in `DiagnosticReport-open`), or null for names without one.</summary>
    public string? AnchorType
    {
        get
        {
            var dash = Value.LastIndexOf('-');
            return dash > 0 ? Value[..dash] : null;
        }
    }

    public string? Action
    {
        get
        {
            var dash = Value.LastIndexOf('-');
            return dash > 0 && dash < Value.Length - 1 ? Value[(dash + 1)..] : null;
        }
    }

    public bool IsHomeOpen => Comparer.Equals(Value, HomeOpen);
    public bool IsOpen => !IsHomeOpen && Is("open");
    public bool IsClose => Is("close");
    public bool IsUpdate => Is("update");
    public bool IsSelect => Is("select");
    public bool IsSyncError => Comparer.Equals(Value, SyncError);
    public bool IsHeartbeat => Comparer.Equals(Value, Heartbeat);

    public bool Matches(string other) => Comparer.Equals(Value, other);

    private bool Is(string action) => AnchorType is not null && string.Equals(Action, action, StringComparison.OrdinalIgnoreCase);

    /// <summary>The context key that holds the anchor resource of a type (FHIRcast's legacy names, else the lower-cased type).</summary>
    public static string AnchorKeyFor(string anchorType) => anchorType.ToLowerInvariant() switch
    {
        "imagingstudy" => "study",
        "diagnosticreport" => "report",
        var lower => lower,
    };

    /// <summary>The canonical spelling of a resource type for anchor identity (`diagnosticreport` and `DiagnosticReport` are one type).</summary>
    public static string NormalizeType(string anchorType) => anchorType.ToLowerInvariant() switch
    {
        "patient" => "Patient",
        "encounter" => "Encounter",
        "imagingstudy" => "ImagingStudy",
        "diagnosticreport" => "DiagnosticReport",
        _ => anchorType,
    };

    public override string ToString() => Value;
}
