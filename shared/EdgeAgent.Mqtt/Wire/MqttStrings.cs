using System.Text;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>Strict UTF-8 for MQTT strings (§1.5.4): invalid sequences and surrogates throw.</summary>
internal static class MqttStrings
{
    public static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Decodes and enforces §1.5.4: well-formed UTF-8 and no U+0000.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IndexOf((byte)0) >= 0)
        {
            throw MqttProtocolException.Malformed("UTF-8 string contains U+0000");
        }

        try
        {
            return bytes.Length == 0 ? string.Empty : Utf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw MqttProtocolException.Malformed("string is not well-formed UTF-8");
        }
    }
}
