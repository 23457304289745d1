using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using EdgeAgent.Mqtt;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.FleetSim.Infrastructure;

/// <summary>
/// The fleet's Mosquitto (the TestSupport fixture) configured for a thousand clients, plus a <c>$SYS</c> watcher for
/// its connection count. Configuration beyond the fixture's defaults, each for a measured reason:
/// <list type="bullet">
/// <item><c>sys_interval 1</c>: connection counts every second instead of every 10 s.</item>
/// <item><c>max_connections -1</c>: no listener cap (the file-descriptor limit, 20,000 here, is the real one).</item>
/// <item><c>max_queued_messages 1000000</c>: Mosquitto's default (1,000 per client) silently drops QoS 1 messages
/// for a hub session that falls behind, after the device already got its PUBACK (the device deletes the rows).
/// A fleet broker must queue, not drop, for the hub's shared subscription (docs/FLEET.md).</item>
/// <item>With <c>countDeliveries</c>, <c>log_type debug</c>: every "Sending PUBLISH to CLIENT" line names the hub
/// instance a message went to, which is how the split between hub instances is measured from the broker's side.</item>
/// </list>
/// </summary>
public sealed partial class FleetBroker : IAsyncDisposable
{
    private readonly MosquittoBroker _broker;
    private readonly MqttClient _sys;
    private long _connected;
    private long _connectedPeak;

    private FleetBroker(MosquittoBroker broker, MqttClient sys)
    {
        _broker = broker;
        _sys = sys;
    }

    public string Host => "127.0.0.1";
    public int Port => _broker.Port;
    public int ProcessId => _broker.ProcessId;

    /// <summary>Clients connected now, as the broker last published it (<c>$SYS/broker/clients/connected</c>).</summary>
    public long Connected => Interlocked.Read(ref _connected);
    public long ConnectedPeak => Interlocked.Read(ref _connectedPeak);

    public static async Task<FleetBroker> StartAsync(bool countDeliveries)
    {
        var extra = new List<string> { "sys_interval 1", "max_queued_messages 1000000", "max_connections -1" };
        if (countDeliveries) extra.Add("log_type debug");
        var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { ExtraConfig = extra });
        var sys = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "fleetsim-sys" });
        var fleet = new FleetBroker(broker, sys);
        sys.MessageHandler = (m, _) =>
        {
            if (m.Topic == "$SYS/broker/clients/connected" && long.TryParse(Encoding.ASCII.GetString(m.Payload.Span), NumberStyles.Integer, CultureInfo.InvariantCulture, out long n))
            {
                Interlocked.Exchange(ref fleet._connected, n);
                long peak;
                while (n > (peak = Interlocked.Read(ref fleet._connectedPeak)) && Interlocked.CompareExchange(ref fleet._connectedPeak, n, peak) != peak) { }
            }
            return ValueTask.CompletedTask;
        };
        await sys.ConnectAsync();
        await sys.SubscribeAsync("$SYS/broker/clients/connected");
        return fleet;
    }

    /// <summary>
    /// Telemetry and drift messages the broker delivered to each client id (from its debug log). Only meaningful
    /// when started with <c>countDeliveries</c>.
    /// </summary>
    public IReadOnlyDictionary<string, long> DeliveriesByClient(Func<string, bool> clientFilter)
    {
        var counts = new Dictionary<string, long>();
        foreach (Match m in SendingPublish().Matches(_broker.Log))
        {
            string client = m.Groups[1].Value;
            if (!clientFilter(client)) continue;
            counts[client] = counts.GetValueOrDefault(client) + 1;
        }
        return counts;
    }

    // Mosquitto 2.0: "Sending PUBLISH to edgehub-1 (d0, q1, r0, m12, 'edgeagent/v1/fleet-00001/telemetry', ... (812 bytes))".
    [GeneratedRegex(@"Sending PUBLISH to (\S+) \(d\d, q\d, r\d, m\d+, 'edgeagent/v1/[^/']+/(?:telemetry|drift)'")]
    private static partial Regex SendingPublish();

    /// <summary>Writes the broker's log so far (connections, disconnections with reasons) to <paramref name="path"/>.</summary>
    public Task SaveLogAsync(string path) => File.WriteAllTextAsync(path, _broker.Log);

    public async ValueTask DisposeAsync()
    {
        await _sys.DisposeAsync();
        await _broker.DisposeAsync();
    }
}
