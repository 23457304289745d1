using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Tests.Support;

/// <summary>A copied sample (sources lend their value buffers).</summary>
public sealed record CopiedSample(long TimeNs, DateTimeOffset WallTime, float[] Values);

public static class Collect
{
    /// <summary>Reads up to <paramref name="max"/> samples (or until the source ends), copying each.</summary>
    public static async Task<List<CopiedSample>> SamplesAsync(ISensorSource source, int max = int.MaxValue, CancellationToken cancellationToken = default)
    {
        var list = new List<CopiedSample>();
        if (max == 0) return list;
        await foreach (var s in source.ReadAllAsync(cancellationToken))
        {
            list.Add(new CopiedSample(s.TimeNs, s.WallTime, s.Values.ToArray()));
            if (list.Count >= max) break;
        }
        return list;
    }
}
