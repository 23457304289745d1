using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EdgeAgent.Sensors.Gpio;
using Xunit;

namespace EdgeAgent.Sensors.Tests.Gpio;

/// <summary>Struct sizes, field offsets and ioctl numbers against include/uapi/linux/gpio.h (v2).</summary>
public sealed unsafe class GpioUapiLayoutTests
{
    [Fact]
    public void Struct_sizes_match_the_kernel_uapi()
    {
        Assert.Equal(68, sizeof(GpioChipInfo));
        Assert.Equal(16, sizeof(GpioV2LineAttribute));
        Assert.Equal(24, sizeof(GpioV2LineConfigAttribute));
        Assert.Equal(272, sizeof(GpioV2LineConfig));
        Assert.Equal(592, sizeof(GpioV2LineRequest));
        Assert.Equal(256, sizeof(GpioV2LineInfo));
        Assert.Equal(16, sizeof(GpioV2LineValues));
        Assert.Equal(48, sizeof(GpioV2LineEvent));
        Assert.Equal(GpioEventDecoder.RecordSize, sizeof(GpioV2LineEvent));
    }

    [Fact]
    public void Line_request_fields_sit_at_the_uapi_offsets()
    {
        var r = default(GpioV2LineRequest);
        byte* b = (byte*)&r;
        Assert.Equal(0, (byte*)&r.Offsets[0] - b);
        Assert.Equal(256, (byte*)&r.Consumer[0] - b);
        Assert.Equal(288, (byte*)&r.Config - b);
        Assert.Equal(288 + 32, (byte*)&r.Config.Attrs[0] - b);          // attrs after flags, num_attrs, padding[5]
        Assert.Equal(288 + 32 + 24 * 9, (byte*)&r.Config.Attrs[9] - b);
        Assert.Equal(560, (byte*)&r.NumLines - b);
        Assert.Equal(564, (byte*)&r.EventBufferSize - b);
        Assert.Equal(588, (byte*)&r.Fd - b);
    }

    [Fact]
    public void Line_info_and_event_fields_sit_at_the_uapi_offsets()
    {
        var info = default(GpioV2LineInfo);
        byte* i = (byte*)&info;
        Assert.Equal(32, (byte*)&info.Consumer[0] - i);
        Assert.Equal(64, (byte*)&info.Offset - i);
        Assert.Equal(68, (byte*)&info.NumAttrs - i);
        Assert.Equal(72, (byte*)&info.Flags - i);
        Assert.Equal(80, (byte*)&info.Attrs[0] - i);
        Assert.Equal(240, (byte*)&info.Padding[0] - i);

        var e = default(GpioV2LineEvent);
        byte* p = (byte*)&e;
        Assert.Equal(8, (byte*)&e.Id - p);
        Assert.Equal(12, (byte*)&e.Offset - p);
        Assert.Equal(16, (byte*)&e.Seqno - p);
        Assert.Equal(20, (byte*)&e.LineSeqno - p);

        var a = default(GpioV2LineAttribute);
        Assert.Equal(8, (byte*)&a.Flags - (byte*)&a);
        Assert.Equal(8, (byte*)&a.DebouncePeriodUs - (byte*)&a);
        var chip = default(GpioChipInfo);
        Assert.Equal(32, (byte*)&chip.Label[0] - (byte*)&chip);
        Assert.Equal(64, (byte*)&chip.Lines - (byte*)&chip);
    }

    [Fact]
    public void Ioctl_numbers_match_the_kernel_uapi()
    {
        Assert.Equal(0x8044B401u, GpioUapi.GetChipInfo);
        Assert.Equal(0xC100B405u, GpioUapi.GetLineInfoV2);
        Assert.Equal(0xC250B407u, GpioUapi.GetLineV2);
        Assert.Equal(0xC110B40Du, GpioUapi.LineSetConfigV2);
        Assert.Equal(0xC010B40Eu, GpioUapi.LineGetValuesV2);
        Assert.Equal(0xC010B40Fu, GpioUapi.LineSetValuesV2);
    }

    [Fact]
    public void Request_is_filled_with_offsets_consumer_flags_and_debounce_attribute()
    {
        var settings = new GpioSettings
        {
            Lines = [new(17, "door"), new(22)],
            Mode = GpioMode.Edges,
            Edge = GpioEdgeDetection.Both,
            ActiveLow = true,
            Bias = GpioBias.PullUp,
            DebounceMicroseconds = 5000,
            EventBufferSize = 32,
            Consumer = "edgeagent",
        };
        var request = GpioCharDevice.BuildRequest(settings);
        var bytes = MemoryMarshal.AsBytes(new Span<GpioV2LineRequest>(ref request));
        Assert.Equal(17u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(22u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]));
        Assert.Equal("edgeagent\0", System.Text.Encoding.ASCII.GetString(bytes.Slice(256, 10)));
        // INPUT 4 | ACTIVE_LOW 2 | EDGE_RISING 16 | EDGE_FALLING 32 | BIAS_PULL_UP 256
        Assert.Equal(310ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes[288..]));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[296..]));            // num_attrs
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[320..]));            // attr id DEBOUNCE
        Assert.Equal(5000u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[328..]));         // debounce_period_us
        Assert.Equal(0b11ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes[336..]));        // mask: both lines
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[560..]));            // num_lines
        Assert.Equal(32u, BinaryPrimitives.ReadUInt32LittleEndian(bytes[564..]));           // event_buffer_size
    }

    [Fact]
    public void Levels_mode_requests_plain_inputs_without_edge_flags()
    {
        var request = GpioCharDevice.BuildRequest(new GpioSettings { Lines = [new(3)], Mode = GpioMode.Levels, Bias = GpioBias.PullDown });
        Assert.Equal(4ul | 512ul, request.Config.Flags);
        Assert.Equal(0u, request.Config.NumAttrs);
    }
}
