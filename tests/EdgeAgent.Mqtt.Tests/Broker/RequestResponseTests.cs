using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

public sealed class RequestResponseTests
{
    [Fact]
    public async Task Request_gets_the_response_with_matching_correlation_data()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (responder, _) = await TestClient.ConnectAsync(broker);
        await using var _r = responder;
        responder.MessageHandler = async (request, ct) =>
        {
            string answer = "echo:" + request.Text();
            await responder.PublishAsync(MqttApplicationMessage.ResponseTo(request, System.Text.Encoding.UTF8.GetBytes(answer)), ct);
        };
        await responder.SubscribeAsync("edgeagent/v1/d1/infer/req");

        var (requester, _) = await TestClient.ConnectAsync(broker);
        await using var _q = requester;
        await using var rpc = await MqttRequestClient.CreateAsync(requester, "edgeagent/v1/d1/infer/res");

        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            rpc.RequestAsync(TestClient.Message("edgeagent/v1/d1/infer/req", "q" + i), TestClient.Patience)));
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal("echo:q" + i, replies[i].Text());
        }
    }

    [Fact]
    public async Task Request_without_responder_times_out_with_a_clear_message()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (requester, _) = await TestClient.ConnectAsync(broker);
        await using var _q = requester;
        await using var rpc = await MqttRequestClient.CreateAsync(requester, "rr/none/res");
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => rpc.RequestAsync(TestClient.Message("rr/none/req", "x"), TimeSpan.FromMilliseconds(300)));
        Assert.Contains("rr/none/req", ex.Message);
    }

    [Fact]
    public async Task Request_is_cancellable()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (requester, _) = await TestClient.ConnectAsync(broker);
        await using var _q = requester;
        await using var rpc = await MqttRequestClient.CreateAsync(requester, "rr/c/res");
        using var cts = new CancellationTokenSource();
        Task<MqttApplicationMessage> pending = rpc.RequestAsync(TestClient.Message("rr/c/req", "x"), TestClient.Patience, cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
    }

    [Fact]
    public async Task Responses_do_not_reach_the_general_message_handler()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (responder, _) = await TestClient.ConnectAsync(broker);
        await using var _r = responder;
        responder.MessageHandler = (request, ct) => new ValueTask(responder.PublishAsync(MqttApplicationMessage.ResponseTo(request, "ok"u8.ToArray()), ct));
        await responder.SubscribeAsync("rr/h/req");
        var (requester, sink) = await TestClient.ConnectAsync(broker);
        await using var _q = requester;
        await requester.SubscribeAsync("rr/h/other");
        await using var rpc = await MqttRequestClient.CreateAsync(requester, "rr/h/res");
        Assert.Equal("ok", (await rpc.RequestAsync(TestClient.Message("rr/h/req", "x"), TestClient.Patience)).Text());
        await responder.PublishAsync(TestClient.Message("rr/h/other", "general"));
        Assert.Equal("rr/h/other", (await sink.NextAsync()).Topic);
    }
}
