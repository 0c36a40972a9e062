namespace EventSourcedHub.Security;

/// <summary>`Hub:Auth:*` (docs/security.md).</summary>
public sealed class HubAuthOptions
{
    /// <summary>`None` (every request is allowed; loopback only unless AllowAnonymous) or `Jwt` (bearer tokens with SMART FHIRcast scopes).</summary>
    public string Mode { get; set; } = "None";

    public string? Issuer { get; set; }
    public string? Audience { get; set; }

    /// <summary>A PEM public key (RSA or EC) that signs the tokens.</summary>
    public string? SigningKeyPath { get; set; }

    /// <summary>An OpenID Connect issuer whose discovery document and JWKS give the signing keys.</summary>
    public string? Authority { get; set; }

    /// <summary>Allow `Mode=None` on addresses other than loopback. Only for closed test labs.</summary>
    public bool AllowAnonymous { get; set; }

    public bool IsJwt => string.Equals(Mode, "Jwt", StringComparison.OrdinalIgnoreCase);
}
