using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Mqtt.Wire;

namespace EdgeAgent.Mqtt.Tests.Wire;

/// <summary>
/// Feeds random and mutated packets to the framer and both decoders. The only acceptable outcomes
/// are a decoded packet, "need more data", or <see cref="MqttProtocolException"/>; anything else
/// (IndexOutOfRange, OverflowException, OutOfMemory, a hang) is a bug. At least 10^6 inputs always;
/// EDGEAGENT_LONG_TESTS=1 multiplies the count by 20.
/// </summary>
public sealed class DecoderFuzzTests
{
    private static readonly byte[][] Seeds = BuildSeeds();

    private static byte[][] BuildSeeds()
    {
        using var v5 = new V5PacketCodec();
        return [.. CodecRoundTripTests.AllPackets().Values.Select(packet => CodecRoundTripTests.Encode(v5, packet))];
    }

    [Fact]
    public void A_million_random_and_mutated_packets_never_escape_as_anything_but_protocol_errors()
    {
        int iterations = Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 20_000_000 : 1_000_000;
        var random = new Random(20260522);
        using var v5 = new V5PacketCodec();
        using var v311 = new V311PacketCodec();
        byte[] buffer = new byte[512];
        int decoded = 0, rejected = 0;
        for (int i = 0; i < iterations; i++)
        {
            int length;
            if (i % 4 == 0)
            {
                // Pure noise with a plausible header.
                length = random.Next(1, 64);
                random.NextBytes(buffer.AsSpan(0, length));
            }
            else
            {
                // Mutations of valid packets: flip bytes, truncate, extend, fix up Remaining Length.
                byte[] seed = Seeds[random.Next(Seeds.Length)];
                length = Math.Min(seed.Length, buffer.Length);
                seed.AsSpan(0, length).CopyTo(buffer);
                int mutations = random.Next(1, 4);
                for (int m = 0; m < mutations; m++)
                {
                    switch (random.Next(4))
                    {
                        case 0: buffer[random.Next(length)] = (byte)random.Next(256); break;
                        case 1: buffer[random.Next(length)] ^= (byte)(1 << random.Next(8)); break;
                        case 2: length = random.Next(1, length + 1); break;
                        default:
                            int extra = random.Next(1, 8);
                            if (length + extra < buffer.Length)
                            {
                                random.NextBytes(buffer.AsSpan(length, extra));
                                length += extra;
                            }

                            break;
                    }
                }

                if (random.Next(2) == 0 && length >= 2 && length - 2 < 128)
                {
                    buffer[1] = (byte)(length - 2);
                }
            }

            MqttPacketCodec codec = (i & 1) == 0 ? v5 : v311;
            try
            {
                if (MqttFrame.TryRead(buffer.AsSpan(0, length), 4096, out byte header, out int headerLength, out int bodyLength))
                {
                    codec.Decode(header, buffer.AsSpan(headerLength, bodyLength));
                    decoded++;
                }
            }
            catch (MqttProtocolException)
            {
                rejected++;
            }
        }

        // Both paths must have been exercised, or the fuzzer is not testing anything.
        Assert.True(decoded > 1000, $"only {decoded} inputs decoded");
        Assert.True(rejected > 1000, $"only {rejected} inputs rejected");
    }
}
