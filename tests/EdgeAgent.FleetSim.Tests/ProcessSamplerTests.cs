using EdgeAgent.FleetSim.Measurement;
using Xunit;

namespace EdgeAgent.FleetSim.Tests;

public sealed class ProcessSamplerTests
{
    [Fact]
    public async Task A_busy_process_shows_cpu_time_and_resident_memory()
    {
        int pid = Environment.ProcessId;
        await using var sampler = new ProcessSampler(new Dictionary<string, int> { ["self"] = pid }, TimeSpan.FromMilliseconds(50));
        sampler.MarkWindowStart();
        var until = DateTime.UtcNow.AddMilliseconds(300);
        double x = 0;
        while (DateTime.UtcNow < until) x += Math.Sqrt(x + 1);
        sampler.MarkWindowEnd();

        var usage = Assert.Single(sampler.Results());
        Assert.True(x > 0);
        Assert.Equal(pid, usage.Pid);
        Assert.True(usage.CpuPercentMean > 0, $"cpu {usage.CpuPercentMean}");
        Assert.True(usage.RssMbEnd > 1, $"rss {usage.RssMbEnd}");
    }

    [Fact]
    public void A_process_that_is_gone_reads_as_no_cpu_and_no_memory()
    {
        Assert.Equal(-1, ProcessSampler.CpuTicks(int.MaxValue));
        Assert.Equal(0, ProcessSampler.RssMb(int.MaxValue));
    }
}
