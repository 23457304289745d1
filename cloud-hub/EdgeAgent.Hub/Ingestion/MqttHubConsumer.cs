using EdgeAgent.Hub.Devices;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace EdgeAgent.Hub.Ingestion;

/// <summary>
/// The hub's MQTT side: one persistent session (clean start off, 1 h expiry, so QoS 1 messages wait for
/// the hub across a restart) subscribed to device status (every instance sees all status) and to
/// telemetry, drift and update transitions through shared subscriptions (<c>$share/hub/…</c>, so
/// instances split the load; the store's keys keep each event once whichever instance receives it).
/// Messages arrive in batches of what has queued up (<see cref="MqttClient.MessageBatchHandler"/>, at most
/// <see cref="HubOptions.IngestBatchSize"/>): status reports are applied one by one in order, everything else of
/// the batch is stored in ONE transaction (<see cref="TelemetryIngestor.IngestBatchAsync"/>), and the client
/// acknowledges the batch's messages only after that commit. When the store is unavailable the whole batch is
/// retried with capped exponential backoff until it is back (or the hub stops): Mosquitto does not resend an
/// unacknowledged message inside a live connection, so giving up would strand it until the next reconnect.
/// Ordering is kept because the client hands batches over one at a time, in arrival order.
/// </summary>
public sealed class MqttHubConsumer(HubOptions options, IHubStore store, TelemetryIngestor ingestor, TimeProvider time, ILogger<MqttHubConsumer> logger)
    : BackgroundService
{
    private MqttClient? _client;

    private readonly ResiliencePipeline _storeRetry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
    {
        ShouldHandle = new PredicateBuilder().Handle<Exception>(e => e is System.Data.Common.DbException or HubStoreException or IOException or TimeoutException),
        MaxRetryAttempts = int.MaxValue,
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
        Delay = TimeSpan.FromMilliseconds(200),
        MaxDelay = TimeSpan.FromSeconds(10),
        OnRetry = a =>
        {
            logger.LogError(a.Outcome.Exception, "Store unavailable while saving a batch of MQTT messages (attempt {Attempt}); retrying in {Delay}", a.AttemptNumber + 1, a.RetryDelay);
            return ValueTask.CompletedTask;
        },
    }).Build();

    /// <summary>Current connection state (for /healthz); <c>Disconnected</c> before the first connect.</summary>
    public MqttConnectionState State => _client?.State ?? MqttConnectionState.Disconnected;

    /// <summary>Completes once the subscriptions of the first connection are acknowledged.</summary>
    public Task Subscribed => _subscribed.Task;

    private readonly TaskCompletionSource _subscribed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<string> TopicFilters =>
    [
        "edgeagent/v1/+/status",
        $"$share/{options.ShareGroup}/edgeagent/v1/+/telemetry",
        $"$share/{options.ShareGroup}/edgeagent/v1/+/drift",
        $"$share/{options.ShareGroup}/edgeagent/v1/+/update",
    ];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.MqttHost is null) return;
        var client = new MqttClient(HubMqtt.ClientOptions(options, "", time) with { MaxMessageBatchSize = options.IngestBatchSize });
        client.MessageBatchHandler = HandleBatchAsync;
        client.MessageHandlerFailed += (_, e) =>
            logger.LogError(e.Exception, "Message on {Topic} not stored (its whole batch failed); the broker will redeliver it", e.Message.Topic);
        client.ConnectionStateChanged += (_, e) =>
            logger.LogInformation("MQTT {State} ({Broker})", e.State, $"{options.MqttHost}:{options.MqttPort}");
        _client = client;
        var retry = HubMqtt.RetryForever(a => logger.LogWarning("MQTT broker {Broker} not reachable ({Error}); retrying in {Delay}",
            $"{options.MqttHost}:{options.MqttPort}", a.Outcome.Exception?.Message, a.RetryDelay));
        try
        {
            await HubMqtt.KeepSubscribedAsync(client, retry, ct => SubscribeAsync(client, ct), () => _subscribed.TrySetResult(), stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SubscribeAsync(MqttClient client, CancellationToken ct)
    {
        var result = await client.SubscribeAsync(TopicFilters.Select(f => new MqttTopicSubscription(f, MqttQualityOfService.AtLeastOnce)).ToList(), cancellationToken: ct);
        if (!result.AllSucceeded)
            logger.LogError("Broker refused subscriptions: {Codes} {Reason}", string.Join(",", result.ReasonCodes), result.ReasonString);
    }

    /// <summary>One attempt at a batch; throws (nothing acknowledged, nothing acked end to end) when the store fails.</summary>
    private long _batches;
    private long _messages;
    private int _largestBatch;

    /// <summary>Batches handed over by the client so far (retries of a batch not counted again). Thread-safe.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Messages in those batches. Thread-safe.</summary>
    public long Messages => Interlocked.Read(ref _messages);

    /// <summary>The most messages one batch held (how far the hub fell behind at worst). Thread-safe.</summary>
    public int LargestBatch => Volatile.Read(ref _largestBatch);

    private ValueTask HandleBatchAsync(IReadOnlyList<MqttApplicationMessage> messages, CancellationToken ct)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _messages, messages.Count);
        int largest;
        while (messages.Count > (largest = Volatile.Read(ref _largestBatch)) && Interlocked.CompareExchange(ref _largestBatch, messages.Count, largest) != largest)
        {
        }
        return _storeRetry.ExecuteAsync(static async (state, token) => await state.Self.HandleBatchOnceAsync(state.Messages, token), (Self: this, Messages: messages), ct);
    }

    private async ValueTask HandleBatchOnceAsync(IReadOnlyList<MqttApplicationMessage> messages, CancellationToken ct)
    {
        var ingest = new List<(string Topic, ReadOnlyMemory<byte> Payload)>(messages.Count);
        var devices = new List<string>(messages.Count);
        foreach (var message in messages)
        {
            if (HubTopics.TryParseDeviceTopic(message.Topic, out var deviceId, out var leaf) && leaf == "status")
            {
                // Its own small transaction, before the batch's: idempotent (an older report is ignored), so a
                // retried batch may apply it again; a malformed report parked here would be parked again then.
                await HandleStatusAsync(message, deviceId, ct);
                continue;
            }
            // Everything else, also what is not a device topic at all, is parked or stored in the batch's transaction.
            ingest.Add((message.Topic, message.Payload));
            devices.Add(deviceId);
        }
        if (ingest.Count == 0) return;
        var results = await ingestor.IngestBatchAsync(ingest, ct);
        if (_client is not { } client) return;
        for (int i = 0; i < results.Count; i++)
            if (results[i].Ack is { } ack) PublishAck(client, devices[i], ack);
    }

    private async ValueTask HandleStatusAsync(MqttApplicationMessage message, string deviceId, CancellationToken ct)
    {
        if (message.Payload.IsEmpty) return; // a cleared retained message, not a report
        DeviceStatusReport report;
        try
        {
            report = DeviceStatusParser.Parse(message.Payload.Span, time.GetUtcNow());
        }
        catch (FormatException e)
        {
            await store.RecordRejectedMessageAsync(message.Topic, e.Message, message.Payload, time.GetUtcNow(), ct);
            return;
        }
        await store.RecordDeviceStatusAsync(deviceId, report, ct);
        logger.LogInformation("{DeviceId} is {State}", deviceId, report.Online ? "online" : "offline");
    }

    /// <summary>
    /// End-to-end ack after the store commit (not retained), at QoS 1 as DESIGN §5 names it: the device deletes
    /// the batch's events only now, so a broker that loses what it had PUBACKed loses nothing (docs/CHAOS.md bug 3).
    /// Not awaited: the handler runs on the client's receive path (the client queues it in its in-flight window).
    /// A lost ack only means the device sends the batch again after its ack timeout; dedup absorbs it.
    /// </summary>
    /// <remarks>Acks were QoS 0 for a while because QoS 1 acks seemed to stall our client after about Receive
    /// Maximum inbound messages (tests/bench/EdgeAgent.Drain.Bench <c>--ack-qos 1</c>). The cause was that bench's
    /// hub subscribing to <c>edgeagent/v1/bench/#</c>: it received its own acks, its handler threw on them, and
    /// each refused QoS 1 message held one of the broker's in-flight slots for good. This hub never subscribes to
    /// ack topics; the client now also resumes its session when refusals fill the window (InflightLivenessTests).</remarks>
    private void PublishAck(MqttClient client, string deviceId, EdgeAgent.Telemetry.Acks.TelemetryAck ack)
    {
        var publish = client.PublishAsync(new MqttApplicationMessage
        {
            Topic = EdgeAgent.Telemetry.Wire.TelemetryStreams.AckTopic(deviceId),
            Payload = EdgeAgent.Telemetry.Acks.TelemetryAckCodec.Encode(ack),
            QoS = MqttQualityOfService.AtLeastOnce,
            ContentType = EdgeAgent.Telemetry.Wire.TelemetryWire.ContentTypeJson,
        });
        _ = publish.ContinueWith(t => logger.LogWarning(t.Exception?.GetBaseException(),
                "Ack to {DeviceId} for {Stream} {BootId}:{From}..{To} not published; the device will send the batch again",
                deviceId, ack.Stream, ack.BootId, ack.Ranges[0][0], ack.Ranges[^1][1]),
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await HubMqtt.CloseAsync(_client, logger, cancellationToken);
    }
}
