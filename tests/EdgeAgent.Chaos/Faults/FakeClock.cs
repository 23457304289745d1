using System.Globalization;

namespace EdgeAgent.Chaos.Faults;

/// <summary>
/// Wall-clock jumps for one process with libfaketime (Debian package <c>faketime</c>): the process
/// gets <c>LD_PRELOAD</c> and reads its offset from a file on every clock call, so rewriting the file
/// makes CLOCK_REALTIME jump forward or backward while it runs. The monotonic clock is left alone —
/// an NTP step or a wrong RTC moves the wall clock only.
/// </summary>
public sealed class FakeClock
{
    private static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ];

    private FakeClock(string library, string offsetFile)
    {
        Library = library;
        OffsetFile = offsetFile;
    }

    public string Library { get; }
    public string OffsetFile { get; }

    /// <summary>Current offset from the real clock.</summary>
    public TimeSpan Offset { get; private set; }

    public static FakeClock Create(string directory)
    {
        var library = Candidates.FirstOrDefault(File.Exists)
            ?? throw new Harness.ChaosEnvironmentException($"libfaketime not found ({string.Join(", ", Candidates)}): install the Debian package 'faketime' (build.sh does)");
        var clock = new FakeClock(library, Path.Combine(directory, "faketime.offset"));
        clock.Set(TimeSpan.Zero);
        return clock;
    }

    /// <summary>Environment for the process whose clock this controls.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["LD_PRELOAD"] = Library,
        ["FAKETIME_TIMESTAMP_FILE"] = OffsetFile,
        ["FAKETIME_CACHE_DURATION"] = "1", // re-read the offset file at most once a second
        ["FAKETIME_DONT_FAKE_MONOTONIC"] = "1",
        ["FAKETIME_DONT_RESET"] = "1",
    };

    /// <summary>Moves the process's wall clock to real time + <paramref name="offset"/> (atomic file replace).</summary>
    public void Set(TimeSpan offset)
    {
        var seconds = (long)offset.TotalSeconds;
        var tmp = OffsetFile + ".tmp";
        File.WriteAllText(tmp, (seconds >= 0 ? "+" : "") + seconds.ToString(CultureInfo.InvariantCulture) + "\n");
        File.Move(tmp, OffsetFile, overwrite: true);
        Offset = TimeSpan.FromSeconds(seconds);
    }
}
