using System.Threading.Channels;
using EdgeAgent.Mqtt.Client;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Mqtt.Transport;
using EdgeAgent.Mqtt.Wire;
using Polly;
using Polly.Retry;

namespace EdgeAgent.Mqtt;

/// <summary>
/// MQTT 5.0 / 3.1.1 client with automatic reconnect and session resume.
/// <para>
/// Thread safety: all public members may be called concurrently. Received messages are handed to
/// <see cref="MessageHandler"/> one at a time, in order (or, opt-in, to <see cref="MessageBatchHandler"/>
/// in batches of what has queued up); a QoS 1 message is acknowledged only
/// after the handler returns (so the application can make it durable first). If the handler
/// throws, the message is not acknowledged: the broker redelivers it when the session resumes
/// on a later connection; the failure is reported through <see cref="MessageHandlerFailed"/>.
/// </para>
/// <para>
/// Delivery: QoS 1/2 publishes stay in the session until acknowledged. After a reconnect that
/// resumes the session they are resent with the same packet id and DUP=1 (MQTT 5 §4.4); if the
/// broker lost the session they are sent again as new messages, so at-least-once holds either way.
/// Events are raised synchronously on an internal thread; handlers must not block.
/// </para>
/// </summary>
public sealed class MqttClient : IAsyncDisposable
{
    private readonly MqttClientOptions _options;
    private readonly object _sync = new();
    private readonly Dictionary<ushort, OutgoingPublish> _outgoing = [];
    private readonly Dictionary<ushort, TaskCompletionSource<MqttPacket>> _requests = [];
    private readonly HashSet<ushort> _incomingQoS2 = [];
    private readonly Dictionary<string, (MqttTopicSubscription Subscription, uint Identifier)> _subscriptions = new(StringComparer.Ordinal);
    private readonly List<Func<MqttApplicationMessage, bool>> _interceptors = [];
    private readonly InflightWindow _window;
    private readonly Queue<OutgoingPublish> _waiting = new();
    private readonly Channel<(MqttConnection Connection, PublishPacket Packet)> _inbound;
    private readonly Owner _owner;
    private readonly ResiliencePipeline _reconnectPipeline;
    private CancellationTokenSource _lifetime = new();
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MqttConnection? _connection;
    private MqttConnectResult? _lastConnect;
    private MqttConnectionState _state = MqttConnectionState.Disconnected;
    private Task _dispatcher = Task.CompletedTask;
    private Task _reconnect = Task.CompletedTask;
    private ushort _nextPacketId;
    private long _sequence;
    private bool _everConnected;
    private long _connectedAt;
    private int _shortLivedConnections;
    private bool _disposed;

    public MqttClient(MqttClientOptions options)
    {
        options.Validate();
        _options = options;
        _window = new InflightWindow(options.MaxInflight);
        _inbound = Channel.CreateBounded<(MqttConnection, PublishPacket)>(new BoundedChannelOptions(options.ReceiveMaximum + 1024)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _owner = new Owner(this);
        _reconnectPipeline = options.ReconnectPipeline ?? CreateDefaultReconnectPipeline(options);
    }

    private Func<MqttApplicationMessage, CancellationToken, ValueTask>? _messageHandler;
    private Func<IReadOnlyList<MqttApplicationMessage>, CancellationToken, ValueTask>? _messageBatchHandler;

    /// <summary>
    /// Receives every application message. Set before <see cref="ConnectAsync"/>. Called sequentially;
    /// the token is cancelled when the client is disposed. Mutually exclusive with
    /// <see cref="MessageBatchHandler"/>: setting both throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public Func<MqttApplicationMessage, CancellationToken, ValueTask>? MessageHandler
    {
        get => Volatile.Read(ref _messageHandler);
        set => SetHandler(ref _messageHandler, value, nameof(MessageBatchHandler));
    }

    /// <summary>
    /// Opt-in batch delivery, instead of <see cref="MessageHandler"/> (setting both throws
    /// <see cref="InvalidOperationException"/>). Each call receives the messages already queued when the
    /// dispatcher looks, in arrival order, at most <see cref="MqttClientOptions.MaxMessageBatchSize"/>; it
    /// never waits for more to arrive, so an idle client calls it with one message and adds no latency,
    /// while a slow handler gets bigger batches as messages queue up behind it. Called sequentially;
    /// the list is owned by the handler only until it returns (do not keep it).
    /// <para>
    /// Acknowledgement: only after the handler returns is every QoS 1 message of the batch PUBACKed (QoS 2:
    /// PUBRECed), in order, each on the connection it arrived on. If the handler throws, no message of the
    /// batch is acknowledged (the broker redelivers them on a resumed session) and
    /// <see cref="MessageHandlerFailed"/> is raised once per message of the batch, each with the same
    /// exception. Interceptors (request/response) still see each message first; a message an interceptor
    /// takes is left out of the batch and acknowledged in its place, also when the batch fails (it was handled).
    /// </para>
    /// </summary>
    public Func<IReadOnlyList<MqttApplicationMessage>, CancellationToken, ValueTask>? MessageBatchHandler
    {
        get => Volatile.Read(ref _messageBatchHandler);
        set => SetHandler(ref _messageBatchHandler, value, nameof(MessageHandler));
    }

    /// <summary>Sets one of the two handlers, refusing it while the other (<paramref name="other"/>) is set.</summary>
    private void SetHandler<T>(ref T? handler, T? value, string other)
        where T : class
    {
        lock (_sync)
        {
            bool otherSet = other == nameof(MessageHandler) ? _messageHandler is not null : _messageBatchHandler is not null;
            if (value is not null && otherSet)
            {
                throw new InvalidOperationException($"{other} is already set: a client delivers either one message at a time (MessageHandler) or in batches (MessageBatchHandler), not both. Clear {other} first.");
            }

            Volatile.Write(ref handler, value);
        }
    }

    /// <summary>Raised on every connection state transition.</summary>
    public event EventHandler<MqttConnectionStateChangedEventArgs>? ConnectionStateChanged;

    private long _receiveMaximumOverruns;

    /// <summary>
    /// QoS 1/2 messages the broker sent beyond our Receive Maximum since this client was created
    /// (tolerated unless <see cref="MqttClientOptions.DisconnectOnReceiveMaximumExceeded"/>). Thread-safe.
    /// </summary>
    public long ReceiveMaximumOverruns => Interlocked.Read(ref _receiveMaximumOverruns);

    /// <summary>
    /// Raised when <see cref="MessageHandler"/> (or an interceptor) threw; the message was not acknowledged.
    /// When <see cref="MessageBatchHandler"/> throws it is raised once for each message of the batch.
    /// </summary>
    public event EventHandler<MqttMessageHandlerFailedEventArgs>? MessageHandlerFailed;

    public MqttConnectionState State
    {
        get
        {
            lock (_sync)
            {
                return _state;
            }
        }
    }

    /// <summary>CONNACK of the current or last connection.</summary>
    public MqttConnectResult? ConnectResult
    {
        get
        {
            lock (_sync)
            {
                return _lastConnect;
            }
        }
    }

    public MqttClientOptions Options => _options;

    /// <summary>Unacknowledged QoS 1/2 publishes right now.</summary>
    public int InflightCount
    {
        get
        {
            lock (_sync)
            {
                return _window.Count;
            }
        }
    }

    internal InflightWindow Window => _window;

    /// <summary>Received messages waiting for the dispatcher (tests: know a batch has queued up before releasing a handler).</summary>
    internal int InboundQueued => _inbound.Reader.Count;

    /// <summary>Test hook applied to each new connection: every packet written, in order.</summary>
    internal Action<MqttPacket>? PacketSentProbe { get; set; }

    /// <summary>Builds the default reconnect pipeline: retry forever, exponential backoff with jitter.</summary>
    public static ResiliencePipeline CreateDefaultReconnectPipeline(MqttClientOptions options) =>
        new ResiliencePipelineBuilder { TimeProvider = options.TimeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException),
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.ReconnectMinDelay,
                MaxDelay = options.ReconnectMaxDelay,
            })
            .Build();

    /// <summary>
    /// Connects once (no retry): throws <see cref="MqttConnectException"/> when the broker refuses,
    /// <see cref="MqttTlsException"/>, <see cref="TimeoutException"/> or a socket error otherwise.
    /// After success the client reconnects by itself when the link drops (if AutoReconnect).
    /// </summary>
    public async Task<MqttConnectResult> ConnectAsync(CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_state is MqttConnectionState.Connected or MqttConnectionState.Connecting or MqttConnectionState.Reconnecting)
            {
                throw new InvalidOperationException($"The client is already {_state}.");
            }

            if (_lifetime.IsCancellationRequested)
            {
                _lifetime.Dispose();
                _lifetime = new CancellationTokenSource();
            }

            if (_dispatcher.IsCompleted)
            {
                _dispatcher = Task.Run(DispatchLoopAsync);
            }
        }

        SetState(MqttConnectionState.Connecting, null, null);
        try
        {
            bool cleanStart = _everConnected ? ResumeCleanStart : _options.CleanStart;
            return await ConnectOnceAsync(cleanStart, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            SetState(MqttConnectionState.Disconnected, ex, null);
            throw;
        }
    }

    /// <summary>Reconnects resume the session: Clean Start 0 (v5), or the configured clean session flag (3.1.1).</summary>
    private bool ResumeCleanStart => _options.ProtocolVersion == MqttProtocolVersion.V311 && _options.CleanStart;

    private async Task<MqttConnectResult> ConnectOnceAsync(bool cleanStart, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
        timeout.CancelAfter(_options.ConnectTimeout);
        (Stream Stream, System.Net.Sockets.Socket? TcpSocket) transport;
        try
        {
            transport = await MqttTransport.ConnectAsync(_options.Endpoint, _options.Tls, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !_lifetime.IsCancellationRequested)
        {
            throw new TimeoutException($"Connecting to {_options.Endpoint} took longer than {_options.ConnectTimeout.TotalSeconds:0.#} s.");
        }

        TimeSpan keepAlive = TimeSpan.FromSeconds(Math.Floor(_options.KeepAlive.TotalSeconds));
        var limits = new ConnectionLimits
        {
            InboundMaximumPacketSize = _options.MaximumPacketSize,
            InboundTopicAliasMaximum = _options.ProtocolVersion == MqttProtocolVersion.V500 ? _options.TopicAliasMaximum : (ushort)0,
            InboundReceiveMaximum = _options.ProtocolVersion == MqttProtocolVersion.V500 ? _options.ReceiveMaximum : (ushort)0,
            StrictInboundReceiveMaximum = _options.DisconnectOnReceiveMaximumExceeded,
            KeepAlive = keepAlive,
            PingTimeout = _options.PingTimeout ?? keepAlive,
            OutboundQueueCapacity = 1024,
        };
        MqttTransport.ArmQuickAck(transport.TcpSocket);
        var connection = new MqttConnection(transport.Stream, transport.TcpSocket, MqttPacketCodec.Create(_options.ProtocolVersion), limits, _options.TimeProvider)
        {
            PacketSent = PacketSentProbe,
        };

        ConnAckPacket ack;
        try
        {
            ack = await connection.HandshakeAsync(BuildConnect(cleanStart, keepAlive), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested && !_lifetime.IsCancellationRequested)
            {
                throw new TimeoutException($"The broker at {_options.Endpoint} did not answer CONNECT within {_options.ConnectTimeout.TotalSeconds:0.#} s.");
            }

            if (_options.Tls is not null && ex is IOException or MqttConnectionLostException)
            {
                // With TLS 1.3 the server checks our certificate after the client side of the
                // handshake has finished, so a refusal shows up as a reset on the first write/read.
                throw new MqttTlsException($"The broker at {_options.Endpoint} closed the TLS connection before CONNACK ({ex.Message}). If it requires a client certificate, check that one is configured and signed by the broker's CA.", ex);
            }

            throw;
        }

        if (ack.ReasonCode >= MqttReasonCode.UnspecifiedError)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new MqttConnectException(ack.ReasonCode, ack.ReasonString, _options.Endpoint.ToString());
        }

        MqttConnectResult result = MqttConnectResult.From(ack);
        if (result.ServerKeepAlive is { } serverKeepAlive)
        {
            // MQTT 5 §3.2.2.3.14: the broker's keepalive replaces ours.
            limits.KeepAlive = TimeSpan.FromSeconds(serverKeepAlive);
            limits.PingTimeout = _options.PingTimeout ?? limits.KeepAlive;
        }

        limits.OutboundMaximumPacketSize = result.MaximumPacketSize ?? 0;
        limits.OutboundTopicAliasMaximum = _options.UseTopicAliases ? result.TopicAliasMaximum : (ushort)0;
        List<MqttTopicSubscription[]>? resubscribe = null;
        connection.Start(_owner);
        lock (_sync)
        {
            if (_disposed)
            {
                connection.Abort(new ObjectDisposedException(nameof(MqttClient)));
                throw new ObjectDisposedException(nameof(MqttClient));
            }

            if (_lifetime.IsCancellationRequested)
            {
                // DisconnectAsync ran while this (re)connect was in progress: do not resurrect.
                connection.Abort(new OperationCanceledException("disconnected while connecting"));
                throw new OperationCanceledException("The client was disconnected while connecting.");
            }

            _connection = connection;
            _lastConnect = result;
            _window.Limit = Math.Min(_options.MaxInflight, (int)result.ReceiveMaximum);
            if (!ack.SessionPresent)
            {
                _incomingQoS2.Clear();
                if (_everConnected && _subscriptions.Count > 0)
                {
                    resubscribe = [.. _subscriptions.Values.GroupBy(s => s.Identifier).Select(g => g.Select(s => s.Subscription).ToArray())];
                }
            }

            // Resend, in original order, before any new publish can reach this connection: we
            // hold the session lock, and new publishes are queued under it too.
            foreach (OutgoingPublish pending in _outgoing.Values.OrderBy(p => p.Sequence).ToList())
            {
                PublishPacket packet = pending.Packet!;
                if (pending.Released)
                {
                    if (ack.SessionPresent)
                    {
                        connection.TryEnqueue(new OutboundItem(new PublishResponsePacket(MqttPacketType.PubRel, packet.PacketId)));
                    }
                    else
                    {
                        // The broker had the message (PUBREC) and lost the session: delivery happened.
                        CompleteOutgoingLocked(packet.PacketId, new MqttPublishResult(MqttReasonCode.Success));
                    }

                    continue;
                }

                pending.Packet = packet with { Dup = ack.SessionPresent && pending.WasSent };
                pending.WasSent = true;
                connection.TryEnqueue(new OutboundItem(pending.Packet, pending));
            }

            _everConnected = true;
            PumpWaitingLocked();
        }

        _ = connection.Completion.ContinueWith(t => OnConnectionEnded(connection, t.Result), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        Volatile.Write(ref _connectedAt, _options.TimeProvider.GetTimestamp());
        SetState(MqttConnectionState.Connected, null, result);
        _connected.TrySetResult();
        if (resubscribe is not null)
        {
            _ = ResubscribeAsync(resubscribe);
        }

        return result;
    }

    private ConnectPacket BuildConnect(bool cleanStart, TimeSpan keepAlive)
    {
        MqttWill? will = null;
        if (_options.Will is { } w)
        {
            will = new MqttWill
            {
                Topic = w.Topic,
                Payload = w.Payload,
                QoS = w.QoS,
                Retain = w.Retain,
                WillDelayInterval = _options.WillDelayInterval,
                PayloadFormatIndicator = w.PayloadIsUtf8 ? (byte)1 : null,
                MessageExpiryInterval = w.MessageExpiryInterval,
                ContentType = w.ContentType,
                ResponseTopic = w.ResponseTopic,
                CorrelationData = w.CorrelationData,
                UserProperties = w.UserProperties,
            };
        }

        return new ConnectPacket
        {
            ClientId = _lastConnect?.AssignedClientIdentifier ?? _options.ClientId,
            CleanStart = cleanStart,
            KeepAliveSeconds = (ushort)keepAlive.TotalSeconds,
            Username = _options.Username,
            Password = _options.Password,
            Will = will,
            SessionExpiryInterval = _options.SessionExpiryInterval,
            ReceiveMaximum = _options.ReceiveMaximum,
            MaximumPacketSize = _options.MaximumPacketSize,
            TopicAliasMaximum = _options.TopicAliasMaximum,
            UserProperties = _options.ConnectUserProperties,
        };
    }

    private void OnConnectionEnded(MqttConnection connection, Exception? reason)
    {
        bool reconnect;
        lock (_sync)
        {
            if (!ReferenceEquals(_connection, connection))
            {
                _ = connection.DisposeAsync();
                return;
            }

            _connection = null;
            _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // SUBACK/UNSUBACK for a request on a dead connection will never come.
            foreach (TaskCompletionSource<MqttPacket> request in _requests.Values)
            {
                request.TrySetException(new MqttConnectionLostException($"The connection was lost before the broker answered. {reason?.Message}", reason));
            }

            _requests.Clear();
            reconnect = reason is not null && _options.AutoReconnect && !_disposed && !_lifetime.IsCancellationRequested;
            // A connection that dies right after CONNACK (broker kicks us, a poison message, a
            // session take-over fight) must not turn into a tight reconnect loop: the pipeline's
            // backoff only sees failed connects, so flapping gets its own backoff below.
            bool shortLived = _options.TimeProvider.GetElapsedTime(Volatile.Read(ref _connectedAt)) < StableConnection;
            _shortLivedConnections = shortLived ? _shortLivedConnections + 1 : 0;
        }

        _ = connection.DisposeAsync();
        if (reconnect)
        {
            SetState(MqttConnectionState.Reconnecting, reason, null);
            lock (_sync)
            {
                _reconnect = Task.Run(ReconnectLoopAsync);
            }
        }
        else
        {
            SetState(MqttConnectionState.Disconnected, reason, null);
        }
    }

    private static readonly TimeSpan StableConnection = TimeSpan.FromSeconds(10);

    /// <summary>Jittered exponential delay for the n-th consecutive short-lived connection (0 = none).</summary>
    internal TimeSpan FlappingDelay(int shortLived)
    {
        if (shortLived <= 1)
        {
            return TimeSpan.Zero;
        }

        double factor = Math.Pow(2, Math.Min(shortLived - 2, 16));
        double ms = Math.Min(_options.ReconnectMaxDelay.TotalMilliseconds, _options.ReconnectMinDelay.TotalMilliseconds * factor);
        return TimeSpan.FromMilliseconds(ms * (0.5 + Random.Shared.NextDouble()));
    }

    private async Task ReconnectLoopAsync()
    {
        CancellationToken stop = _lifetime.Token;
        try
        {
            int shortLived;
            lock (_sync)
            {
                shortLived = _shortLivedConnections;
            }

            TimeSpan delay = FlappingDelay(shortLived);
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _options.TimeProvider, stop).ConfigureAwait(false);
            }

            await _reconnectPipeline.ExecuteAsync(
                async ct =>
                {
                    try
                    {
                        await ConnectOnceAsync(ResumeCleanStart, ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        SetState(MqttConnectionState.Reconnecting, ex, null);
                        throw;
                    }
                },
                stop).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed or disconnected on purpose.
        }
        catch (Exception ex)
        {
            // A custom pipeline gave up: stay disconnected and say why.
            SetState(MqttConnectionState.Disconnected, ex, null);
        }
    }

    private async Task ResubscribeAsync(List<MqttTopicSubscription[]> groups)
    {
        foreach (MqttTopicSubscription[] group in groups)
        {
            try
            {
                uint id;
                lock (_sync)
                {
                    id = _subscriptions.TryGetValue(group[0].TopicFilter, out var entry) ? entry.Identifier : 0;
                }

                await SubscribeCoreAsync(group, id, [], register: false, _lifetime.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The connection dropped again or the broker refused; the next reconnect retries.
                SetState(State, ex, null);
            }
        }
    }

    // ---- publishing ----------------------------------------------------------------------------

    /// <summary>
    /// Publishes a message. QoS 0 completes when queued for the socket; QoS 1 on PUBACK; QoS 2 on
    /// PUBCOMP. A failure reason from the broker throws <see cref="MqttPublishException"/>.
    /// Offline, follows <see cref="MqttClientOptions.OfflinePolicy"/>. Cancelling stops waiting;
    /// a message already handed to the session is still delivered.
    /// </summary>
    public Task<MqttPublishResult> PublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!MqttTopic.IsValidTopicName(message.Topic))
        {
            throw new ArgumentException($"'{message.Topic}' is not a valid topic name (non-empty, no '+' or '#').", nameof(message));
        }

        if (message.QoS > MqttQualityOfService.ExactlyOnce)
        {
            throw new ArgumentOutOfRangeException(nameof(message), message.QoS, "QoS must be 0, 1 or 2.");
        }

        // Hot path: connected, QoS 1/2, no async wrapper around the session's completion task.
        MqttConnection? connection;
        lock (_sync)
        {
            connection = _connection;
        }

        return connection is null ? PublishWhenConnectedAsync(message, cancellationToken) : PublishOn(connection, message, cancellationToken);
    }

    private async Task<MqttPublishResult> PublishWhenConnectedAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        MqttConnection connection = await WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await PublishOn(connection, message, cancellationToken).ConfigureAwait(false);
    }

    private Task<MqttPublishResult> PublishOn(MqttConnection connection, MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        if (ConnectResult is { } limits)
        {
            if (message.QoS > limits.MaximumQoS)
            {
                return Task.FromException<MqttPublishResult>(new MqttPublishException(message.Topic, MqttReasonCode.QoSNotSupported, $"the broker supports at most QoS {(int)limits.MaximumQoS}"));
            }

            if (message.Retain && !limits.RetainAvailable)
            {
                return Task.FromException<MqttPublishResult>(new MqttPublishException(message.Topic, MqttReasonCode.RetainNotSupported, "the broker does not support retained messages"));
            }
        }

        if (message.QoS == MqttQualityOfService.AtMostOnce)
        {
            return PublishAtMostOnceAsync(connection, message, cancellationToken);
        }

        var pending = new OutgoingPublish(message);
        lock (_sync)
        {
            if (_disposed)
            {
                return Task.FromException<MqttPublishResult>(new ObjectDisposedException(nameof(MqttClient)));
            }

            // FIFO: a publish may take a free slot only if nobody is waiting before it, so
            // messages go out in call order (MQTT §4.6 ordering is per our send order).
            if (_waiting.Count == 0 && _window.TryTake())
            {
                StartLocked(pending);
            }
            else
            {
                _waiting.Enqueue(pending);
            }
        }

        // The completion already carries MqttPublishException for a failure reason code.
        return cancellationToken.CanBeCanceled ? WaitCancellableAsync(pending, cancellationToken) : pending.Completion.Task;
    }

    private async Task<MqttPublishResult> PublishAtMostOnceAsync(MqttConnection connection, MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        // Connection lost meanwhile: QoS 0 may be dropped (MQTT §4.3.1), but say so.
        if (!await connection.EnqueueThrottledAsync(new OutboundItem(message.ToPacket(0)), cancellationToken).ConfigureAwait(false))
        {
            throw new MqttClientNotConnectedException($"The connection to {_options.Endpoint} closed before the QoS 0 message to '{message.Topic}' was queued.");
        }

        return new MqttPublishResult(MqttReasonCode.Success);
    }

    private async Task<MqttPublishResult> WaitCancellableAsync(OutgoingPublish pending, CancellationToken cancellationToken)
    {
        try
        {
            return await pending.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            lock (_sync)
            {
                // Still waiting for a slot: withdraw it. Already sent: it stays in the session.
                if (pending.Packet is null)
                {
                    pending.Abandoned = true;
                }
            }

            throw;
        }
    }

    /// <summary>Gives the publish its packet id and session entry and queues it on the live connection.</summary>
    private void StartLocked(OutgoingPublish pending)
    {
        ushort id = AllocatePacketIdLocked();
        pending.Packet = pending.Message.ToPacket(id);
        pending.Sequence = ++_sequence;
        _outgoing.Add(id, pending);
        if (_connection is { } connection && connection.TryEnqueue(new OutboundItem(pending.Packet, pending)))
        {
            pending.WasSent = true;
        }
    }

    /// <summary>Moves waiting publishes into free in-flight slots, in call order.</summary>
    private void PumpWaitingLocked()
    {
        while (_waiting.TryPeek(out OutgoingPublish? next))
        {
            if (next.Abandoned)
            {
                _waiting.Dequeue();
                continue;
            }

            if (!_window.TryTake())
            {
                return;
            }

            _waiting.Dequeue();
            StartLocked(next);
        }
    }

    private async Task<MqttConnection> WaitForConnectionAsync(CancellationToken cancellationToken)
    {
        Task connected;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_connection is { } c)
            {
                return c;
            }

            if (_options.OfflinePolicy == MqttOfflinePublishPolicy.FailFast || _state is MqttConnectionState.Disconnected or MqttConnectionState.Closed)
            {
                throw new MqttClientNotConnectedException($"Not connected to {_options.Endpoint} (state {_state}); the offline policy is {_options.OfflinePolicy}.");
            }

            connected = _connected.Task;
        }

        try
        {
            await connected.WaitAsync(_options.OfflineWaitLimit, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new MqttClientNotConnectedException($"Still not connected to {_options.Endpoint} after waiting {_options.OfflineWaitLimit.TotalSeconds:0.#} s (offline wait limit).");
        }

        lock (_sync)
        {
            return _connection ?? throw new MqttClientNotConnectedException($"The connection to {_options.Endpoint} dropped again right after it was established.");
        }
    }

    private ushort AllocatePacketIdLocked()
    {
        // Ids in use: unacknowledged publishes and pending SUBSCRIBE/UNSUBSCRIBE (§2.2.1). At most
        // MaxInflight + requests are in use, so a free one is always found.
        for (int attempt = 0; attempt < ushort.MaxValue; attempt++)
        {
            _nextPacketId = _nextPacketId == ushort.MaxValue ? (ushort)1 : (ushort)(_nextPacketId + 1);
            if (!_outgoing.ContainsKey(_nextPacketId) && !_requests.ContainsKey(_nextPacketId))
            {
                return _nextPacketId;
            }
        }

        throw new InvalidOperationException("All 65,535 packet identifiers are in use.");
    }

    private void CompleteOutgoingLocked(ushort packetId, MqttPublishResult result)
    {
        if (_outgoing.Remove(packetId, out OutgoingPublish? pending))
        {
            _window.Release();
            if (result.ReasonCode >= MqttReasonCode.UnspecifiedError)
            {
                pending.Completion.TrySetException(new MqttPublishException(pending.Message.Topic, result.ReasonCode, result.ReasonString));
            }
            else
            {
                pending.Completion.TrySetResult(result);
            }

            PumpWaitingLocked();
        }
    }

    // ---- subscriptions ---------------------------------------------------------------------------

    /// <summary>
    /// Subscribes and returns the per-filter result. A refused filter (e.g. ACL, 0x87) throws
    /// <see cref="MqttSubscribeException"/>. Successful subscriptions are remembered and restored
    /// after a reconnect where the broker did not keep the session. <c>subscriptionIdentifier</c>
    /// is the MQTT 5 Subscription Identifier (1..268,435,455), 0 for none.
    /// </summary>
    public Task<MqttSubscribeResult> SubscribeAsync(IReadOnlyList<MqttTopicSubscription> subscriptions, uint subscriptionIdentifier = 0, IReadOnlyList<MqttUserProperty>? userProperties = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(subscriptions);
        if (subscriptions.Count == 0)
        {
            throw new ArgumentException("Give at least one topic filter.", nameof(subscriptions));
        }

        foreach (MqttTopicSubscription s in subscriptions)
        {
            if (!MqttTopic.IsValidTopicFilter(s.TopicFilter))
            {
                throw new ArgumentException($"'{s.TopicFilter}' is not a valid topic filter (MQTT 5 §4.7).", nameof(subscriptions));
            }

            if (s.NoLocal && MqttTopic.IsSharedSubscription(s.TopicFilter))
            {
                throw new ArgumentException($"No Local is not allowed on a shared subscription ('{s.TopicFilter}', MQTT 5 §3.8.3.1).", nameof(subscriptions));
            }
        }

        if (subscriptionIdentifier > VariableByteInteger.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(subscriptionIdentifier), subscriptionIdentifier, "Subscription identifiers go from 1 to 268,435,455.");
        }

        return SubscribeCoreAsync(subscriptions, subscriptionIdentifier, userProperties ?? [], register: true, cancellationToken);
    }

    /// <summary>Subscribes to one filter.</summary>
    public Task<MqttSubscribeResult> SubscribeAsync(string topicFilter, MqttQualityOfService qos = MqttQualityOfService.AtLeastOnce, CancellationToken cancellationToken = default) =>
        SubscribeAsync([new MqttTopicSubscription(topicFilter, qos)], 0, null, cancellationToken);

    private async Task<MqttSubscribeResult> SubscribeCoreAsync(IReadOnlyList<MqttTopicSubscription> subscriptions, uint identifier, IReadOnlyList<MqttUserProperty> userProperties, bool register, CancellationToken cancellationToken)
    {
        var ack = (SubAckPacket)await RequestAsync(id => new SubscribePacket { PacketId = id, Subscriptions = subscriptions, SubscriptionIdentifier = identifier, UserProperties = userProperties }, cancellationToken).ConfigureAwait(false);
        if (ack.ReasonCodes.Count != subscriptions.Count)
        {
            throw new MqttProtocolException(MqttReasonCode.ProtocolError, $"SUBACK has {ack.ReasonCodes.Count} reason codes for {subscriptions.Count} filters");
        }

        lock (_sync)
        {
            for (int i = 0; i < subscriptions.Count; i++)
            {
                if (ack.ReasonCodes[i] < MqttReasonCode.UnspecifiedError && register)
                {
                    _subscriptions[subscriptions[i].TopicFilter] = (subscriptions[i], identifier);
                }
            }
        }

        for (int i = 0; i < subscriptions.Count; i++)
        {
            if (ack.ReasonCodes[i] >= MqttReasonCode.UnspecifiedError)
            {
                throw new MqttSubscribeException(subscriptions[i].TopicFilter, ack.ReasonCodes[i], ack.ReasonString);
            }
        }

        return new MqttSubscribeResult(ack.ReasonCodes, ack.ReasonString);
    }

    /// <summary>Unsubscribes; the per-filter results (MQTT 5) are returned, empty for 3.1.1.</summary>
    public async Task<MqttSubscribeResult> UnsubscribeAsync(IReadOnlyList<string> topicFilters, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topicFilters);
        if (topicFilters.Count == 0 || topicFilters.Any(f => !MqttTopic.IsValidTopicFilter(f)))
        {
            throw new ArgumentException("Give one or more valid topic filters.", nameof(topicFilters));
        }

        lock (_sync)
        {
            foreach (string filter in topicFilters)
            {
                _subscriptions.Remove(filter);
            }
        }

        var ack = (UnsubAckPacket)await RequestAsync(id => new UnsubscribePacket { PacketId = id, TopicFilters = topicFilters }, cancellationToken).ConfigureAwait(false);
        return new MqttSubscribeResult(ack.ReasonCodes, ack.ReasonString);
    }

    private async Task<MqttPacket> RequestAsync(Func<ushort, MqttPacket> build, CancellationToken cancellationToken)
    {
        MqttConnection connection = await WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        var completion = new TaskCompletionSource<MqttPacket>(TaskCreationOptions.RunContinuationsAsynchronously);
        ushort id;
        lock (_sync)
        {
            id = AllocatePacketIdLocked();
            _requests.Add(id, completion);
        }

        try
        {
            if (!connection.TryEnqueue(new OutboundItem(build(id))))
            {
                throw new MqttClientNotConnectedException($"The connection to {_options.Endpoint} closed before the request was sent.");
            }

            return await completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_sync)
            {
                if (_requests.TryGetValue(id, out var current) && ReferenceEquals(current, completion))
                {
                    _requests.Remove(id);
                }
            }
        }
    }

    internal IDisposable AddInterceptor(Func<MqttApplicationMessage, bool> interceptor)
    {
        lock (_sync)
        {
            _interceptors.Add(interceptor);
        }

        return new Unregister(this, interceptor);
    }

    private sealed class Unregister(MqttClient client, Func<MqttApplicationMessage, bool> interceptor) : IDisposable
    {
        public void Dispose()
        {
            lock (client._sync)
            {
                client._interceptors.Remove(interceptor);
            }
        }
    }

    // ---- inbound -------------------------------------------------------------------------------

    private sealed class Owner(MqttClient client) : IMqttConnectionOwner
    {
        public ValueTask OnPacketAsync(MqttConnection connection, MqttPacket packet) => client.OnPacketAsync(connection, packet);

        public void OnReceiveMaximumOverrun() => Interlocked.Increment(ref client._receiveMaximumOverruns);

        public void OnSendFailed(OutboundItem item, Exception error)
        {
            if (item.Publish is { } pending)
            {
                lock (client._sync)
                {
                    if (client._outgoing.Remove(pending.Packet!.PacketId))
                    {
                        client._window.Release();
                        client.PumpWaitingLocked();
                    }
                }

                pending.Completion.TrySetException(error);
            }
            else if (item.Packet is SubscribePacket or UnsubscribePacket)
            {
                ushort id = item.Packet is SubscribePacket s ? s.PacketId : ((UnsubscribePacket)item.Packet).PacketId;
                lock (client._sync)
                {
                    if (client._requests.Remove(id, out var request))
                    {
                        request.TrySetException(error);
                    }
                }
            }
            else if (item.Packet is PublishPacket)
            {
                // QoS 0: the caller already returned; nothing to complete.
            }
        }
    }

    private async ValueTask OnPacketAsync(MqttConnection connection, MqttPacket packet)
    {
        switch (packet)
        {
            case PublishPacket publish:
                if (publish.QoS == MqttQualityOfService.ExactlyOnce)
                {
                    bool seen;
                    lock (_sync)
                    {
                        seen = !_incomingQoS2.Add(publish.PacketId);
                    }

                    if (seen)
                    {
                        // §4.3.3: already delivered, PUBREL pending: acknowledge again, do not redeliver.
                        connection.TryEnqueue(new OutboundItem(new PublishResponsePacket(MqttPacketType.PubRec, publish.PacketId)));
                        return;
                    }
                }

                // Waits when the dispatcher is behind (bounded memory, TCP back-pressure).
                await _inbound.Writer.WriteAsync((connection, publish)).ConfigureAwait(false);
                return;

            case PublishResponsePacket { Kind: MqttPacketType.PubAck } ack:
                lock (_sync)
                {
                    CompleteOutgoingLocked(ack.PacketId, new MqttPublishResult(ack.ReasonCode, ack.ReasonString));
                }

                return;

            case PublishResponsePacket { Kind: MqttPacketType.PubRec } rec:
                bool release = false;
                lock (_sync)
                {
                    if (rec.ReasonCode >= MqttReasonCode.UnspecifiedError)
                    {
                        CompleteOutgoingLocked(rec.PacketId, new MqttPublishResult(rec.ReasonCode, rec.ReasonString));
                    }
                    else if (_outgoing.TryGetValue(rec.PacketId, out OutgoingPublish? pending))
                    {
                        pending.Released = true;
                        release = true;
                    }
                }

                // §4.3.3: PUBREL answers PUBREC; "not found" when we no longer know the id.
                connection.TryEnqueue(new OutboundItem(new PublishResponsePacket(MqttPacketType.PubRel, rec.PacketId,
                    release || rec.ReasonCode >= MqttReasonCode.UnspecifiedError ? MqttReasonCode.Success : MqttReasonCode.PacketIdentifierNotFound)));
                return;

            case PublishResponsePacket { Kind: MqttPacketType.PubComp } comp:
                lock (_sync)
                {
                    CompleteOutgoingLocked(comp.PacketId, new MqttPublishResult(comp.ReasonCode, comp.ReasonString));
                }

                return;

            case PublishResponsePacket { Kind: MqttPacketType.PubRel } rel:
                bool known;
                lock (_sync)
                {
                    known = _incomingQoS2.Remove(rel.PacketId);
                }

                connection.TryEnqueue(new OutboundItem(new PublishResponsePacket(MqttPacketType.PubComp, rel.PacketId,
                    known || connection.Version == MqttProtocolVersion.V311 ? MqttReasonCode.Success : MqttReasonCode.PacketIdentifierNotFound)));
                return;

            case SubAckPacket { PacketId: var id }:
                CompleteRequest(id, packet);
                return;

            case UnsubAckPacket { PacketId: var id }:
                CompleteRequest(id, packet);
                return;

            default:
                throw MqttProtocolException.Violation($"a client does not accept {packet.Type} from the broker");
        }
    }

    private void CompleteRequest(ushort id, MqttPacket packet)
    {
        TaskCompletionSource<MqttPacket>? request;
        lock (_sync)
        {
            _requests.Remove(id, out request);
        }

        request?.TrySetResult(packet);
    }

    private async Task DispatchLoopAsync()
    {
        CancellationToken stop = _lifetime.Token;
        ChannelReader<(MqttConnection Connection, PublishPacket Packet)> reader = _inbound.Reader;
        var batch = new List<(MqttConnection Connection, PublishPacket Packet)>();
        try
        {
            while (await reader.WaitToReadAsync(stop).ConfigureAwait(false))
            {
                if (MessageBatchHandler is { } batchHandler)
                {
                    // Only what is queued already: never wait for more (an idle client keeps its latency).
                    int max = _options.MaxMessageBatchSize;
                    while (batch.Count < max && reader.TryRead(out var queued))
                    {
                        batch.Add(queued);
                    }

                    await DeliverBatchAsync(batch, batchHandler, stop).ConfigureAwait(false);
                    batch.Clear();
                    continue;
                }

                while (reader.TryRead(out var item))
                {
                    await DeliverAsync(item.Connection, item.Packet, stop).ConfigureAwait(false);
                    if (MessageBatchHandler is not null)
                    {
                        break; // switched to batch delivery while draining
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    /// <summary>True when an interceptor took the message (it then never reaches a handler).</summary>
    private bool Intercept(MqttApplicationMessage message)
    {
        Func<MqttApplicationMessage, bool>[] interceptors;
        lock (_sync)
        {
            if (_interceptors.Count == 0)
            {
                return false;
            }

            interceptors = [.. _interceptors];
        }

        bool intercepted = false;
        foreach (Func<MqttApplicationMessage, bool> interceptor in interceptors)
        {
            intercepted |= interceptor(message);
        }

        return intercepted;
    }

    private async Task DeliverAsync(MqttConnection connection, PublishPacket packet, CancellationToken stop)
    {
        MqttApplicationMessage message = MqttApplicationMessage.FromPacket(packet);
        try
        {
            if (!Intercept(message) && MessageHandler is { } handler)
            {
                await handler(message, stop).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
        {
            Refuse(connection, packet, message, ex);
            return;
        }

        Acknowledge(connection, packet);
    }

    /// <summary>
    /// One call of the batch handler for the queued <paramref name="items"/>; acks all of them after it
    /// returns, none of the handler's messages when it throws (see <see cref="MessageBatchHandler"/>).
    /// </summary>
    private async Task DeliverBatchAsync(List<(MqttConnection Connection, PublishPacket Packet)> items,
        Func<IReadOnlyList<MqttApplicationMessage>, CancellationToken, ValueTask> handler, CancellationToken stop)
    {
        var messages = new MqttApplicationMessage?[items.Count];
        var handed = new List<MqttApplicationMessage>(items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            MqttApplicationMessage message = MqttApplicationMessage.FromPacket(items[i].Packet);
            bool intercepted;
            try
            {
                intercepted = Intercept(message);
            }
            catch (Exception ex)
            {
                // Same as the single-message path: an interceptor failure leaves this message unacknowledged.
                Refuse(items[i].Connection, items[i].Packet, message, ex);
                items[i] = default;
                continue;
            }

            if (!intercepted)
            {
                messages[i] = message;
                handed.Add(message);
            }
        }

        if (handed.Count > 0)
        {
            try
            {
                await handler(handed, stop).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                for (int i = 0; i < items.Count; i++)
                {
                    if (messages[i] is { } refused)
                    {
                        Refuse(items[i].Connection, items[i].Packet, refused, ex);
                        items[i] = default;
                    }
                }
            }
        }

        // In arrival order (MQTT 5 §4.6: PUBACKs in the order the PUBLISHes came), each on its own connection.
        foreach ((MqttConnection connection, PublishPacket packet) in items)
        {
            if (connection is not null)
            {
                Acknowledge(connection, packet);
            }
        }
    }

    /// <summary>
    /// MQTT 3.1.1 has no Receive Maximum; brokers keep their own window towards a client (Mosquitto's
    /// <c>max_inflight_messages</c>, 20 by default), so that is where refusals start to stall a 3.1.1 connection.
    /// </summary>
    private const int V311AssumedBrokerWindow = 20;

    /// <summary>
    /// The handler failed: not acknowledged on purpose, so the broker redelivers on session resume. But the
    /// broker resends only on a NEW connection (MQTT 5 §4.4; Mosquitto never resends inside one), and each
    /// unacknowledged message holds one of its in-flight slots towards us: once refusals on a connection reach
    /// our Receive Maximum, the broker may send nothing more and the subscription stalls for good (what looked
    /// like a "QoS 1 ack stall" in docs/bench/outbox.md (c)). Then the connection is dropped so the client
    /// reconnects, resumes the session and gets the refused messages again.
    /// </summary>
    private void Refuse(MqttConnection connection, PublishPacket packet, MqttApplicationMessage message, Exception error)
    {
        // For QoS 2 the id must be forgotten, or the redelivery would be taken for a duplicate and dropped.
        if (packet.QoS == MqttQualityOfService.ExactlyOnce)
        {
            lock (_sync)
            {
                _incomingQoS2.Remove(packet.PacketId);
            }
        }

        MessageHandlerFailed?.Invoke(this, new MqttMessageHandlerFailedEventArgs(message, error));
        if (packet.QoS == MqttQualityOfService.AtMostOnce)
        {
            return; // nothing to acknowledge, no slot held
        }

        int window = connection.Limits.InboundReceiveMaximum > 0 ? connection.Limits.InboundReceiveMaximum : V311AssumedBrokerWindow;
        int refused = connection.CountRefusedInbound();
        if (refused == window)
        {
            connection.Abort(new MqttConnectionLostException(
                $"{refused} received messages whose handler failed are unacknowledged on this connection, which fills the broker's in-flight window towards us ({window}); " +
                "reconnecting so the session resumes and the broker redelivers them (MQTT 5 §4.4)."));
        }
    }

    /// <summary>
    /// Acknowledges on the connection the message arrived on; if that one is gone, the broker resends
    /// it on the resumed session (§4.4) and we deliver it again (at least once).
    /// </summary>
    private static void Acknowledge(MqttConnection connection, PublishPacket packet)
    {
        if (packet.QoS == MqttQualityOfService.AtLeastOnce)
        {
            connection.TryEnqueue(new OutboundItem(new PublishResponsePacket(MqttPacketType.PubAck, packet.PacketId)));
        }
        else if (packet.QoS == MqttQualityOfService.ExactlyOnce)
        {
            connection.TryEnqueue(new OutboundItem(new PublishResponsePacket(MqttPacketType.PubRec, packet.PacketId)));
        }
    }

    // ---- state and shutdown --------------------------------------------------------------------

    private void SetState(MqttConnectionState state, Exception? reason, MqttConnectResult? result)
    {
        lock (_sync)
        {
            if (_state == state && reason is null && result is null)
            {
                return; // nothing new to tell (e.g. DisposeAsync after DisconnectAsync)
            }

            _state = state;
        }

        ConnectionStateChanged?.Invoke(this, new MqttConnectionStateChangedEventArgs(state, reason, result));
    }

    /// <summary>
    /// Sends DISCONNECT (MQTT 5 reason code; 0x04 makes the broker publish the Will) after what is
    /// already queued, closes the link and stops reconnecting. Unacknowledged QoS 1/2 publishes
    /// stay in the session for a later <see cref="ConnectAsync"/>.
    /// </summary>
    public async Task DisconnectAsync(MqttReasonCode reasonCode = MqttReasonCode.Success, uint? sessionExpiryInterval = null, CancellationToken cancellationToken = default)
    {
        MqttConnection? connection;
        lock (_sync)
        {
            _lifetime.Cancel();
            connection = _connection;
            _connection = null;
            _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        try
        {
            await _reconnect.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Reconnect loop stopped.
        }

        if (connection is not null)
        {
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(TimeSpan.FromSeconds(5));
            await connection.CloseAsync(new DisconnectPacket { ReasonCode = reasonCode, SessionExpiryInterval = sessionExpiryInterval }, bound.Token).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        lock (_sync)
        {
            foreach (TaskCompletionSource<MqttPacket> request in _requests.Values)
            {
                request.TrySetException(new MqttClientNotConnectedException("The client disconnected before the broker answered."));
            }

            _requests.Clear();
        }

        SetState(MqttConnectionState.Disconnected, null, null);
    }

    /// <summary>Injected fault for tests: drop the network connection without DISCONNECT (the broker then publishes the Will).</summary>
    internal void AbortConnection()
    {
        MqttConnection? connection;
        lock (_sync)
        {
            connection = _connection;
        }

        connection?.Abort(new MqttConnectionLostException("connection aborted (injected fault)"));
    }

    /// <summary>Disconnects normally if connected, fails what is still pending, stops all loops.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }
        }

        await DisconnectAsync().ConfigureAwait(false);
        List<OutgoingPublish> pending;
        lock (_sync)
        {
            _disposed = true;
            pending = [.. _outgoing.Values, .. _waiting];
            _outgoing.Clear();
            _waiting.Clear();
        }

        foreach (OutgoingPublish p in pending)
        {
            p.Completion.TrySetException(new ObjectDisposedException(nameof(MqttClient), $"The client was disposed before '{p.Message.Topic}' was acknowledged."));
        }

        _inbound.Writer.TryComplete();
        await _dispatcher.ConfigureAwait(false);
        _lifetime.Dispose();
        SetState(MqttConnectionState.Closed, null, null);
    }
}

/// <summary>The application's message handler threw; the message was not acknowledged.</summary>
public sealed class MqttMessageHandlerFailedEventArgs(MqttApplicationMessage message, Exception exception) : EventArgs
{
    public MqttApplicationMessage Message { get; } = message;
    public Exception Exception { get; } = exception;
}
