namespace EdgeAgent.Outbox.Tests.Support;

internal static class Wait
{
    /// <summary>Polls until the condition holds. The limit only guards against a hang; it is not a performance assertion.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, int limitSeconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(limitSeconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"gave up waiting for: {what}");
            await Task.Delay(10);
        }
    }
}
