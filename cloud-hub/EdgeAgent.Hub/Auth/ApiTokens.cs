using System.Security.Cryptography;
using System.Text;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Auth;

/// <summary>A freshly created token: <see cref="Secret"/> is shown once and never stored.</summary>
public sealed record CreatedToken(ApiTokenRecord Record, string Secret);

/// <summary>
/// Bearer tokens: <c>ehub_</c> + 32 random bytes (base64url). The store keeps only the SHA-256 of the
/// whole token: a high-entropy secret needs no slow hash, and a leaked database reveals no usable token.
/// </summary>
public static class ApiTokens
{
    public const string Prefix = "ehub_";

    public static async Task<CreatedToken> CreateAsync(IHubStore store, string name, HubRole role, TimeProvider time, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var secret = Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var record = new ApiTokenRecord("tok_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)), name, role, Hash(secret), time.GetUtcNow());
        await store.CreateTokenAsync(record, ct);
        return new CreatedToken(record, secret);
    }

    /// <summary>Lowercase hex SHA-256 of the token's UTF-8 bytes.</summary>
    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
