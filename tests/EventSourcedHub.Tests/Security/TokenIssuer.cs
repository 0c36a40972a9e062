using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace EventSourcedHub.Tests.Security;

/// <summary>A test identity provider: an RSA key pair, its public key as a PEM file for the hub, and real signed tokens.</summary>
public sealed class TokenIssuer : IDisposable
{
    public const string Issuer = "https://idp.test.invalid";
    public const string Audience = "eventsourcedhub";

    private readonly RSA _key = RSA.Create(2048);

    public TokenIssuer()
    {
        PublicKeyPath = Path.Combine(Path.GetTempPath(), $"hub-key-{Guid.NewGuid():N}.pem");
        File.WriteAllText(PublicKeyPath, _key.ExportSubjectPublicKeyInfoPem());
    }

    public string PublicKeyPath { get; }

    public Dictionary<string, string?> HubSettings() => new()
    {
        ["Hub:Auth:Mode"] = "Jwt", ["Hub:Auth:Issuer"] = Issuer, ["Hub:Auth:Audience"] = Audience, ["Hub:Auth:SigningKeyPath"] = PublicKeyPath,
    };

    public string Token(string scopes, string? topic = null, TimeSpan? lifetime = null, DateTime? notBefore = null, string issuer = Issuer,
        string audience = Audience, RSA? signWith = null, string client = "test-client", IReadOnlyDictionary<string, object>? claims = null)
    {
        var all = new Dictionary<string, object> { ["scope"] = scopes, ["client_id"] = client, ["sub"] = client };
        foreach (var (name, value) in claims ?? new Dictionary<string, object>()) all[name] = value;
        if (topic is not null) all["hub.topic"] = topic;
        var now = DateTime.UtcNow;
        var expires = now + (lifetime ?? TimeSpan.FromHours(1));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = all,
            IssuedAt = notBefore ?? now.AddMinutes(-5),
            NotBefore = notBefore ?? now.AddMinutes(-5),
            Expires = expires,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(signWith ?? _key), SecurityAlgorithms.RsaSha256),
        });
    }

    /// <summary>An unsigned token (`alg: none`) carrying every scope.</summary>
    public static string Unsigned(string scopes)
    {
        static string Part(string json) => Base64UrlEncoder.Encode(json);
        var exp = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        return $"{Part("""{"alg":"none","typ":"JWT"}""")}.{Part($$"""{"iss":"{{Issuer}}","aud":"{{Audience}}","exp":{{exp}},"scope":"{{scopes}}"}""")}.";
    }

    public void Dispose()
    {
        _key.Dispose();
        File.Delete(PublicKeyPath);
    }
}
