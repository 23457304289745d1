namespace EdgeAgent.Mqtt.Client;

/// <summary>
/// Counts unacknowledged QoS 1/2 publishes against the limit (the broker's Receive Maximum, MQTT 5
/// §4.9, capped by our MaxInflight). The limit can change on reconnect; messages already in flight
/// stay counted. Not thread safe: guarded by the client's session lock, which also owns the FIFO
/// of publishes waiting for a slot (so waiting publishes keep their call order).
/// </summary>
internal sealed class InflightWindow(int limit)
{
    public int Count { get; private set; }

    public int Limit { get; set; } = limit;

    /// <summary>Highest count ever reached (diagnostics and tests).</summary>
    public int HighWaterMark { get; private set; }

    public bool TryTake()
    {
        if (Count >= Limit)
        {
            return false;
        }

        Count++;
        if (Count > HighWaterMark)
        {
            HighWaterMark = Count;
        }

        return true;
    }

    public void Release() => Count--;
}
