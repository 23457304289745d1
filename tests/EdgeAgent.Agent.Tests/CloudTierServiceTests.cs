using System.Text.Json;
using EdgeAgent.Mqtt;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>
/// Issue 6, the cloud tier inside <c>edgeagent run</c>: a real Mosquitto, the daemon as a child process with a
/// confidence threshold of 0.99 (every window is a hard case), and a responder speaking the hub's wire format
/// (<c>edgeagent.infer.request/1</c> on <c>edgeagent/v1/{id}/infer/req</c>, answer on the MQTT 5 Response Topic
/// with the Correlation Data — what cloud-hub's CloudInferenceResponder does).
/// </summary>
public sealed class CloudTierServiceTests : IAsyncLifetime
{
    private readonly AgentDaemon _agent = new();
    private MosquittoBroker _broker = null!;
    private MqttClient _hub = null!;
    private volatile int _delayMs;
    private int _requests;
    private string? _lastRequestError;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _hub = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "hub-responder" });
        _hub.MessageHandler = (request, ct) =>
        {
            Interlocked.Increment(ref _requests);
            // Off the handler: a slow answer must not hold up the next request (the hub answers concurrently too).
            _ = Task.Run(async () =>
            {
                var body = JsonSerializer.Deserialize(request.Payload.Span, PipelineJsonContext.Default.CloudInferenceRequest);
                CloudInferenceResponse answer;
                if (body is null || body.Schema != "edgeagent.infer.request/1" || body.DeviceId != "press-17" || body.Input.Length != 3 * 128
                    || body.Labels.Count != 4 || request.CorrelationData is null)
                {
                    _lastRequestError = $"unexpected request: {System.Text.Encoding.UTF8.GetString(request.Payload.Span)}";
                    answer = new CloudInferenceResponse { Error = "bad request" };
                }
                else answer = new CloudInferenceResponse { Label = "walk", Confidence = 0.97f, Model = "har-large@3" };
                if (_delayMs > 0) await Task.Delay(_delayMs);
                try
                {
                    await _hub.PublishAsync(MqttApplicationMessage.ResponseTo(request,
                        JsonSerializer.SerializeToUtf8Bytes(answer, PipelineJsonContext.Default.CloudInferenceResponse)));
                }
                catch (Exception) when (_broker is not null) { }   // broker stopped in the last phase
            });
            return ValueTask.CompletedTask;
        };
        await _hub.ConnectAsync();
        await _hub.SubscribeAsync("$share/hub/edgeagent/v1/+/infer/req");
        await _agent.InstallModelAsync(confidenceThreshold: 0.99);
        _agent.WriteConfig(_broker.Port, """
            ,
              "cloud": { "timeout": "400ms", "requestsPerSecond": 200, "burst": 50, "workers": 4,
                         "circuit": { "minimumThroughput": 2, "failureRatio": 0.5, "samplingDuration": "2s", "breakDuration": "30s" } }
            """);
        _agent.Start();
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _hub.DisposeAsync();
        await _broker.DisposeAsync();
    }

    [Fact]
    public async Task Hard_cases_use_the_cloud_answer_fall_back_on_timeout_and_while_the_broker_is_down_and_are_queued()
    {
        // 1. Broker up, responder answers at once: the cloud's label is used.
        var answered = await _agent.WaitForStatusAsync(a => AgentDaemon.Inference(a, "cloud") >= 3, "cloud answers");
        Assert.Null(_lastRequestError);
        Assert.Equal("closed", answered.GetProperty("cloudCircuit").GetString());
        var lines = await File.ReadAllLinesAsync(_agent.OutputsFile);
        var cloudResult = lines.Select(l => JsonDocument.Parse(l).RootElement).First(r => r.GetProperty("decidedBy").GetString() == "cloud");
        Assert.Equal("walk", cloudResult.GetProperty("label").GetString());
        Assert.Equal("har-large@3", cloudResult.GetProperty("cloudModel").GetString());

        // 2. Slow responder (answers after the 400 ms timeout): the local answer stands, the case is queued.
        _delayMs = 1500;
        long queuedBefore = AgentDaemon.Inference(answered, "fallbackCasesQueued");
        var slow = await _agent.WaitForStatusAsync(a => AgentDaemon.FallbackReason(a, "timeout") >= 1
            && AgentDaemon.Inference(a, "fallbackCasesQueued") > queuedBefore, "a timeout fallback");
        var timedOut = (await File.ReadAllLinesAsync(_agent.OutputsFile)).Select(l => JsonDocument.Parse(l).RootElement)
            .First(r => r.GetProperty("fallbackReason").GetString() == "timeout");
        Assert.Equal("fallback", timedOut.GetProperty("decidedBy").GetString());
        Assert.Equal(timedOut.GetProperty("localLabel").GetString(), timedOut.GetProperty("label").GetString());

        // 3. Broker down: requests fail, the circuit opens, every hard case keeps its local answer and is queued.
        long queuedSlow = AgentDaemon.Inference(slow, "fallbackCasesQueued");
        await _broker.StopAsync();
        var down = await _agent.WaitForStatusAsync(a => a.GetProperty("cloudCircuit").GetString() == "open"
            && AgentDaemon.FallbackReason(a, "circuit-open") >= 1 && AgentDaemon.Inference(a, "fallbackCasesQueued") > queuedSlow + 2,
            "the circuit open with queued cases");
        Assert.True(AgentDaemon.FallbackReason(down, "offline") + AgentDaemon.FallbackReason(down, "timeout") > 0);
        var stats = JsonDocument.Parse((await AgentDaemon.Ok(_agent.CliAsync("telemetry", "stats", "--json"))).Stdout).RootElement;
        Assert.True(stats.GetProperty("pendingEvents").GetProperty("fallbackCase").GetInt64() > 0, stats.ToString());
    }
}
