using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeAgent.Sensors.Gpio;

/// <summary>
/// Linux GPIO character device v2 uAPI (include/uapi/linux/gpio.h, Linux ≥ 5.10): struct layouts
/// byte for byte, ioctl request numbers and flags. Nothing else lives here.
/// </summary>
internal static class GpioUapi
{
    public const int MaxNameSize = 32;      // GPIO_MAX_NAME_SIZE
    public const int LinesMax = 64;         // GPIO_V2_LINES_MAX
    public const int LineNumAttrsMax = 10;  // GPIO_V2_LINE_NUM_ATTRS_MAX
    public const int EventSize = 48;        // sizeof(struct gpio_v2_line_event)

    private const uint IocWrite = 1, IocRead = 2;
    private const uint Magic = 0xB4;

    // asm-generic/ioctl.h: dir << 30 | size << 16 | type << 8 | nr (x86, arm, arm64, riscv).
    public static uint Ioc(uint dir, uint nr, int size) => dir << 30 | (uint)size << 16 | Magic << 8 | nr;

    public static readonly uint GetChipInfo = Ioc(IocRead, 0x01, Unsafe.SizeOf<GpioChipInfo>());
    public static readonly uint GetLineInfoV2 = Ioc(IocRead | IocWrite, 0x05, Unsafe.SizeOf<GpioV2LineInfo>());
    public static readonly uint GetLineV2 = Ioc(IocRead | IocWrite, 0x07, Unsafe.SizeOf<GpioV2LineRequest>());
    public static readonly uint LineSetConfigV2 = Ioc(IocRead | IocWrite, 0x0D, Unsafe.SizeOf<GpioV2LineConfig>());
    public static readonly uint LineGetValuesV2 = Ioc(IocRead | IocWrite, 0x0E, Unsafe.SizeOf<GpioV2LineValues>());
    public static readonly uint LineSetValuesV2 = Ioc(IocRead | IocWrite, 0x0F, Unsafe.SizeOf<GpioV2LineValues>());

    // enum gpio_v2_line_flag
    public const ulong FlagUsed = 1UL << 0;
    public const ulong FlagActiveLow = 1UL << 1;
    public const ulong FlagInput = 1UL << 2;
    public const ulong FlagOutput = 1UL << 3;
    public const ulong FlagEdgeRising = 1UL << 4;
    public const ulong FlagEdgeFalling = 1UL << 5;
    public const ulong FlagOpenDrain = 1UL << 6;
    public const ulong FlagOpenSource = 1UL << 7;
    public const ulong FlagBiasPullUp = 1UL << 8;
    public const ulong FlagBiasPullDown = 1UL << 9;
    public const ulong FlagBiasDisabled = 1UL << 10;
    public const ulong FlagEventClockRealtime = 1UL << 11;

    // enum gpio_v2_line_attr_id
    public const uint AttrIdFlags = 1;
    public const uint AttrIdOutputValues = 2;
    public const uint AttrIdDebounce = 3;

    // enum gpio_v2_line_event_id
    public const uint EventRisingEdge = 1;
    public const uint EventFallingEdge = 2;
}

/// <summary>struct gpiochip_info (68 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct GpioChipInfo
{
    public fixed byte Name[GpioUapi.MaxNameSize];
    public fixed byte Label[GpioUapi.MaxNameSize];
    public uint Lines;
}

/// <summary>struct gpio_v2_line_attribute (16 bytes): id, padding, then a union of flags / values / debounce_period_us.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct GpioV2LineAttribute
{
    [FieldOffset(0)] public uint Id;
    [FieldOffset(4)] public uint Padding;
    [FieldOffset(8)] public ulong Flags;
    [FieldOffset(8)] public ulong Values;
    [FieldOffset(8)] public uint DebouncePeriodUs;
}

/// <summary>struct gpio_v2_line_config_attribute (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct GpioV2LineConfigAttribute
{
    public GpioV2LineAttribute Attr;
    public ulong Mask;
}

[InlineArray(GpioUapi.LineNumAttrsMax)]
internal struct GpioV2LineConfigAttributes
{
    private GpioV2LineConfigAttribute _element0;
}

[InlineArray(GpioUapi.LineNumAttrsMax)]
internal struct GpioV2LineAttributes
{
    private GpioV2LineAttribute _element0;
}

/// <summary>struct gpio_v2_line_config (272 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct GpioV2LineConfig
{
    public ulong Flags;
    public uint NumAttrs;
    public fixed uint Padding[5];
    public GpioV2LineConfigAttributes Attrs;
}

/// <summary>struct gpio_v2_line_request (592 bytes): offsets at 0, consumer at 256, config at 288,
/// num_lines at 560, event_buffer_size at 564, fd at 588.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct GpioV2LineRequest
{
    public fixed uint Offsets[GpioUapi.LinesMax];
    public fixed byte Consumer[GpioUapi.MaxNameSize];
    public GpioV2LineConfig Config;
    public uint NumLines;
    public uint EventBufferSize;
    public fixed uint Padding[5];
    public int Fd;
}

/// <summary>struct gpio_v2_line_info (256 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct GpioV2LineInfo
{
    public fixed byte Name[GpioUapi.MaxNameSize];
    public fixed byte Consumer[GpioUapi.MaxNameSize];
    public uint Offset;
    public uint NumAttrs;
    public ulong Flags;
    public GpioV2LineAttributes Attrs;
    public fixed uint Padding[4];
}

/// <summary>struct gpio_v2_line_values (16 bytes): bit i ↔ i-th line of the request, set in mask.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct GpioV2LineValues
{
    public ulong Bits;
    public ulong Mask;
}

/// <summary>struct gpio_v2_line_event (48 bytes), as returned by read() on a line request fd.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct GpioV2LineEvent
{
    public ulong TimestampNs;
    public uint Id;
    public uint Offset;
    public uint Seqno;
    public uint LineSeqno;
    public fixed uint Padding[6];
}
