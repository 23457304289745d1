using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Outputs;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Agent.Service;

/// <summary>Builds the cloud tier from the <c>cloud</c> section (issue 6).</summary>
internal static class CloudTierSetup
{
    /// <summary>
    /// A detached tier on the agent's MQTT connection (attached by <see cref="MqttConnectionLoop"/> once connected),
    /// with the circuit breaker and rate/budget cap configured; null when the section disables it or no broker is
    /// configured (every hard case then falls back with reason <c>cloud-disabled</c> and is queued).
    /// </summary>
    public static CloudTier? Create(AgentOptions options, MqttClient? mqtt, Action<bool> circuitOpen, ILogger logger)
    {
        var c = options.Cloud;
        if (!c.Enabled || mqtt is null) return null;
        var resilience = CloudResilience.Create(new CloudCircuitOptions
        {
            MinimumThroughput = c.Circuit.MinimumThroughput,
            FailureRatio = c.Circuit.FailureRatio,
            SamplingDuration = c.Circuit.SamplingDuration,
            BreakDuration = c.Circuit.BreakDuration,
        }, onStateChange: state =>
        {
            logger.LogWarning("Cloud tier circuit {State}", state);
            circuitOpen(state == "opened");
        });
        var budget = new CloudRequestBudget(new CloudBudgetOptions
        {
            RequestsPerSecond = c.RequestsPerSecond, Burst = c.Burst, DailyBudget = c.DailyBudget,
        });
        return CloudTier.CreateDetached(mqtt, resilience, budget, new CloudTierOptions { DeviceId = options.DeviceId, Timeout = c.Timeout });
    }
}

/// <summary>
/// The result outputs of the <c>outputs</c> section (stdout JSON Lines, a JSON Lines file, an MQTT topic, a GPIO
/// value file). Owns what it opened (the file, a separate local-broker client) and disposes it.
/// </summary>
internal sealed class ResultOutputs : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly List<IResultOutput> _outputs = [];

    public IReadOnlyList<IResultOutput> Outputs => _outputs;

    /// <summary>Opens the configured outputs; <c>agentMqtt</c> (the agent's own connection) serves <c>outputs.mqtt</c> without a host of its own.</summary>
    /// <exception cref="IOException">The output file cannot be opened (the message names it).</exception>
    public static ResultOutputs Create(OutputsOptions options, string deviceId, MqttClient? agentMqtt, ILogger logger)
    {
        var result = new ResultOutputs();
        try
        {
            if (options.Stdout) result.Own(JsonLinesOutput.ForStdout());
            if (options.File is { } file) result.Own(JsonLinesOutput.ForFile(file));
            if (options.Mqtt is { } m)
            {
                var client = agentMqtt;
                if (m.Host is { } host)
                {
                    // A broker on the device (Node-RED, a PLC gateway): plain TCP, its own session, reconnecting.
                    client = new MqttClient(new MqttClientOptions
                    {
                        Endpoint = MqttEndpoint.Tcp(host, m.Port),
                        ClientId = $"{deviceId}-outputs",
                        OfflinePolicy = MqttOfflinePublishPolicy.FailFast,
                    });
                    result._owned.Add(client);
                    _ = ConnectLocalAsync(client, $"{host}:{m.Port}", logger);
                }
                if (client is null)
                    logger.LogWarning("outputs.mqtt: no broker (mqtt.host is empty and outputs.mqtt.host is not set); results are not published");
                else
                    result._outputs.Add(new MqttResultOutput(client, m.Topic,
                        m.QoS == 1 ? MqttQualityOfService.AtLeastOnce : MqttQualityOfService.AtMostOnce, m.Retain));
            }
            if (options.Gpio is { } g) result._outputs.Add(new GpioResultOutput(new ValueFileGpioLine(g.ValueFile), g.ActiveLabels.ToArray()));
            return result;
        }
        catch
        {
            result.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
    }

    private void Own(JsonLinesOutput output)
    {
        _outputs.Add(output);
        _owned.Add(output);
    }

    // The client reconnects by itself only after a first success: retry the first connect in the background.
    private static async Task ConnectLocalAsync(MqttClient client, string endpoint, ILogger logger)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                await client.ConnectAsync().ConfigureAwait(false);
                logger.LogInformation("outputs.mqtt: connected to the local broker {Endpoint}", endpoint);
                return;
            }
            catch (ObjectDisposedException) { return; }
            catch (Exception e)
            {
                logger.LogDebug("outputs.mqtt: local broker {Endpoint} not reachable ({Reason}); retrying", endpoint, e.Message);
            }
            await Task.Delay(delay).ConfigureAwait(false);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var owned in _owned) await owned.DisposeAsync().ConfigureAwait(false);
        _owned.Clear();
    }
}
