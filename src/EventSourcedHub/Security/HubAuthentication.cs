using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;

namespace EventSourcedHub.Security;

/// <summary>Bearer-token authentication (JwtBearer) and the safe-default rule for `Mode=None`.</summary>
public static class HubAuthentication
{
    /// <summary>Algorithms accepted for token signatures; `none` and symmetric keys never are.</summary>
    private static readonly string[] Algorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256,
    ];

    public static void AddHubAuthentication(this IServiceCollection services, HubAuthOptions auth)
    {
        if (!auth.IsJwt) return;
        if (string.IsNullOrWhiteSpace(auth.Issuer) || string.IsNullOrWhiteSpace(auth.Audience))
            throw new InvalidOperationException("Hub:Auth:Mode=Jwt needs Hub:Auth:Issuer and Hub:Auth:Audience.");
        if (string.IsNullOrWhiteSpace(auth.SigningKeyPath) == string.IsNullOrWhiteSpace(auth.Authority))
            throw new InvalidOperationException("Hub:Auth:Mode=Jwt needs exactly one of Hub:Auth:SigningKeyPath (a PEM public key) or Hub:Auth:Authority (OpenID Connect).");

        // Read the key now: a missing or unreadable key file must stop the start, not fail the first request.
        var signingKey = auth.SigningKeyPath is { Length: > 0 } keyPath ? LoadPublicKey(keyPath) : null;
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(options =>
        {
            options.MapInboundClaims = false;
            options.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = auth.Issuer,
                ValidAudience = auth.Audience,
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ValidAlgorithms = Algorithms,
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            if (signingKey is not null)
            {
                options.TokenValidationParameters.IssuerSigningKey = signingKey;
            }
            else
            {
                options.Authority = auth.Authority;
                options.RequireHttpsMetadata = !IsLoopbackUrl(auth.Authority!);
            }
            // The hub answers 401 itself, as an OperationOutcome or text (Access), after every request handler decides.
            options.Events = new JwtBearerEvents { OnChallenge = context => { context.HandleResponse(); return Task.CompletedTask; } };
        });
    }

    private static SecurityKey LoadPublicKey(string path)
    {
        if (!File.Exists(path)) throw new InvalidOperationException($"Hub:Auth:SigningKeyPath: no file at '{path}'.");
        var pem = File.ReadAllText(path);
        if (TryEc(pem) is { } ec) return new ECDsaSecurityKey(ec);
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"Hub:Auth:SigningKeyPath: '{path}' holds no PEM RSA or EC public key ({e.Message}).", e);
        }
        return new RsaSecurityKey(rsa);
    }

    private static ECDsa? TryEc(string pem)
    {
        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return ec;
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            ec.Dispose();
            return null;
        }
    }

    /// <summary>
    /// `Mode=None` answers anybody, so it is allowed only when every address the hub listens on is loopback, unless
    /// `Hub:Auth:AllowAnonymous=true` says so explicitly.
    /// </summary>
    public static void RefuseOpenAnonymousHub(HubAuthOptions auth, IEnumerable<string> urls)
    {
        if (auth.IsJwt || auth.AllowAnonymous) return;
        var open = urls.Where(u => !IsLoopbackUrl(u)).ToList();
        if (open.Count > 0)
            throw new InvalidOperationException(
                $"Refusing to start: Hub:Auth:Mode=None (no authentication) while listening on {string.Join(", ", open)}, which is not loopback. " +
                "Set Hub:Auth:Mode=Jwt (docs/security.md), listen on 127.0.0.1 only, or set Hub:Auth:AllowAnonymous=true for a closed test lab.");
    }

    private static bool IsLoopbackUrl(string url)
    {
        var host = url.Replace("://+", "://0.0.0.0").Replace("://*", "://0.0.0.0");
        if (!Uri.TryCreate(host, UriKind.Absolute, out var uri)) return false;
        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }
}
