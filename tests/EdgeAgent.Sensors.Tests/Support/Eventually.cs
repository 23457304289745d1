namespace EdgeAgent.Sensors.Tests.Support;

/// <summary>Waits for a condition that another thread makes true. The timeout is a liveness guard
/// (a hung test fails instead of hanging), never a performance threshold.</summary>
public static class Eventually
{
    public static async Task True(Func<bool> condition, string what, int timeoutSeconds = 20, Func<string>? state = null)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"still waiting for: {what}{(state is null ? "" : " (" + state() + ")")}");
            await Task.Delay(2);
        }
    }
}
