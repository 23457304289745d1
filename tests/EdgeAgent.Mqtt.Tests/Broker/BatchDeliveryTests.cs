using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

/// <summary>
/// <see cref="MqttClient.MessageBatchHandler"/> against the real Mosquitto: batches are what has queued up
/// behind a slow handler, order is kept, nothing is acknowledged before the handler returns and a failed
/// batch comes back whole on the resumed session.
/// </summary>
public sealed class BatchDeliveryTests
{
    /// <summary>
    /// Mosquitto 2.0.11 sends a subscriber at most <c>max_inflight_messages</c> (default 20) unacknowledged QoS 1/2
    /// messages, whatever our Receive Maximum says; raised so 50 can queue up behind a held handler.
    /// </summary>
    private static readonly MosquittoBrokerOptions Inflight100 = new() { MaxInflightMessages = 100 };

    /// <summary>Records every batch and holds each call on the gate the test hands out.</summary>
    private sealed class GatedBatches
    {
        private readonly object _sync = new();
        private readonly List<TaskCompletionSource> _gates = [];
        private readonly List<TaskCompletionSource<IReadOnlyList<string>>> _calls = [];
        private int _started;

        public Exception? FailCall { get; set; }

        public int FailOnCall { get; set; } = -1;

        public async ValueTask Handle(IReadOnlyList<MqttApplicationMessage> batch, CancellationToken ct)
        {
            IReadOnlyList<string> texts = [.. batch.Select(m => m.Text())];
            TaskCompletionSource gate;
            int index;
            lock (_sync)
            {
                index = _started++;
                Call(index).TrySetResult(texts);
                gate = Gate(index);
            }

            await gate.Task.WaitAsync(ct);
            if (index == FailOnCall)
            {
                throw FailCall ?? new IOException("store unavailable");
            }
        }

        private TaskCompletionSource<IReadOnlyList<string>> Call(int index)
        {
            while (_calls.Count <= index)
            {
                _calls.Add(new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously));
            }

            return _calls[index];
        }

        private TaskCompletionSource Gate(int index)
        {
            while (_gates.Count <= index)
            {
                _gates.Add(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }

            return _gates[index];
        }

        /// <summary>The texts of the <paramref name="index"/>-th call, once it has started.</summary>
        public Task<IReadOnlyList<string>> CallAsync(int index)
        {
            lock (_sync)
            {
                return Call(index).Task.WaitAsync(TestClient.Patience);
            }
        }

        public void Release(int index)
        {
            lock (_sync)
            {
                Gate(index).TrySetResult();
            }
        }

        public void ReleaseAllFrom(int index)
        {
            lock (_sync)
            {
                for (int i = index; i < index + 1000; i++)
                {
                    Gate(i).TrySetResult();
                }
            }
        }
    }

    private static Task WaitQueuedAsync(MqttClient client, int count) => UntilAsync(() => client.InboundQueued >= count);

    /// <summary>Polls <paramref name="condition"/> until it holds (the client writes and the broker sends on their own threads).</summary>
    private static async Task UntilAsync(Func<bool> condition)
    {
        using var cts = new CancellationTokenSource(TestClient.Patience);
        while (!condition())
        {
            await Task.Delay(10, cts.Token);
        }
    }

    private static async Task PublishAllAsync(MosquittoBroker broker, string topic, IEnumerable<string> payloads, MqttQualityOfService qos = MqttQualityOfService.AtLeastOnce)
    {
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _p = pub;
        foreach (string payload in payloads)
        {
            await pub.PublishAsync(TestClient.Message(topic, payload, qos));
        }
    }

    private static MqttClient BatchClient(MosquittoBroker broker, GatedBatches batches, string clientId, int maxBatch = 256, List<MqttPacket>? sent = null)
    {
        var options = TestClient.Options(broker, clientId) with { CleanStart = false, SessionExpiryInterval = 600, MaxMessageBatchSize = maxBatch };
        var client = new MqttClient(options)
        {
            MessageBatchHandler = batches.Handle,
            PacketSentProbe = sent is null ? null : p => { lock (sent) { sent.Add(p); } },
        };
        return client;
    }

    private static IEnumerable<string> Numbered(int from, int count) => Enumerable.Range(from, count).Select(i => $"m{i:000}");

    [Fact]
    public async Task Messages_queued_behind_a_slow_batch_handler_arrive_together_in_one_call_in_arrival_order()
    {
        await using var broker = await MosquittoBroker.StartAsync(Inflight100);
        var batches = new GatedBatches();
        var client = BatchClient(broker, batches, "batch-forms");
        await using var _c = client;
        await client.ConnectAsync();
        await client.SubscribeAsync("batch/t");

        await PublishAllAsync(broker, "batch/t", Numbered(1, 1));
        Assert.Equal(["m001"], await batches.CallAsync(0)); // idle: a batch of one, no waiting for more

        await PublishAllAsync(broker, "batch/t", Numbered(2, 49));
        await WaitQueuedAsync(client, 49);
        batches.ReleaseAllFrom(0);

        Assert.Equal(Numbered(2, 49), await batches.CallAsync(1));
    }

    [Fact]
    public async Task A_batch_never_holds_more_than_MaxMessageBatchSize_and_the_rest_follows_in_order()
    {
        await using var broker = await MosquittoBroker.StartAsync(Inflight100);
        var batches = new GatedBatches();
        var client = BatchClient(broker, batches, "batch-cap", maxBatch: 16);
        await using var _c = client;
        await client.ConnectAsync();
        await client.SubscribeAsync("cap/t");

        await PublishAllAsync(broker, "cap/t", Numbered(1, 1));
        await batches.CallAsync(0);
        await PublishAllAsync(broker, "cap/t", Numbered(2, 40));
        await WaitQueuedAsync(client, 40);
        batches.ReleaseAllFrom(0);

        var received = new List<string>();
        int call = 1;
        while (received.Count < 40)
        {
            var texts = await batches.CallAsync(call++);
            Assert.InRange(texts.Count, 1, 16);
            received.AddRange(texts);
        }

        Assert.Equal(Numbered(2, 40), received);
        var sizes = new List<int>();
        for (int i = 1; i < call; i++)
        {
            sizes.Add((await batches.CallAsync(i)).Count);
        }

        Assert.Equal(new[] { 16, 16, 8 }, sizes);
    }

    [Fact]
    public async Task No_message_of_a_batch_is_acknowledged_before_the_batch_handler_returns_then_all_are_in_arrival_order()
    {
        await using var broker = await MosquittoBroker.StartAsync(Inflight100);
        var batches = new GatedBatches();
        var sent = new List<MqttPacket>();
        var client = BatchClient(broker, batches, "batch-acks", sent: sent);
        await using var _c = client;
        await client.ConnectAsync();
        await client.SubscribeAsync("acks/t");
        List<ushort> Acks()
        {
            lock (sent)
            {
                return [.. sent.OfType<PublishResponsePacket>().Where(p => p.Kind == MqttPacketType.PubAck).Select(p => p.PacketId)];
            }
        }

        await PublishAllAsync(broker, "acks/t", Numbered(1, 1));
        await batches.CallAsync(0);
        await PublishAllAsync(broker, "acks/t", Numbered(2, 20));
        await WaitQueuedAsync(client, 20);
        Assert.Empty(Acks()); // the first call still holds its message

        batches.Release(0);
        Assert.Equal(20, (await batches.CallAsync(1)).Count);
        await UntilAsync(() => Acks().Count > 0); // the writer sends the PUBACK on its own thread

        Assert.Single(Acks()); // the first message only: the batch of 20 is still in the handler
        var first = Acks();

        batches.Release(1);
        await UntilAsync(() => Acks().Count >= 21);

        // Mosquitto numbers its outgoing publishes upwards from 1: PUBACKs follow the arrival order.
        var acks = Acks();
        Assert.Equal(first, acks.Take(1));
        Assert.Equal([.. acks.OrderBy(id => id)], acks);
        Assert.Equal(21, acks.Distinct().Count());
    }

    [Theory]
    [InlineData(MqttQualityOfService.AtLeastOnce)]
    [InlineData(MqttQualityOfService.ExactlyOnce)]
    public async Task A_batch_whose_handler_threw_is_not_acknowledged_and_comes_back_whole_on_the_resumed_session(MqttQualityOfService qos)
    {
        await using var broker = await MosquittoBroker.StartAsync(Inflight100);
        var batches = new GatedBatches { FailOnCall = 1, FailCall = new IOException("disk full while storing the batch") };
        var client = BatchClient(broker, batches, "batch-fails-" + (int)qos);
        await using var _c = client;
        var failures = new List<MqttMessageHandlerFailedEventArgs>();
        client.MessageHandlerFailed += (_, e) => { lock (failures) { failures.Add(e); } };
        await client.ConnectAsync();
        await client.SubscribeAsync("fails/t", qos);

        await PublishAllAsync(broker, "fails/t", Numbered(1, 1), qos);
        await batches.CallAsync(0);
        await PublishAllAsync(broker, "fails/t", Numbered(2, 10), qos);
        await WaitQueuedAsync(client, 10);
        batches.Release(0);                    // stored: acknowledged, never seen again
        Assert.Equal(Numbered(2, 10), await batches.CallAsync(1));
        batches.Release(1);                    // this call throws

        await UntilAsync(() => { lock (failures) { return failures.Count == 10; } });

        lock (failures)
        {
            Assert.Equal(Numbered(2, 10), failures.Select(f => f.Message.Text()));
            Assert.All(failures, f => Assert.IsType<IOException>(f.Exception));
        }

        batches.ReleaseAllFrom(2);
        client.AbortConnection(); // the link drops; the session stays on the broker
        var again = new List<string>();
        int call = 2;
        while (again.Count < 10)
        {
            again.AddRange(await batches.CallAsync(call++));
        }

        Assert.Equal(Numbered(2, 10), again); // m001 was acknowledged: not redelivered
        await Task.Delay(300);                 // any wrong extra redelivery would show up as another call
        Assert.False(batches.CallAsync(call).IsCompleted);
    }

    [Fact]
    public async Task Messages_an_interceptor_takes_are_left_out_of_the_batch_and_still_acknowledged()
    {
        await using var broker = await MosquittoBroker.StartAsync(Inflight100);
        var batches = new GatedBatches();
        var sent = new List<MqttPacket>();
        var client = BatchClient(broker, batches, "batch-intercept", sent: sent);
        await using var _c = client;
        using var _i = client.AddInterceptor(m => m.Topic == "icpt/reply");
        await client.ConnectAsync();
        await client.SubscribeAsync("icpt/#");

        await PublishAllAsync(broker, "icpt/data", Numbered(1, 1));
        await batches.CallAsync(0);
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using (pub)
        {
            await pub.PublishAsync(TestClient.Message("icpt/data", "a"));
            await pub.PublishAsync(TestClient.Message("icpt/reply", "taken"));
            await pub.PublishAsync(TestClient.Message("icpt/data", "b"));
        }

        await WaitQueuedAsync(client, 3);
        batches.ReleaseAllFrom(0);
        Assert.Equal(["a", "b"], await batches.CallAsync(1));
        await UntilAsync(() => { lock (sent) { return sent.OfType<PublishResponsePacket>().Count(p => p.Kind == MqttPacketType.PubAck) == 4; } });
    }

    [Fact]
    public async Task Setting_both_a_message_handler_and_a_batch_handler_is_refused_with_a_clear_error()
    {
        await using var broker = await MosquittoBroker.StartAsync(Inflight100);
        await using var client = new MqttClient(TestClient.Options(broker));
        client.MessageHandler = (_, _) => ValueTask.CompletedTask;
        var e = Assert.Throws<InvalidOperationException>(() => client.MessageBatchHandler = (_, _) => ValueTask.CompletedTask);
        Assert.Contains("MessageHandler is already set", e.Message);
        Assert.Null(client.MessageBatchHandler);

        client.MessageHandler = null;
        client.MessageBatchHandler = (_, _) => ValueTask.CompletedTask;
        e = Assert.Throws<InvalidOperationException>(() => client.MessageHandler = (_, _) => ValueTask.CompletedTask);
        Assert.Contains("MessageBatchHandler is already set", e.Message);

        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => new MqttClient(TestClient.Options(broker) with { MaxMessageBatchSize = 0 }));
        Assert.Contains("MaxMessageBatchSize must be between 1 and 65,535", bad.Message);
    }
}
