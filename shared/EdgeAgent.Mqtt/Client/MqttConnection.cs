using System.Buffers;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Mqtt.Wire;

namespace EdgeAgent.Mqtt.Client;

/// <summary>What the connection needs from the session that owns it.</summary>
internal interface IMqttConnectionOwner
{
    /// <summary>Called on the reader loop, in arrival order, for every packet except PINGRESP.</summary>
    ValueTask OnPacketAsync(MqttConnection connection, MqttPacket packet);

    /// <summary>The writer could not send <paramref name="item"/> (too large for the broker, not encodable).</summary>
    void OnSendFailed(OutboundItem item, Exception error);

    /// <summary>The broker sent a QoS 1/2 PUBLISH beyond our Receive Maximum (tolerated; counted).</summary>
    void OnReceiveMaximumOverrun();
}

/// <summary>A packet to send and, for a QoS&gt;0 PUBLISH, the session entry it belongs to.</summary>
internal readonly record struct OutboundItem(MqttPacket Packet, OutgoingPublish? Publish = null, bool Throttled = false);

/// <summary>Limits negotiated for one network connection (CONNECT/CONNACK).</summary>
internal sealed record ConnectionLimits
{
    /// <summary>Our Maximum Packet Size: larger inbound packets are refused from their header.</summary>
    public uint InboundMaximumPacketSize { get; init; }
    public ushort InboundTopicAliasMaximum { get; init; }
    /// <summary>Our Receive Maximum: unacknowledged QoS 1/2 PUBLISH the broker may have outstanding (0 = unchecked).</summary>
    public ushort InboundReceiveMaximum { get; init; }
    /// <summary>DISCONNECT 0x93 on an overrun of <see cref="InboundReceiveMaximum"/> instead of counting it.</summary>
    public bool StrictInboundReceiveMaximum { get; init; }
    /// <summary>The broker's Maximum Packet Size (0 = no limit).</summary>
    public uint OutboundMaximumPacketSize { get; set; }
    /// <summary>Aliases we may use towards the broker (0 = do not alias).</summary>
    public ushort OutboundTopicAliasMaximum { get; set; }
    public TimeSpan KeepAlive { get; set; }
    public TimeSpan PingTimeout { get; set; }
    /// <summary>Queued QoS 0 publishes before <c>EnqueueThrottledAsync</c> waits (bounded memory).</summary>
    public int OutboundQueueCapacity { get; init; } = 1024;
}

/// <summary>
/// One network connection: a single reader loop (framing, decoding, inbound topic aliases), one
/// flusher at a time on the write side (encodes queued packets into one pooled buffer and writes them
/// in batches, flushing once per batch rather than per packet), and the keepalive / dead-connection
/// detector. Owns the stream. <see cref="Completion"/> completes (never faults) with the reason the
/// connection ended; null means a local, orderly close.
/// </summary>
/// <remarks>
/// Write path: packets go into a FIFO; whoever queues into an idle connection becomes the flusher.
/// Packets queued by the reader loop itself (the next PUBLISH freed by a PUBACK, a PUBACK/PUBREL/PUBCOMP
/// answer) are flushed by the reader once it has handled every packet already received, before it reads
/// the socket again — so "PUBACK read → slot freed → next PUBLISH written" needs no thread hop (what
/// libmosquitto gets from its single network thread). The flush starts on the reader's thread and only
/// leaves it when the socket write does not complete at once, so reading never waits for writing.
/// Packets queued from other threads are flushed on the thread pool, as a writer loop would.
/// </remarks>
internal sealed class MqttConnection : IAsyncDisposable, IThreadPoolWorkItem
{
    private const int InitialReceiveBuffer = 16 * 1024;
    private const int WriteBatchBytes = 64 * 1024;

    private readonly Stream _stream;
    private readonly System.Net.Sockets.Socket? _tcpSocket;
    private readonly MqttPacketCodec _codec;
    private readonly TimeProvider _time;
    private readonly System.Collections.Concurrent.ConcurrentQueue<OutboundItem> _outbound = new();
    private readonly MqttBufferWriter _writeBuffer = new(WriteBatchBytes);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _throttle;
    private readonly TaskCompletionSource<Exception?> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<ushort, string> _inboundAliases = [];
    private readonly Dictionary<string, ushort> _outboundAliases = new(StringComparer.Ordinal);
    private IMqttConnectionOwner? _owner;
    private byte[] _receive = ArrayPool<byte>.Shared.Rent(InitialReceiveBuffer);
    private int _start;
    private int _end;
    private long _lastSent;
    private long _lastReceived;
    private long _pingSentAt;
    private int _pingOutstanding;
    private int _inboundUnacknowledged;
    private int _refusedInbound;
    private int _closing;
    private int _outboundCompleted;
    private int _flushState; // FlushIdle, FlushOwned, FlushDisposed
    private bool _readerOwesFlush;
    private Task? _loops;

    private const int FlushIdle = 0;
    private const int FlushOwned = 1;
    private const int FlushDisposed = 2;

    /// <summary>The connection whose reader loop is running synchronously on this thread (see the write path remarks).</summary>
    [ThreadStatic]
    private static MqttConnection? t_readerOf;

    public MqttConnection(Stream stream, System.Net.Sockets.Socket? tcpSocket, MqttPacketCodec codec, ConnectionLimits limits, TimeProvider time)
    {
        _stream = stream;
        _tcpSocket = tcpSocket;
        _codec = codec;
        Limits = limits;
        _time = time;
        _throttle = new SemaphoreSlim(limits.OutboundQueueCapacity);
        _lastSent = _lastReceived = time.GetTimestamp();
    }

    public ConnectionLimits Limits { get; }

    public MqttProtocolVersion Version => _codec.Version;

    public Task<Exception?> Completion => _completion.Task;

    public bool IsOpen => Volatile.Read(ref _closing) == 0;

    /// <summary>Counts one more received QoS 1/2 message left unacknowledged because its handler failed; returns the count. Thread-safe.</summary>
    public int CountRefusedInbound() => Interlocked.Increment(ref _refusedInbound);

    /// <summary>Test hook: every packet handed to the socket, in order (set before <see cref="Start"/>).</summary>
    internal Action<MqttPacket>? PacketSent { get; set; }

    /// <summary>Sends CONNECT and waits for CONNACK; nothing else may arrive first (MQTT 5 §3.2).</summary>
    public async Task<ConnAckPacket> HandshakeAsync(ConnectPacket connect, CancellationToken cancellationToken)
    {
        using (var writer = new MqttBufferWriter(512))
        {
            _codec.Encode(connect, writer);
            await _stream.WriteAsync(writer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        MqttPacket? first = await ReadPacketAsync(cancellationToken).ConfigureAwait(false);
        return first switch
        {
            ConnAckPacket ack => ack,
            null => throw new MqttConnectionLostException("The broker closed the connection before sending CONNACK (it may refuse this protocol version or TLS setting; check the broker log)."),
            _ => throw MqttProtocolException.Violation($"expected CONNACK, got {first.Type}"),
        };
    }

    /// <summary>Starts the reader, writer and keepalive loops.</summary>
    public void Start(IMqttConnectionOwner owner)
    {
        _owner = owner;
        _lastSent = _lastReceived = _time.GetTimestamp();
        _loops = RunAsync();
    }

    /// <summary>
    /// Queues a packet without waiting. Returns false when the connection is closing; the session
    /// then keeps QoS 1/2 state for the next connection. Used for session traffic, which is already
    /// bounded by the in-flight windows (ours and the broker's Receive Maximum).
    /// </summary>
    public bool TryEnqueue(OutboundItem item)
    {
        if (Volatile.Read(ref _outboundCompleted) != 0)
        {
            return false;
        }

        _outbound.Enqueue(item);
        if (Interlocked.CompareExchange(ref _flushState, FlushOwned, FlushIdle) == FlushIdle)
        {
            if (ReferenceEquals(t_readerOf, this))
            {
                // The reader flushes once it has handled everything it has already received.
                _readerOwesFlush = true;
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        // Closed right after the check: the packet may stay unsent, as a packet queued just before
        // a connection drops; the session resends QoS>0 on the next connection either way.
        return true;
    }

    void IThreadPoolWorkItem.Execute() => _ = FlushAsync();

    /// <summary>
    /// Queues a QoS 0 publish, waiting while <see cref="ConnectionLimits.OutboundQueueCapacity"/>
    /// of them are queued (QoS 0 has no acknowledgement to bound it otherwise). Returns false when
    /// the connection is closing.
    /// </summary>
    public async ValueTask<bool> EnqueueThrottledAsync(OutboundItem item, CancellationToken cancellationToken)
    {
        // Terminate() floods the semaphore, so waiters wake up when the connection closes
        // (no linked token source per waiting message on this hot path).
        try
        {
            await _throttle.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }

        if (IsOpen && TryEnqueue(item with { Throttled = true }))
        {
            return true;
        }

        try
        {
            _throttle.Release();
        }
        catch (ObjectDisposedException)
        {
            // Connection already disposed.
        }

        return false;
    }

    /// <summary>
    /// Orderly close: sends <paramref name="disconnect"/> after everything already queued, flushes,
    /// then closes the stream. Bounded by <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task CloseAsync(DisconnectPacket disconnect, CancellationToken cancellationToken)
    {
        if (_loops is not null && TryEnqueue(new OutboundItem(disconnect)))
        {
            Volatile.Write(ref _outboundCompleted, 1);
            // Whoever flushes last sees the completed queue drained and signals _writerDone.
            if (Interlocked.CompareExchange(ref _flushState, FlushOwned, FlushIdle) == FlushIdle)
            {
                _ = FlushAsync();
            }

            try
            {
                await _writerDone.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Could not flush in time: close anyway.
            }
        }

        Terminate(null);
    }

    private readonly TaskCompletionSource _writerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Ends the connection because of <paramref name="reason"/>. For a protocol violation in MQTT 5
    /// a DISCONNECT with its reason code is attempted first (§4.13.2).
    /// </summary>
    public void Abort(Exception reason, MqttReasonCode? disconnectReason = null)
    {
        if (disconnectReason is { } code && Version == MqttProtocolVersion.V500 && IsOpen)
        {
            _ = SendDisconnectThenTerminateAsync(code, reason);
            return;
        }

        Terminate(reason);
    }

    private async Task SendDisconnectThenTerminateAsync(MqttReasonCode code, Exception reason)
    {
        // Written directly (not queued): the writer loop may be the one that is stuck.
        try
        {
            using var writer = new MqttBufferWriter(64);
            using var codec = MqttPacketCodec.Create(Version);
            codec.Encode(new DisconnectPacket { ReasonCode = code, ReasonString = Truncate(reason.Message) }, writer);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _stream.WriteAsync(writer.WrittenMemory, timeout.Token).ConfigureAwait(false);
            await _stream.FlushAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or NotSupportedException or InvalidOperationException)
        {
            // The link is already gone; closing it is all that is left.
        }

        Terminate(reason);
    }

    private static string Truncate(string s) => s.Length > 200 ? s[..200] : s;

    private void Terminate(Exception? reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        Volatile.Write(ref _outboundCompleted, 1);
        _stop.Cancel();
        // Nothing is written after this point, whoever owns the write side.
        _writerDone.TrySetResult();
        _throttle.Release(1 << 30);
        try
        {
            _stream.Dispose();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Disposing a broken TLS stream may throw; the socket is closed either way.
        }

        _completion.TrySetResult(reason);
    }

    public async ValueTask DisposeAsync()
    {
        Terminate(null);
        if (_loops is not null)
        {
            await _loops.ConfigureAwait(false);
        }

        if (Interlocked.CompareExchange(ref _flushState, FlushDisposed, FlushIdle) == FlushIdle)
        {
            // No flusher can start any more; one still running (stuck on a dead socket) keeps the
            // buffer and it is left to the GC instead of going back to the pool under its feet.
            _writeBuffer.Dispose();
        }

        _codec.Dispose();
        byte[] buffer = Interlocked.Exchange(ref _receive, []);
        if (buffer.Length > 0 && _loops is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _stop.Dispose();
        _throttle.Dispose();
    }

    private async Task RunAsync()
    {
        Task reader = ReadLoopAsync();
        Task keepAlive = Limits.KeepAlive > TimeSpan.Zero ? KeepAliveLoopAsync() : Task.CompletedTask;
        await Task.WhenAll(reader, keepAlive).ConfigureAwait(false);
    }

    // ---- reading -------------------------------------------------------------------------------

    /// <summary>Returns the next decoded packet, or null when the peer closed the stream.</summary>
    private async ValueTask<MqttPacket?> ReadPacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadOnlySpan<byte> available = _receive.AsSpan(_start, _end - _start);
            if (MqttFrame.TryRead(available, Limits.InboundMaximumPacketSize, out byte header, out int headerLength, out int bodyLength))
            {
                MqttPacket packet = _codec.Decode(header, available.Slice(headerLength, bodyLength));
                _start += headerLength + bodyLength;
                if (_start == _end)
                {
                    _start = _end = 0;
                }

                return packet;
            }

            if (_start > 0)
            {
                _receive.AsSpan(_start, _end - _start).CopyTo(_receive);
                _end -= _start;
                _start = 0;
            }

            if (_end == _receive.Length)
            {
                // The header already passed the size check, so growing to the frame size is bounded.
                int needed = MqttFrame.TryGetTotalLength(_receive.AsSpan(0, _end), out int total) ? total : _receive.Length * 2;
                byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _receive.Length * 2));
                _receive.AsSpan(0, _end).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_receive);
                _receive = bigger;
            }

            // Everything received so far is handled: write what it queued before waiting for more.
            FlushIfOwed();
            int read = await _stream.ReadAsync(_receive.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return null;
            }

            _end += read;
            Volatile.Write(ref _lastReceived, _time.GetTimestamp());
            Transport.MqttTransport.ArmQuickAck(_tcpSocket);
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                MqttPacket? packet = await ReadPacketAsync(_stop.Token).ConfigureAwait(false);
                if (packet is null)
                {
                    Terminate(new MqttConnectionLostException("The broker closed the connection."));
                    return;
                }

                switch (packet)
                {
                    case PingRespPacket:
                        Volatile.Write(ref _pingOutstanding, 0);
                        continue;
                    case PublishPacket publish:
                        if (publish.QoS != MqttQualityOfService.AtMostOnce && Limits.InboundReceiveMaximum > 0
                            && Interlocked.Increment(ref _inboundUnacknowledged) > Limits.InboundReceiveMaximum)
                        {
                            // MQTT 5 §3.3.4: more unacknowledged QoS 1/2 than our Receive Maximum. Disconnecting
                            // is a MAY; by default the overrun is counted and the bounded inbound queue pushes
                            // back on the socket instead (see MqttClientOptions.DisconnectOnReceiveMaximumExceeded).
                            if (Limits.StrictInboundReceiveMaximum)
                                throw new MqttProtocolException(MqttReasonCode.ReceiveMaximumExceeded, $"the broker sent more than our Receive Maximum of {Limits.InboundReceiveMaximum} unacknowledged messages");
                            _owner!.OnReceiveMaximumOverrun();
                        }

                        if (publish.TopicAlias != 0)
                        {
                            packet = ResolveInboundAlias(publish);
                        }

                        break;
                    case DisconnectPacket disconnect:
                        Terminate(new MqttServerDisconnectException(disconnect.ReasonCode, disconnect.ReasonString, disconnect.ServerReference));
                        return;
                }

                // Packets queued synchronously by the owner are flushed by this loop (t_readerOf);
                // after an asynchronous pause the continuation may run on another thread, so the
                // marker covers only the synchronous part of the call.
                t_readerOf = this;
                ValueTask handled;
                try
                {
                    handled = _owner!.OnPacketAsync(this, packet);
                }
                finally
                {
                    t_readerOf = null;
                }

                if (!handled.IsCompleted)
                {
                    // The reader is about to wait for something other than the socket (the inbound
                    // queue is full): what it queued must not wait with it, or a message handler
                    // awaiting its own PUBACK would never see its PUBLISH written.
                    FlushIfOwed();
                }

                await handled.ConfigureAwait(false);
            }
        }
        catch (MqttProtocolException ex)
        {
            Abort(ex, ex.ReasonCode);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Closed locally.
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            Terminate(new MqttConnectionLostException($"Connection lost while reading: {ex.Message}", ex));
        }
        catch (Exception ex)
        {
            // A bug, not a network event: end the connection and report it as it is.
            Terminate(ex);
        }
    }

    /// <summary>MQTT 5 §3.3.2.3.4: a topic plus alias sets the mapping; an empty topic uses it.</summary>
    private PublishPacket ResolveInboundAlias(PublishPacket publish)
    {
        if (publish.TopicAlias > Limits.InboundTopicAliasMaximum)
        {
            throw new MqttProtocolException(MqttReasonCode.TopicAliasInvalid, $"Topic Alias {publish.TopicAlias} exceeds our Topic Alias Maximum {Limits.InboundTopicAliasMaximum}");
        }

        if (publish.Topic.Length > 0)
        {
            _inboundAliases[publish.TopicAlias] = publish.Topic;
            return publish;
        }

        if (!_inboundAliases.TryGetValue(publish.TopicAlias, out string? topic))
        {
            throw MqttProtocolException.Violation($"Topic Alias {publish.TopicAlias} used before it was set");
        }

        return publish with { Topic = topic };
    }

    // ---- writing -------------------------------------------------------------------------------

    /// <summary>
    /// Writes queued packets in batches while this caller owns the write side (<see cref="_flushState"/>),
    /// then gives ownership back; rechecks the queue after letting go, so a packet queued meanwhile is
    /// never left behind without a flusher.
    /// </summary>
    private async Task FlushAsync()
    {
        MqttBufferWriter buffer = _writeBuffer;
        try
        {
            while (true)
            {
                while (buffer.Length < WriteBatchBytes && _outbound.TryDequeue(out OutboundItem item))
                {
                    if (Volatile.Read(ref _closing) != 0)
                    {
                        ReleaseIfThrottled(item);
                        continue;
                    }

                    EncodeInto(item, buffer);
                }

                if (buffer.Length > 0)
                {
                    await _stream.WriteAsync(buffer.WrittenMemory, _stop.Token).ConfigureAwait(false);
                    await _stream.FlushAsync(_stop.Token).ConfigureAwait(false);
                    Volatile.Write(ref _lastSent, _time.GetTimestamp());
                    buffer.Clear(shrink: true);
                    continue;
                }

                if (Volatile.Read(ref _outboundCompleted) != 0 && _outbound.IsEmpty)
                {
                    _writerDone.TrySetResult();
                }

                Volatile.Write(ref _flushState, FlushIdle);
                if (_outbound.IsEmpty || Interlocked.CompareExchange(ref _flushState, FlushOwned, FlushIdle) != FlushIdle)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Closed locally.
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or System.Net.Sockets.SocketException)
        {
            Terminate(new MqttConnectionLostException($"Connection lost while writing: {ex.Message}", ex));
        }
        catch (Exception ex)
        {
            // A bug, not a network event: end the connection and report it as it is.
            Terminate(ex);
        }

        // The connection is over: this flusher keeps ownership for good (nothing is written any
        // more), releases throttled QoS 0 waiters and lets CloseAsync stop waiting.
        buffer.Reset();
        while (_outbound.TryDequeue(out OutboundItem rest))
        {
            ReleaseIfThrottled(rest);
        }

        _writerDone.TrySetResult();
    }

    /// <summary>Starts the flush the reader took on (see <see cref="TryEnqueue"/>); reader loop only.</summary>
    private void FlushIfOwed()
    {
        if (_readerOwesFlush)
        {
            _readerOwesFlush = false;
            _ = FlushAsync();
        }
    }

    private void ReleaseIfThrottled(OutboundItem item)
    {
        if (item.Throttled)
        {
            try
            {
                _throttle.Release();
            }
            catch (ObjectDisposedException)
            {
                // Connection already disposed.
            }
        }
    }

    private void EncodeInto(OutboundItem item, MqttBufferWriter buffer)
    {
        if (item.Throttled)
        {
            _throttle.Release();
        }

        int before = buffer.Length;
        MqttPacket packet = item.Packet;
        try
        {
            if (packet is PublishPacket publish && Limits.OutboundTopicAliasMaximum > 0)
            {
                packet = ApplyOutboundAlias(publish);
            }

            _codec.Encode(packet, buffer);
        }
        catch (ArgumentException ex)
        {
            buffer.Truncate(before);
            _owner?.OnSendFailed(item, ex);
            return;
        }

        int size = buffer.Length - before;
        if (Limits.OutboundMaximumPacketSize > 0 && (uint)size > Limits.OutboundMaximumPacketSize)
        {
            // MQTT 5 §3.1.2.11.4: never send a packet larger than the broker's Maximum Packet Size.
            buffer.Truncate(before);
            _owner?.OnSendFailed(item, new MqttPacketTooLargeException(size, Limits.OutboundMaximumPacketSize));
            return;
        }

        if (packet is PublishResponsePacket { Kind: MqttPacketType.PubAck or MqttPacketType.PubComp })
        {
            Interlocked.Decrement(ref _inboundUnacknowledged);
        }

        PacketSent?.Invoke(packet);
    }

    /// <summary>
    /// Outbound aliases (optional, MQTT 5 §3.3.2.3.4): the first PUBLISH to a topic carries topic +
    /// new alias, later ones only the alias. Aliases live and die with this connection, so a
    /// resent message after reconnect carries its full topic again.
    /// </summary>
    private PublishPacket ApplyOutboundAlias(PublishPacket publish)
    {
        if (_outboundAliases.TryGetValue(publish.Topic, out ushort alias))
        {
            return publish with { Topic = string.Empty, TopicAlias = alias };
        }

        if (_outboundAliases.Count < Limits.OutboundTopicAliasMaximum)
        {
            alias = (ushort)(_outboundAliases.Count + 1);
            _outboundAliases[publish.Topic] = alias;
            return publish with { TopicAlias = alias };
        }

        return publish;
    }

    // ---- keepalive -----------------------------------------------------------------------------

    /// <summary>
    /// MQTT §3.1.2.10: send PINGREQ when nothing was sent for a keepalive period. We also ping when
    /// nothing was received for a period, so a QoS 0 publisher notices a dead link; no PINGRESP
    /// within <see cref="ConnectionLimits.PingTimeout"/> closes the connection (the broker side
    /// gives up after 1.5× keepalive anyway).
    /// </summary>
    private async Task KeepAliveLoopAsync()
    {
        TimeSpan keepAlive = Limits.KeepAlive;
        TimeSpan tick = TimeSpan.FromTicks(Math.Clamp(keepAlive.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(5).Ticks));
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(tick, _time, _stop.Token).ConfigureAwait(false);
                long now = _time.GetTimestamp();
                if (Volatile.Read(ref _pingOutstanding) == 1)
                {
                    if (_time.GetElapsedTime(Volatile.Read(ref _pingSentAt), now) >= Limits.PingTimeout)
                    {
                        Terminate(new MqttKeepAliveTimeoutException(Limits.PingTimeout));
                        return;
                    }

                    continue;
                }

                if (_time.GetElapsedTime(Volatile.Read(ref _lastSent), now) >= keepAlive
                    || _time.GetElapsedTime(Volatile.Read(ref _lastReceived), now) >= keepAlive)
                {
                    Volatile.Write(ref _pingSentAt, now);
                    Volatile.Write(ref _pingOutstanding, 1);
                    // If the queue is full the ping cannot be queued; the timeout above still fires
                    // when the writer is stuck, which is exactly the dead link we want to detect.
                    TryEnqueue(new OutboundItem(PingReqPacket.Instance));
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Connection closed.
        }
    }
}
