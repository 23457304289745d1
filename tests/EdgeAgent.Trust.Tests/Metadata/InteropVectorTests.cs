using System.Text;
using EdgeAgent.Trust.Json;
using EdgeAgent.Trust.Metadata;

namespace EdgeAgent.Trust.Tests.Metadata;

/// <summary>
/// Metadata produced by independent TUF tooling (python-tuf / securesystemslib via tuf-on-ci, key
/// in Google Cloud KMS): public test vector from the sigstore staging TUF repository
/// (github.com/sigstore/root-signing-staging, metadata/timestamp.json version 654 and the online
/// key listed by root version 14). Proves our canonical JSON and ECDSA verification agree with
/// theirs byte for byte.
/// </summary>
public sealed class InteropVectorTests
{
    private const string OnlineKeyId = "c3479007e861445ce5dc109d9661ed77b35bbc0e3f161852c46114266fc2daa4";

    private const string OnlineKeyJson = """
        {
         "keytype": "ecdsa",
         "keyval": {
          "public": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExxmEtmhF5U+i+v/6he4BcSLzCgMx\n/0qSrvDg6bUWwUrkSKS2vDpcJrhGy5fmmhRrGawjPp1ALpC3y1kqFTpXDg==\n-----END PUBLIC KEY-----\n"
         },
         "scheme": "ecdsa-sha2-nistp256",
         "x-tuf-on-ci-online-uri": "gcpkms:projects/projectsigstore-staging/locations/global/keyRings/tuf-keyring/cryptoKeys/tuf-key/cryptoKeyVersions/2"
        }
        """;

    private const string Timestamp = """
        {
         "signatures": [
          {
           "keyid": "c3479007e861445ce5dc109d9661ed77b35bbc0e3f161852c46114266fc2daa4",
           "sig": "3045022100da6588d8e6deb01454c2b7d9e485707b5272527a4d560397b1d259e683b3f66b022072d9d7536ccbf1959851e64afdf0ab02ac89cdc423497792c4873c51b53cf1b7"
          }
         ],
         "signed": {
          "_type": "timestamp",
          "expires": "2026-07-05T08:23:06Z",
          "meta": {
           "snapshot.json": {
            "version": 23
           }
          },
          "spec_version": "1.0",
          "version": 654
         }
        }
        """;

    private static TufKey Key() => TufKey.FromJson((CjObject)StrictJsonParser.Parse(Encoding.UTF8.GetBytes(OnlineKeyJson), "key"), "key");

    [Fact]
    public void Timestamp_signed_by_python_tuf_tooling_verifies()
    {
        var ts = SignedMetadata<TimestampMetadata>.Parse(Encoding.UTF8.GetBytes(Timestamp), static (j, w) => new TimestampMetadata(j, w), "timestamp.json");
        Assert.Equal(654, ts.Signed.Version);
        Assert.Equal(23, ts.Signed.SnapshotMeta.Version);
        var keys = new Dictionary<string, TufKey> { [OnlineKeyId] = Key() };
        Assert.Equal(1, SignatureVerifier.CountValid(ts, new RoleKeys([OnlineKeyId], 1), keys));
    }

    [Fact]
    public void The_same_timestamp_with_one_changed_field_does_not_verify()
    {
        var tampered = Timestamp.Replace("\"version\": 23", "\"version\": 24", StringComparison.Ordinal);
        var ts = SignedMetadata<TimestampMetadata>.Parse(Encoding.UTF8.GetBytes(tampered), static (j, w) => new TimestampMetadata(j, w), "timestamp.json");
        var keys = new Dictionary<string, TufKey> { [OnlineKeyId] = Key() };
        Assert.Equal(0, SignatureVerifier.CountValid(ts, new RoleKeys([OnlineKeyId], 1), keys));
    }
}
