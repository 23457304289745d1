using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using EdgeAgent.Outbox.Budget;
using EdgeAgent.Outbox.Drift;
using EdgeAgent.Outbox.Storage;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Outbox.Queue;

/// <summary>
/// Durable telemetry outbox (DESIGN.md §7): events are appended to SQLite (WAL, one writer
/// connection, group commit, <c>synchronous=FULL</c> by default), numbered (bootId, seq), kept within
/// a disk budget, and read/deleted by <see cref="Drain.OutboxDrainer"/> after the broker acknowledged.
/// </summary>
/// <remarks>
/// <para>Thread safety: all public members may be called concurrently. One writer task owns the
/// writer connection; appends, acknowledgements and flushes are queued to it and committed in groups.</para>
/// <para>Boot id: a new random 128-bit id per open (i.e. per process start). It is not derived from
/// the kernel boot id plus a persisted start counter because a lost or restored counter file (or a
/// quarantined database) would reuse ids and make the hub drop fresh events as duplicates; 122 random
/// bits cannot collide in practice. The kernel boot id is stored beside it for diagnostics.</para>
/// <para>Seq: starts at 1 for each boot, strictly increasing, assigned by the writer inside the
/// transaction that stores the row, so a seq is never visible before it is durable.</para>
/// </remarks>
public sealed class TelemetryOutbox : IAsyncDisposable
{
    private const string DroppableFilter = "stream IN (0, 3) AND kind = 0";

    private readonly OutboxOptions _options;
    private readonly DiskBudget _budget;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly IDriftMerger? _merger;
    private readonly string _path;
    private readonly SqliteConnection _writer;
    private readonly SqliteConnection _reader;
    private readonly Lock _readLock = new();
    private readonly Lock _leaseLock = new();
    private readonly int[] _leases = new int[4];
    private readonly Dictionary<long, string> _bootIds;
    private readonly long _boot;
    private int _epoch;          // writer-owned: epoch new rows get
    private volatile int _liveEpoch; // the committed current epoch, read by the drainer
    private readonly Channel<WorkItem> _queue;
    private readonly Task _writerTask;
    private readonly SqliteCommand _insert;      // merge_key NULL (almost every row)
    private readonly SqliteCommand _insertKeyed; // with $key (drift windows)
    private readonly SqliteParameter[] _insertParams;      // $m $seq $ts $payload
    private readonly SqliteParameter[] _insertKeyedParams; // $m $seq $ts $payload $key
    private readonly SqliteCommand _delete;
    private readonly SqliteParameter[] _deleteParams; // $id $boot $seq
    private readonly int _maxGroupBytes;
    private readonly List<PendingDrop> _pendingDrops = [];
    private long _dataCapBytes;     // lowered below the budget while the file system itself is full
    private long _dataCapResetAt;   // timestamp after which a lowered cap is tried at full size again
    private readonly string _ballastPath;
    private TaskCompletionSource _dataSignal = NewSignal();
    private int _rangeEvents;                              // events in ranges queued but not yet taken by the writer
    private TaskCompletionSource _rangeSpace = NewSignal(); // completed (and replaced) whenever the writer takes a range
    private long _seq;
    private long _appended, _dropped, _tombstones, _merged, _fullErrors, _rejected;
    private readonly AwaitingHubAcks _awaiting = new();
    private long _hubAcks, _hubAckedEvents;
    private readonly ConcurrentDictionary<string, long> _ignoredAcks = new();
    private int _disposed;

    private TelemetryOutbox(OutboxOptions options, DiskBudget budget, TimeProvider time, ILogger logger, IDriftMerger? merger,
        SqliteConnection writer, SqliteConnection reader, Dictionary<long, string> bootIds, long boot, long idBase, OutboxOpenReport report)
    {
        _options = options;
        _budget = budget;
        _time = time;
        _logger = logger;
        _merger = merger;
        _path = options.DatabasePath;
        _writer = writer;
        _reader = reader;
        _bootIds = bootIds;
        _boot = boot;
        BootId = bootIds[boot];
        OpenReport = report;
        _maxGroupBytes = Math.Max(4096, Math.Min(options.MaxGroupBytes, budget.MaxGroupBytes));
        _dataCapBytes = budget.DataBytes;
        _ballastPath = _path + ".reserve";
        EnsureBallast();

        // Microsoft.Data.Sqlite binds every parameter on every execution and looks its index up by
        // name each time, so parameters cost per row: the boot is a literal (constant for this
        // instance) and the small columns travel packed in one integer $m (stream | kind << 8 |
        // fmt << 16 | prio << 24 | epoch << 32) that SQLite unpacks. Same rows, four parameters
        // like a plain bulk insert instead of ten.
        var bootLiteral = boot.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // Row ids are idBase + seq: never reused within a process (SQLite's default rowid is
        // max(rowid) + 1, which hands out a deleted newest row's id again — and the drainer's
        // "sent up to id" floors for rows awaiting the hub's ack rely on ids only growing), and
        // above every row of earlier boots, so id order stays insertion order. A literal like the boot: no extra parameter.
        var idBaseLiteral = idBase.ToString(System.Globalization.CultureInfo.InvariantCulture);
        (_insert, _insertParams) = CreateInsert(writer, bootLiteral, idBaseLiteral, keyed: false);
        (_insertKeyed, _insertKeyedParams) = CreateInsert(writer, bootLiteral, idBaseLiteral, keyed: true);

        _delete = writer.CreateCommand();
        _delete.CommandText = "DELETE FROM events WHERE id = $id AND boot = $boot AND seq = $seq;";
        foreach (var name in new[] { "$id", "$boot", "$seq" })
            _delete.Parameters.Add(new SqliteParameter { ParameterName = name });
        _deleteParams = [.. _delete.Parameters.Cast<SqliteParameter>()];

        _queue = Channel.CreateBounded<WorkItem>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

        if (report.QuarantinedTo is not null)
        {
            // First event of the fresh database: say what happened (DESIGN.md §7).
            var notice = new OutboxNoticePayload(
                "outbox.quarantined",
                $"the outbox database was corrupt ({report.QuarantineReason}) and was moved to '{report.QuarantinedTo}'; " +
                "a new empty outbox was started. Events that were only in the old file have not been sent.",
                report.QuarantinedTo);
            var json = JsonSerializer.SerializeToUtf8Bytes(notice, TelemetryJsonContext.Default.OutboxNoticePayload);
            using var tx = _writer.BeginTransaction();
            InsertRow(tx, TelemetryStream.Telemetry, TelemetryEventKind.Notice, PayloadFormat.Json, 255, _time.GetUtcNow().ToUnixTimeMilliseconds(), null, json);
            tx.Commit();
            _appended++;
        }

        _writerTask = Task.Run(WriterLoopAsync);
    }

    /// <summary>Random id of this process's boot (32 lowercase hex digits).</summary>
    public string BootId { get; }

    /// <summary>What happened at open (quarantine, effective budget).</summary>
    public OutboxOpenReport OpenReport { get; }

    /// <summary>Effective disk budget in bytes (database + WAL).</summary>
    public long BudgetBytes => _budget.TotalBytes;

    public string DatabasePath => _path;

    /// <summary>
    /// Raised on the writer task after each commit that stored appended events. Handlers must be
    /// quick and must not throw (exceptions are logged and ignored) or call back into the outbox synchronously.
    /// </summary>
    public event Action<CommittedRange>? Committed;

    /// <summary>
    /// Opens (or creates) the outbox database. A corrupt database is quarantined and a fresh one
    /// started (see <see cref="OpenReport"/>); any other problem throws.
    /// </summary>
    /// <exception cref="OutboxConfigurationException">Invalid options (message names the setting).</exception>
    /// <exception cref="OutboxStorageException">The database cannot be opened (permissions, I/O, newer schema).</exception>
    public static Task<TelemetryOutbox> OpenAsync(OutboxOptions options, IDriftMerger? driftMerger = null,
        TimeProvider? time = null, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Task.Run(() => Open(options, driftMerger, time ?? TimeProvider.System, logger ?? NullLogger.Instance), cancellationToken);
    }

    private static TelemetryOutbox Open(OutboxOptions o, IDriftMerger? merger, TimeProvider time, ILogger logger)
    {
        Validate(o);
        var path = Path.GetFullPath(o.DatabasePath);
        var dir = Path.GetDirectoryName(path)!;
        if (!Directory.Exists(dir))
            throw new OutboxConfigurationException($"outbox directory '{dir}' does not exist; create it (systemd StateDirectory=edgeagent does) or fix Outbox:DatabasePath");
        var budget = DiskBudget.Create(o.BudgetBytes ?? DiskBudget.DefaultBytes(path), 4096);

        string? reason = null, quarantinedTo = null;
        SqliteConnection? writer = null;
        var existed = File.Exists(path);
        try
        {
            try
            {
                // Judge an existing file before a writer touches it: closing the last writer on a
                // damaged file would checkpoint its WAL into it and delete the WAL, destroying
                // evidence that quarantine is meant to keep.
                if (existed) reason = OutboxSchema.HeaderProblem(path);
                if (reason is null && existed && o.StartupCheck != StartupCheck.None)
                {
                    using var probe = OutboxSchema.Open(path, SqliteOpenMode.ReadOnly);
                    OutboxSchema.ConfigureReader(probe);
                    var problems = OutboxSchema.Check(probe, o.StartupCheck == StartupCheck.Full, 5);
                    if (problems.Count > 0) reason = $"{(o.StartupCheck == StartupCheck.Full ? "integrity_check" : "quick_check")}: {string.Join("; ", problems)}";
                }
                if (reason is null)
                {
                    writer = OutboxSchema.Open(path, SqliteOpenMode.ReadWriteCreate);
                    if (!existed) OutboxSchema.Exec(writer, "PRAGMA auto_vacuum=INCREMENTAL;");
                    OutboxSchema.ConfigureWriter(writer, o.Durability == OutboxDurability.Full, 1, 0);
                    OutboxSchema.Ensure(writer, path);
                }
            }
            catch (SqliteException ex) when (OutboxSchema.IsCorruption(ex))
            {
                reason = $"SQLite error {ex.SqliteErrorCode}: {ex.Message}";
            }

            if (reason is not null)
            {
                writer?.Dispose();
                writer = null;
                quarantinedTo = DatabaseQuarantine.Quarantine(path, time.GetUtcNow());
                logger.LogError("Outbox database {Path} is corrupt ({Reason}); moved to {QuarantinedTo} and starting a new one", path, reason, quarantinedTo);
                writer = OutboxSchema.Open(path, SqliteOpenMode.ReadWriteCreate);
                OutboxSchema.Exec(writer, "PRAGMA auto_vacuum=INCREMENTAL;");
                OutboxSchema.ConfigureWriter(writer, o.Durability == OutboxDurability.Full, 1, 0);
                OutboxSchema.Ensure(writer, path);
            }

            ArgumentNullException.ThrowIfNull(writer);
            var pageSize = (int)OutboxSchema.ScalarLong(writer, "PRAGMA page_size;");
            budget = DiskBudget.Create(budget.TotalBytes, pageSize);
            OutboxSchema.ConfigureWriter(writer, o.Durability == OutboxDurability.Full,
                Math.Max(16, budget.WalCheckpointBytes / pageSize / 2), budget.WalCheckpointBytes);
            OutboxSchema.Exec(writer, $"PRAGMA max_page_count={budget.DataPageLimit};");

            var bootBytes = RandomNumberGenerator.GetBytes(16);
            var bootId = TelemetryWire.FormatBootId(bootBytes);
            long boot;
            using (var tx = writer.BeginTransaction())
            using (var cmd = writer.CreateCommand())
            {
                cmd.Transaction = tx;
                cmd.CommandText = """
                    DELETE FROM boots WHERE boot NOT IN (SELECT DISTINCT boot FROM events);
                    INSERT INTO boots(boot_id, started_ms, kernel_boot_id) VALUES ($id, $ms, $kernel);
                    SELECT last_insert_rowid();
                    """;
                cmd.Parameters.AddWithValue("$id", bootId);
                cmd.Parameters.AddWithValue("$ms", time.GetUtcNow().ToUnixTimeMilliseconds());
                cmd.Parameters.AddWithValue("$kernel", (object?)ReadKernelBootId() ?? DBNull.Value);
                boot = Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
                tx.Commit();
            }
            var idBase = OutboxSchema.ScalarLong(writer, "SELECT coalesce(max(id), 0) FROM events;");
            var boots = new Dictionary<long, string>();
            using (var cmd = writer.CreateCommand())
            {
                cmd.CommandText = "SELECT boot, boot_id FROM boots;";
                using var r = cmd.ExecuteReader();
                while (r.Read()) boots[r.GetInt64(0)] = r.GetString(1);
            }

            var reader = OutboxSchema.Open(path, SqliteOpenMode.ReadWrite);
            OutboxSchema.ConfigureReader(reader);
            var report = new OutboxOpenReport(quarantinedTo, reason, budget.TotalBytes);
            var outbox = new TelemetryOutbox(o, budget, time, logger, merger, writer, reader, boots, boot, idBase, report);
            outbox.ShrinkIfOverBudget();
            logger.LogInformation("Outbox {Path} open: boot {BootId}, budget {Budget} bytes", path, bootId, budget.TotalBytes);
            return outbox;
        }
        catch (SqliteException ex)
        {
            writer?.Dispose();
            throw new OutboxStorageException(
                $"could not open outbox database '{path}': {ex.Message} (SQLite error {ex.SqliteErrorCode}). " +
                "Check that the directory is writable by the edgeagent user and the disk is healthy.", ex);
        }
        catch
        {
            writer?.Dispose();
            throw;
        }
    }

    private static void Validate(OutboxOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.DatabasePath)) throw new OutboxConfigurationException("Outbox:DatabasePath is empty");
        if (o.MaxGroupEvents < 1) throw new OutboxConfigurationException($"Outbox:MaxGroupEvents must be ≥ 1 (got {o.MaxGroupEvents})");
        if (o.MaxGroupBytes < 4096) throw new OutboxConfigurationException($"Outbox:MaxGroupBytes must be ≥ 4096 (got {o.MaxGroupBytes})");
        if (o.CommitWindow < TimeSpan.Zero || o.CommitWindow > TimeSpan.FromSeconds(10))
            throw new OutboxConfigurationException($"Outbox:CommitWindow must be between 0 and 10 s (got {o.CommitWindow})");
        if (o.MaxPayloadBytes is < 1 or > 16 * 1024 * 1024)
            throw new OutboxConfigurationException($"Outbox:MaxPayloadBytes must be 1..16 MiB (got {o.MaxPayloadBytes})");
        if (o.QueueCapacity < 1) throw new OutboxConfigurationException($"Outbox:QueueCapacity must be ≥ 1 (got {o.QueueCapacity})");
        if (o.DropBatchEvents < 1) throw new OutboxConfigurationException($"Outbox:DropBatchEvents must be ≥ 1 (got {o.DropBatchEvents})");
        if (!(o.DropLowWatermark > 0 && o.DropLowWatermark < o.DropHighWatermark && o.DropHighWatermark <= 1))
            throw new OutboxConfigurationException($"Outbox watermarks must satisfy 0 < DropLowWatermark < DropHighWatermark ≤ 1 (got {o.DropLowWatermark} / {o.DropHighWatermark})");
        if (o.DriftMergeFanIn < 2) throw new OutboxConfigurationException($"Outbox:DriftMergeFanIn must be ≥ 2 (got {o.DriftMergeFanIn})");
    }

    private static string? ReadKernelBootId()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // ---------------------------------------------------------------- appending

    /// <summary>
    /// Appends an event and completes when the group commit containing it returned (durable per
    /// <see cref="OutboxOptions.Durability"/>). Waits for queue space when the writer is behind.
    /// </summary>
    /// <exception cref="OutboxEventRejectedException">Bad payload; nothing stored.</exception>
    /// <exception cref="OutboxFullException">A drift/update event did not fit the budget.</exception>
    /// <exception cref="OutboxStorageException">SQLite failed for another reason (I/O error, ...).</exception>
    /// <exception cref="OperationCanceledException">Cancelled while waiting for queue space; the event was not queued. Cancelling after that does not unqueue it.</exception>
    public async ValueTask<OutboxReceipt> AppendAsync(OutboxEvent e, CancellationToken cancellationToken = default)
    {
        var tcs = new TaskCompletionSource<OutboxReceipt>(TaskCreationOptions.RunContinuationsAsynchronously);
        await QueueAsync(Prepare(e, tcs), cancellationToken).ConfigureAwait(false);
        return await tcs.Task.ConfigureAwait(false);
    }

    /// <summary>
    /// Queues an event without waiting for its commit (use <see cref="Committed"/> or
    /// <see cref="FlushAsync"/> to learn when it is durable). Waits only for queue space.
    /// A commit failure for such an event is counted and logged, not thrown.
    /// </summary>
    /// <exception cref="OutboxEventRejectedException">Bad payload; nothing queued.</exception>
    public ValueTask EnqueueAsync(OutboxEvent e, CancellationToken cancellationToken = default) =>
        QueueAsync(Prepare(e, null), cancellationToken);

    /// <summary>
    /// Queues many events with one validation pass, one queue hand-off and one writer wake-up (the
    /// fast path for producers that have several events at hand). Events keep their order and get
    /// strictly increasing seqs in the order given; nothing queued by others lands between them
    /// (a tombstone the outbox writes itself may).
    /// Waits only for queue space; commit failures are counted and logged, not thrown.
    /// </summary>
    /// <remarks>
    /// All or nothing at the door: every event is validated before any is queued, so one bad
    /// payload rejects the whole range (the message names its index) and nothing is stored.
    /// Back-pressure: ranges waiting for the writer hold at most <see cref="OutboxOptions.QueueCapacity"/>
    /// events between them (a single larger range is admitted when none is waiting). The events may be
    /// committed in more than one group (groups stay within <see cref="OutboxOptions.MaxGroupEvents"/>).
    /// </remarks>
    /// <exception cref="OutboxEventRejectedException">A bad event; nothing of the range was queued.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while waiting for queue space; nothing was queued.</exception>
    public async ValueTask EnqueueRangeAsync(ReadOnlyMemory<OutboxEvent> events, CancellationToken cancellationToken = default)
    {
        if (events.IsEmpty) return;
        await QueueRangeAsync(PrepareRange(events.Span, null), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Like <see cref="EnqueueRangeAsync"/>, and completes when every event of the range is
    /// committed (durable per <see cref="OutboxOptions.Durability"/>), with one receipt per event in
    /// the order given.
    /// </summary>
    /// <remarks>
    /// The range may span group commits. If any event fails (e.g. a drift/update event that does not
    /// fit: <see cref="OutboxFullException"/>) the task faults with the first failure once every event
    /// of the range is settled; the other events may have been stored (see <see cref="Committed"/>).
    /// </remarks>
    /// <exception cref="OutboxEventRejectedException">A bad event; nothing of the range was queued.</exception>
    /// <exception cref="OutboxFullException">A drift/update event of the range did not fit the budget.</exception>
    /// <exception cref="OutboxStorageException">SQLite failed for another reason.</exception>
    /// <exception cref="OperationCanceledException">Cancelled while waiting for queue space; nothing was queued.</exception>
    public async Task<OutboxReceipt[]> AppendRangeAsync(ReadOnlyMemory<OutboxEvent> events, CancellationToken cancellationToken = default)
    {
        if (events.IsEmpty) return [];
        var range = PrepareRange(events.Span, new TaskCompletionSource<OutboxReceipt[]>(TaskCreationOptions.RunContinuationsAsynchronously));
        await QueueRangeAsync(range, cancellationToken).ConfigureAwait(false);
        return await range.Done!.Task.ConfigureAwait(false);
    }

    private AppendRange PrepareRange(ReadOnlySpan<OutboxEvent> events, TaskCompletionSource<OutboxReceipt[]>? done)
    {
        var range = new AppendRange(new WorkItem[events.Length], done);
        var now = _time.GetUtcNow(); // one clock read per range
        for (var i = 0; i < events.Length; i++)
        {
            try
            {
                range.Items[i] = Prepare(events[i], null, now);
            }
            catch (OutboxEventRejectedException ex)
            {
                throw new OutboxEventRejectedException($"{ex.Message} (event {i} of a range of {events.Length}; nothing of the range was queued)", ex.InnerException);
            }
            range.Items[i].Range = range;
            range.Items[i].RangeIndex = i;
        }
        return range;
    }

    private async ValueTask QueueRangeAsync(AppendRange range, CancellationToken ct)
    {
        var n = range.Items.Length;
        // Admission by events, not by channel slots: a slot holding a range must not multiply the
        // memory the bounded queue allows.
        while (true)
        {
            var cur = Volatile.Read(ref _rangeEvents);
            if (cur == 0 || cur + n <= _options.QueueCapacity)
            {
                if (Interlocked.CompareExchange(ref _rangeEvents, cur + n, cur) == cur) break;
                continue;
            }
            var space = Volatile.Read(ref _rangeSpace);
            if (Volatile.Read(ref _rangeEvents) != cur) continue; // the writer took a range meanwhile
            await space.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        try
        {
            await QueueAsync(new WorkItem { Kind = WorkKind.AppendRange, Range = range }, ct).ConfigureAwait(false);
        }
        catch
        {
            ReleaseRangeEvents(n);
            throw;
        }
    }

    private void ReleaseRangeEvents(int n)
    {
        Interlocked.Add(ref _rangeEvents, -n);
        Interlocked.Exchange(ref _rangeSpace, NewSignal()).TrySetResult();
    }

    /// <summary>Completes when everything queued before the call is committed.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await QueueAsync(new WorkItem { Kind = WorkKind.Flush, Done = tcs }, cancellationToken).ConfigureAwait(false);
        await tcs.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask QueueAsync(WorkItem item, CancellationToken ct)
    {
        try
        {
            await _queue.Writer.WriteAsync(item, ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(TelemetryOutbox), "the outbox is shutting down");
        }
    }

    private WorkItem Prepare(in OutboxEvent e, TaskCompletionSource<OutboxReceipt>? tcs, DateTimeOffset? now = null)
    {
        if (!Enum.IsDefined(e.Stream)) Reject($"unknown stream {(int)e.Stream}");
        if (e.Payload.IsEmpty) Reject($"empty payload for stream {TelemetryStreams.WireName(e.Stream)}");
        if (e.Payload.Length > _options.MaxPayloadBytes)
            Reject($"payload of {e.Payload.Length} bytes for stream {TelemetryStreams.WireName(e.Stream)} exceeds Outbox:MaxPayloadBytes ({_options.MaxPayloadBytes})");
        if (e.Format == PayloadFormat.Json)
        {
            try
            {
                var reader = new Utf8JsonReader(e.Payload.Span);
                while (reader.Read()) { }
            }
            catch (JsonException ex)
            {
                Reject($"payload for stream {TelemetryStreams.WireName(e.Stream)} is not valid JSON ({ex.Message}); send it as PayloadFormat.Binary or fix the producer", ex);
            }
        }
        else if (e.Format != PayloadFormat.Binary)
        {
            Reject($"unknown payload format {(int)e.Format}");
        }
        if (e.MergeKey is { Length: > 256 }) Reject("merge key longer than 256 characters");
        return new WorkItem
        {
            Kind = WorkKind.Append,
            Stream = e.Stream,
            Format = e.Format,
            Priority = e.Priority,
            TsMs = (e.Timestamp ?? now ?? _time.GetUtcNow()).ToUnixTimeMilliseconds(),
            MergeKey = e.MergeKey,
            Payload = e.Payload.ToArray(),
            Receipt = tcs,
        };
    }

    private void Reject(string message, Exception? inner = null)
    {
        Interlocked.Increment(ref _rejected);
        throw new OutboxEventRejectedException($"outbox refused an event: {message}", inner);
    }

    // ---------------------------------------------------------------- drainer side

    /// <summary>
    /// Reads the oldest events of a lane of a stream: the live lane is the current epoch of the
    /// current boot; the backlog lane is the oldest earlier (boot, epoch) that still has events.
    /// </summary>
    internal OutboxBatch? ReadBatch(TelemetryStream stream, bool live, int maxEvents, int maxBytes, long maxSeqSpan)
    {
        lock (_readLock)
        {
            // Each statement is its own short read transaction: a long one would stop checkpoints
            // and let the WAL grow without bound (REFERENCE.md).
            long liveEpoch = _liveEpoch;
            if (live)
                return ReadLane(stream, _boot, liveEpoch, live, maxEvents, maxBytes, maxSeqSpan);
            // Backlog: the oldest (boot, epoch) that still has rows not yet handed to the broker.
            // Rows awaiting the hub's ack lie below their lane's floor, so a lane whose rows all
            // await an ack is passed over for the next one (dedup state is per epoch, so lanes
            // need not finish in order).
            long afterBoot = -1, afterEpoch = -1;
            for (var candidates = 0; candidates < 64; candidates++)
            {
                long boot, epoch;
                using (var find = _reader.CreateCommand())
                {
                    find.CommandText = """
                        SELECT boot, epoch FROM events
                        WHERE stream = $s AND (boot < $b OR (boot = $b AND epoch < $e)) AND (boot, epoch) > ($ab, $ae)
                        ORDER BY boot, epoch LIMIT 1;
                        """;
                    find.Parameters.AddWithValue("$s", (int)stream);
                    find.Parameters.AddWithValue("$b", _boot);
                    find.Parameters.AddWithValue("$e", liveEpoch);
                    find.Parameters.AddWithValue("$ab", afterBoot);
                    find.Parameters.AddWithValue("$ae", afterEpoch);
                    using var fr = find.ExecuteReader();
                    if (!fr.Read()) return null;
                    boot = fr.GetInt64(0);
                    epoch = fr.GetInt64(1);
                }
                if (ReadLane(stream, boot, epoch, live, maxEvents, maxBytes, maxSeqSpan) is { } batch) return batch;
                (afterBoot, afterEpoch) = (boot, epoch);
            }
            return null;
        }
    }

    private OutboxBatch? ReadLane(TelemetryStream stream, long boot, long epoch, bool live, int maxEvents, int maxBytes, long maxSeqSpan)
    {
        {
            using var cmd = _reader.CreateCommand();
            cmd.CommandText = """
                SELECT id, seq, kind, fmt, prio, ts_ms, merge_key, merged_from, merged_count, payload
                FROM events WHERE stream = $s AND boot = $b AND epoch = $e AND id > $after ORDER BY id LIMIT $n;
                """;
            cmd.Parameters.AddWithValue("$s", (int)stream);
            cmd.Parameters.AddWithValue("$b", boot);
            cmd.Parameters.AddWithValue("$e", epoch);
            cmd.Parameters.AddWithValue("$after", _awaiting.Floor(stream, boot, (int)epoch));
            cmd.Parameters.AddWithValue("$n", maxEvents);
            var rows = new List<RowRef>();
            var events = new List<WireEvent>();
            var bytes = 0;
            using (var r = cmd.ExecuteReader())
            {
                while (r.Read())
                {
                    var seq = r.GetInt64(1);
                    var payload = (byte[])r.GetValue(9);
                    if (events.Count > 0 && (bytes + payload.Length > maxBytes || seq - events[0].Seq >= maxSeqSpan)) break;
                    var kind = (TelemetryEventKind)r.GetInt64(2);
                    var isJson = kind != TelemetryEventKind.Data || r.GetInt64(3) == (long)PayloadFormat.Json;
                    long? mergedFrom = r.IsDBNull(7) ? null : r.GetInt64(7);
                    events.Add(new WireEvent(seq, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)), (byte)r.GetInt64(4), kind,
                        payload, isJson, r.IsDBNull(6) ? null : r.GetString(6), mergedFrom, mergedFrom is null ? 0 : (int)r.GetInt64(8)));
                    rows.Add(new RowRef(r.GetInt64(0), boot, seq));
                    bytes += payload.Length;
                }
            }
            if (events.Count == 0) return null;
            return new OutboxBatch(stream, _bootIds[boot], (int)epoch, live, [.. rows], [.. events], bytes);
        }
    }

    /// <summary>Deletes published rows (call only after PUBACK, in the mode without hub acks). Completes when the delete is committed.</summary>
    internal async Task DeletePublishedAsync(OutboxBatch batch, CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await QueueAsync(new WorkItem { Kind = WorkKind.Ack, Rows = batch.Rows, Done = tcs }, cancellationToken).ConfigureAwait(false);
        await tcs.Task.ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- end-to-end acknowledgement

    /// <summary>Read before <see cref="ReadBatch"/>; passed to <see cref="MarkAwaitingAck"/> so a requeue in between is noticed.</summary>
    internal long AckGeneration => _awaiting.Generation;

    /// <summary>
    /// After PUBACK, in hub-ack mode: the batch's rows stay stored and wait for the hub's ack; the lane
    /// reads on above them. Returns false when a requeue happened since <paramref name="generation"/>
    /// (the rows are simply read and sent again).
    /// </summary>
    internal bool MarkAwaitingAck(OutboxBatch batch, long generation) =>
        _awaiting.TryAdd(batch, batch.Rows[0].Boot, generation, _time.GetTimestamp());

    /// <summary>Batches of <paramref name="stream"/> that await the hub's ack (the drainer's send window).</summary>
    internal int AwaitingAckBatches(TelemetryStream stream) => _awaiting.Batches(stream);

    /// <summary>Go-back-N for lanes with a batch older than <paramref name="timeout"/> without hub ack. Returns the events requeued.</summary>
    internal long RequeueUnacknowledged(TimeSpan timeout)
    {
        var requeued = _awaiting.RequeueSentBefore(_time.GetTimestamp() - (long)(timeout.TotalSeconds * _time.TimestampFrequency));
        if (requeued > 0)
        {
            _logger.LogWarning("Outbox: {Count} events had no hub acknowledgement within {Timeout} s; sending them again", requeued, timeout.TotalSeconds);
            Interlocked.Exchange(ref _dataSignal, NewSignal()).TrySetResult();
        }
        return requeued;
    }

    private long _linkRequeues;

    /// <summary>
    /// How often <see cref="RequeueAwaitingAck"/> was called (each call means "the link to the broker came back"); the
    /// drainer watches it to shorten its ack timeout right after a reconnect (<see cref="Drain.DrainerOptions.ReconnectAckTimeout"/>).
    /// </summary>
    public long LinkRequeues => Interlocked.Read(ref _linkRequeues);

    /// <summary>
    /// Makes every row that awaits the hub's ack pending again, so the drainer re-sends it. Call it when
    /// the MQTT connection was re-established: a broker that restarted may have lost what it had
    /// acknowledged but not delivered (docs/CHAOS.md, bug 3). The drainer calls it itself when a publish
    /// succeeds after a failed one. Returns the events requeued. Thread-safe.
    /// </summary>
    public long RequeueAwaitingAck()
    {
        Interlocked.Increment(ref _linkRequeues);
        var requeued = _awaiting.RequeueAll();
        if (requeued > 0)
        {
            _logger.LogInformation("Outbox: {Count} events awaiting the hub's acknowledgement will be sent again", requeued);
            Interlocked.Exchange(ref _dataSignal, NewSignal()).TrySetResult();
        }
        return requeued;
    }

    /// <summary>
    /// Applies the hub's end-to-end ack: deletes exactly the acknowledged events (those of
    /// <see cref="TelemetryAck.Stream"/> under its boot with a seq in its ranges, whether they await an
    /// ack, were requeued, or were sent before a restart). Completes when the delete is committed.
    /// An ack for a boot this database does not know (already fully acknowledged) deletes nothing and
    /// is counted as ignored.
    /// </summary>
    /// <remarks>The ack must come from the hub (the broker ACL lets only the hub write
    /// <c>edgeagent/v1/+/ack</c>): whatever it names is deleted.</remarks>
    /// <exception cref="OutboxStorageException">The delete could not be committed; the rows stay and are sent again.</exception>
    public async Task<OutboxAckResult> AcknowledgeAsync(TelemetryAck ack, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ack);
        var stream = ack.StreamValue;
        long boot = -1;
        foreach (var (b, id) in _bootIds)
        {
            if (id == ack.BootId) boot = b;
        }
        if (boot < 0)
        {
            _ignoredAcks.AddOrUpdate("unknown-boot", 1, (_, n) => n + 1);
            return new OutboxAckResult(0, Applied: false);
        }
        var uncovered = new List<long[]>();
        var rows = _awaiting.Take(stream, boot, ack.Ranges, uncovered);
        var work = new HubAckWork(rows, boot, stream, [.. uncovered]);
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await QueueAsync(new WorkItem { Kind = WorkKind.HubAck, HubAck = work, Done = tcs }, cancellationToken).ConfigureAwait(false);
            await tcs.Task.ConfigureAwait(false);
        }
        catch
        {
            // The taken rows are no longer awaiting but still stored, below their lane's floor:
            // requeue so they are read and sent again instead of waiting for a restart.
            _awaiting.RequeueAll();
            throw;
        }
        Interlocked.Increment(ref _hubAcks);
        Interlocked.Add(ref _hubAckedEvents, work.Deleted);
        return new OutboxAckResult(work.Deleted, Applied: true);
    }

    /// <summary>
    /// Decodes an ack message as received on <c>edgeagent/v1/{deviceId}/ack</c> and applies it. A
    /// malformed message is ignored, logged and counted by reason (<see cref="OutboxStatistics.IgnoredAcks"/>);
    /// it never throws for bad bytes.
    /// </summary>
    /// <exception cref="OutboxStorageException">The delete could not be committed; the rows stay and are sent again.</exception>
    public Task<OutboxAckResult> AcknowledgeMessageAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        if (!TelemetryAckCodec.TryDecode(message.Span, out var ack, out var rejection))
        {
            _ignoredAcks.AddOrUpdate(TelemetryAckCodec.ReasonName(rejection!.Reason), 1, (_, n) => n + 1);
            _logger.LogWarning("Outbox ignored a hub acknowledgement: {Reason}", rejection.Message);
            return Task.FromResult(new OutboxAckResult(0, Applied: false));
        }
        return AcknowledgeAsync(ack!, cancellationToken);
    }

    /// <summary>
    /// Starts a new epoch of the current boot: events already stored become backlog, events appended
    /// from now on are live. The drainer calls this when the link comes back after an outage so that
    /// fresh events go out before the outage's backlog. Completes when committed.
    /// </summary>
    internal async Task StartNewEpochAsync(CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await QueueAsync(new WorkItem { Kind = WorkKind.NewEpoch, Done = tcs }, cancellationToken).ConfigureAwait(false);
        await tcs.Task.ConfigureAwait(false);
    }

    /// <summary>Current epoch of the current boot (0 at start).</summary>
    internal int LiveEpoch => _liveEpoch;

    /// <summary>Marks a stream as being read/published so drift merging leaves its rows alone.</summary>
    internal void Lease(TelemetryStream stream)
    {
        lock (_leaseLock) _leases[(int)stream]++;
    }

    internal void Release(TelemetryStream stream)
    {
        lock (_leaseLock) _leases[(int)stream]--;
    }

    /// <summary>Completes at the next commit that stored events (or when cancelled).</summary>
    internal Task WaitForDataAsync(CancellationToken cancellationToken) => Volatile.Read(ref _dataSignal).Task.WaitAsync(cancellationToken);

    // ---------------------------------------------------------------- diagnostics

    /// <summary>Runs <c>PRAGMA integrity_check</c> on a separate connection (for <c>edgeagent doctor</c>).</summary>
    public Task<OutboxIntegrityReport> CheckIntegrityAsync(CancellationToken cancellationToken = default) => Task.Run(() =>
    {
        using var c = OutboxSchema.Open(_path, SqliteOpenMode.ReadOnly);
        OutboxSchema.ConfigureReader(c);
        return new OutboxIntegrityReport(_path, OutboxSchema.Check(c, full: true));
    }, cancellationToken);

    /// <summary>Current depth, sizes and counters. Counts rows (one indexed scan): call it for a metrics scrape or the CLI, not per event.</summary>
    public OutboxStatistics GetStatistics()
    {
        var pending = new Dictionary<TelemetryStream, long>();
        foreach (var s in Enum.GetValues<TelemetryStream>()) pending[s] = 0;
        lock (_readLock)
        {
            using var cmd = _reader.CreateCommand();
            cmd.CommandText = "SELECT stream, COUNT(*) FROM events GROUP BY stream;";
            using var r = cmd.ExecuteReader();
            while (r.Read()) pending[(TelemetryStream)r.GetInt64(0)] = r.GetInt64(1);
        }
        var (awaiting, awaitingBatches) = _awaiting.Snapshot();
        return new OutboxStatistics(BootId, pending, FileLength(_path), FileLength(_path + "-wal"), _budget.TotalBytes,
            Interlocked.Read(ref _appended), Interlocked.Read(ref _dropped), Interlocked.Read(ref _tombstones),
            Interlocked.Read(ref _merged), Interlocked.Read(ref _fullErrors), Interlocked.Read(ref _rejected))
        {
            AwaitingAckEvents = awaiting,
            AwaitingAckBatches = awaitingBatches,
            HubAcks = Interlocked.Read(ref _hubAcks),
            HubAckedEvents = Interlocked.Read(ref _hubAckedEvents),
            RequeuedEvents = _awaiting.RequeuedEvents,
            IgnoredAcks = new Dictionary<string, long>(_ignoredAcks),
        };
    }

    /// <summary>Bytes the outbox occupies on disk now: database file + WAL file + reserve file; never more than <see cref="BudgetBytes"/>.</summary>
    public long DiskBytes => FileLength(_path) + FileLength(_path + "-wal") + FileLength(_ballastPath);

    private static long FileLength(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (FileNotFoundException)
        {
            return 0;
        }
    }

    // ---------------------------------------------------------------- writer task

    private async Task WriterLoopAsync()
    {
        var group = new List<WorkItem>(_options.MaxGroupEvents);
        var reader = _queue.Reader;
        WorkItem[]? carry = null; // rest of a range that did not fit the previous group; goes before anything queued later
        var carryAt = 0;
        while (carry is not null || await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            group.Clear();
            int appends = 0, bytes = 0;
            var urgent = false;
            var start = _time.GetTimestamp();
            while (true)
            {
                while (appends < _options.MaxGroupEvents && bytes < _maxGroupBytes)
                {
                    WorkItem w;
                    if (carry is not null)
                    {
                        w = carry[carryAt++];
                        if (carryAt == carry.Length) carry = null;
                    }
                    else if (!reader.TryRead(out w))
                    {
                        break;
                    }
                    else if (w.Kind == WorkKind.AppendRange)
                    {
                        carry = w.Range!.Items;
                        carryAt = 0;
                        ReleaseRangeEvents(carry.Length);
                        continue;
                    }
                    group.Add(w);
                    if (w.Kind == WorkKind.Append) { appends++; bytes += w.Payload!.Length; }
                    else urgent = true; // acks and flushes do not wait for the window
                }
                if (appends >= _options.MaxGroupEvents || bytes >= _maxGroupBytes || urgent || _options.CommitWindow == TimeSpan.Zero) break;
                if (carry is not null) continue;
                var remaining = _options.CommitWindow - _time.GetElapsedTime(start);
                if (remaining <= TimeSpan.Zero) break;
                var more = reader.WaitToReadAsync().AsTask();
                if (!more.IsCompleted && await Task.WhenAny(more, Task.Delay(remaining, _time)).ConfigureAwait(false) != more) break;
                if (!await more.ConfigureAwait(false)) break;
            }
            if (group.Count == 0) continue;
            try
            {
                ProcessGroup(group);
            }
            catch (Exception ex)
            {
                // Never let the writer task die: every later append would wait forever.
                _logger.LogError(ex, "Outbox writer failed on a group of {Count} items", group.Count);
                Fail(group, ex);
            }
        }
    }

    private void ProcessGroup(List<WorkItem> group)
    {
        var receipts = new (long Seq, bool Stored)[group.Count];
        var seqBefore = _seq;
        var epochBefore = _epoch;
        var committed = false;
        var memoryOnly = false;
        Exception? failure = null;
        for (var attempt = 0; attempt < 3 && !committed; attempt++)
        {
            try
            {
                CommitGroup(group, receipts, storeOnlyUndroppable: false);
                committed = true;
            }
            catch (SqliteException ex) when (OutboxSchema.IsFull(ex))
            {
                _seq = seqBefore;
                _epoch = epochBefore;
                Interlocked.Increment(ref _fullErrors);
                failure = ex;
                _logger.LogWarning("Outbox hit SQLITE_FULL ({Message}); making room (attempt {Attempt})", ex.Message, attempt + 1);
                if (!TryMakeRoomAfterFull(group)) break;
            }
            catch (SqliteException ex)
            {
                _seq = seqBefore;
                _epoch = epochBefore;
                failure = ex;
                break;
            }
        }
        if (!committed && failure is SqliteException full && OutboxSchema.IsFull(full))
        {
            // Still full after dropping what may be dropped: store nothing new, record droppable
            // events as dropped (their seqs go into a tombstone, written with the reserve pages),
            // refuse drift/update events.
            try
            {
                OutboxSchema.Exec(_writer, $"PRAGMA max_page_count={_budget.MaxPageCount};");
                CommitGroup(group, receipts, storeOnlyUndroppable: true);
                committed = true;
            }
            catch (SqliteException ex) when (OutboxSchema.IsFull(ex))
            {
                // Not even a tombstone fits (a full file system): keep the drop in memory and
                // write its tombstone with the next commit that succeeds.
                _seq = seqBefore;
                _epoch = epochBefore;
                for (var i = 0; i < group.Count; i++)
                {
                    var w = group[i];
                    if (w.Kind != WorkKind.Append) continue;
                    if (TelemetryStreams.IsDroppable(w.Stream))
                    {
                        var seq = ++_seq;
                        receipts[i] = (seq, false);
                        _pendingDrops.Add(new PendingDrop(w.Stream, _boot, seq, seq, 1));
                        Interlocked.Increment(ref _dropped);
                    }
                    else
                    {
                        receipts[i] = (0, false);
                    }
                }
                memoryOnly = true;
                failure = ex;
            }
            catch (SqliteException ex)
            {
                _seq = seqBefore;
                _epoch = epochBefore;
                failure = ex;
            }
            finally
            {
                TrySetPageLimit(_budget.DataPageLimit);
            }
        }
        if (memoryOnly)
        {
            // Appends are settled (dropped with a pending tombstone, or refused); acks and
            // flushes did not commit: fail them so the drainer retries.
            var ackFailure = new OutboxStorageException($"outbox could not commit to '{_path}': the file system is full", failure);
            foreach (var w in group)
            {
                if (w.Kind != WorkKind.Append) w.Done!.TrySetException(ackFailure);
            }
            Complete(group.Where(w => w.Kind == WorkKind.Append).ToList(),
                group.Select((w, i) => (w, i)).Where(x => x.w.Kind == WorkKind.Append).Select(x => receipts[x.i]).ToArray());
        }
        else if (committed)
        {
            try
            {
                EnforceBudget();
            }
            catch (SqliteException ex)
            {
                _logger.LogWarning("Outbox budget enforcement failed: {Message}", ex.Message);
            }
            Complete(group, receipts);
        }
        else
        {
            Fail(group, failure!);
        }
    }

    /// <summary>One transaction: pending tombstones, acknowledged deletes, appends.</summary>
    private void CommitGroup(List<WorkItem> group, (long Seq, bool Stored)[] receipts, bool storeOnlyUndroppable)
    {
        using var tx = _writer.BeginTransaction();
        _delete.Transaction = tx;
        foreach (var w in group)
        {
            if (w.Kind == WorkKind.HubAck)
            {
                DeleteHubAcknowledged(tx, w.HubAck!);
                continue;
            }
            if (w.Kind != WorkKind.Ack) continue;
            foreach (var row in w.Rows!)
            {
                _deleteParams[0].Value = row.Id;
                _deleteParams[1].Value = row.Boot;
                _deleteParams[2].Value = row.Seq;
                _delete.ExecuteNonQuery();
            }
        }
        var droppedNow = new List<PendingDrop>(_pendingDrops);
        var droppedBefore = _pendingDrops.Count;
        for (var i = 0; i < group.Count; i++)
        {
            var w = group[i];
            if (w.Kind == WorkKind.NewEpoch)
            {
                _epoch++; // appends queued after the request get the new epoch
                continue;
            }
            if (w.Kind != WorkKind.Append) continue;
            if (storeOnlyUndroppable)
            {
                if (TelemetryStreams.IsDroppable(w.Stream))
                {
                    var seq = ++_seq;
                    receipts[i] = (seq, false);
                    droppedNow.Add(new PendingDrop(w.Stream, _boot, seq, seq, 1));
                }
                else
                {
                    receipts[i] = (0, false);
                }
                continue;
            }
            var s = InsertRow(tx, w.Stream, TelemetryEventKind.Data, w.Format, w.Priority, w.TsMs, w.MergeKey, w.Payload!);
            receipts[i] = (s, true);
        }
        foreach (var tomb in Coalesce(droppedNow))
            InsertTombstone(tx, tomb, "outbox full (budget exhausted by events that are never dropped, or file system full); event was not stored");
        tx.Commit();
        _liveEpoch = _epoch;
        _pendingDrops.Clear();
        Interlocked.Add(ref _dropped, droppedNow.Count - droppedBefore);
    }

    private void DeleteHubAcknowledged(SqliteTransaction tx, HubAckWork ack)
    {
        var deleted = 0L; // counted per attempt: a group retried after SQLITE_FULL runs this again
        foreach (var row in ack.Rows)
        {
            _deleteParams[0].Value = row.Id;
            _deleteParams[1].Value = row.Boot;
            _deleteParams[2].Value = row.Seq;
            deleted += _delete.ExecuteNonQuery();
        }
        if (ack.UncoveredRanges.Length > 0)
        {
            // Rare path (an ack after a restart or requeue): by seq, which has no index of its own
            // (an extra index would cost every insert); the (stream, boot) prefix of events_by_stream narrows it.
            using var cmd = _writer.CreateCommand();
            cmd.Transaction = tx;
            cmd.CommandText = "DELETE FROM events WHERE stream = $s AND boot = $b AND seq BETWEEN $f AND $t;";
            var f = cmd.Parameters.Add(new SqliteParameter { ParameterName = "$f" });
            var t = cmd.Parameters.Add(new SqliteParameter { ParameterName = "$t" });
            cmd.Parameters.AddWithValue("$s", (int)ack.Stream);
            cmd.Parameters.AddWithValue("$b", ack.Boot);
            foreach (var r in ack.UncoveredRanges)
            {
                f.Value = r[0];
                t.Value = r[1];
                deleted += cmd.ExecuteNonQuery();
            }
        }
        ack.Deleted = deleted;
    }

    private long _boxedTsValue;
    private object? _boxedTs;
    private long _boxedMetaValue;
    private object? _boxedMeta;

    private static (SqliteCommand, SqliteParameter[]) CreateInsert(SqliteConnection writer, string bootLiteral, string idBaseLiteral, bool keyed)
    {
        var cmd = writer.CreateCommand();
        cmd.CommandText =
            "INSERT INTO events(id, stream, boot, seq, epoch, kind, fmt, prio, ts_ms, merge_key, merged_from, merged_count, payload) " +
            $"VALUES ({idBaseLiteral} + $seq, $m & 255, {bootLiteral}, $seq, $m >> 32, ($m >> 8) & 255, ($m >> 16) & 255, ($m >> 24) & 255, $ts, {(keyed ? "$key" : "NULL")}, NULL, NULL, $payload);";
        string[] names = keyed ? ["$m", "$seq", "$ts", "$payload", "$key"] : ["$m", "$seq", "$ts", "$payload"];
        var ps = names.Select(n => new SqliteParameter { ParameterName = n }).ToArray();
        foreach (var p in ps) cmd.Parameters.Add(p);
        return (cmd, ps);
    }

    private long InsertRow(SqliteTransaction tx, TelemetryStream stream, TelemetryEventKind kind, PayloadFormat fmt, byte prio, long tsMs, string? key, byte[] payload)
    {
        var seq = ++_seq;
        var cmd = key is null ? _insert : _insertKeyed;
        var p = key is null ? _insertParams : _insertKeyedParams;
        cmd.Transaction = tx;
        var meta = (long)(byte)stream | (long)(byte)kind << 8 | (long)(byte)fmt << 16 | (long)prio << 24 | (long)_epoch << 32;
        // Events of a burst mostly share their millisecond and always their meta: reuse the boxes.
        if (meta != _boxedMetaValue || _boxedMeta is null) { _boxedMetaValue = meta; _boxedMeta = meta; }
        if (tsMs != _boxedTsValue || _boxedTs is null) { _boxedTsValue = tsMs; _boxedTs = tsMs; }
        p[0].Value = _boxedMeta;
        p[1].Value = seq;
        p[2].Value = _boxedTs;
        p[3].Value = payload;
        if (key is not null) p[4].Value = key;
        cmd.ExecuteNonQuery();
        return seq;
    }

    private void InsertTombstone(SqliteTransaction tx, PendingDrop d, string reason)
    {
        var payload = new TombstonePayload(TelemetryStreams.WireName(d.Stream), _bootIds[d.Boot], d.FromSeq, d.ToSeq, d.Count, reason);
        var json = JsonSerializer.SerializeToUtf8Bytes(payload, TelemetryJsonContext.Default.TombstonePayload);
        // The tombstone travels in the stream it reports on, so it keeps its place in that order.
        InsertRow(tx, d.Stream, TelemetryEventKind.Tombstone, PayloadFormat.Json, 255, _time.GetUtcNow().ToUnixTimeMilliseconds(), null, json);
        Interlocked.Increment(ref _tombstones);
    }

    private static IEnumerable<PendingDrop> Coalesce(List<PendingDrop> drops)
    {
        foreach (var g in drops.GroupBy(d => (d.Stream, d.Boot)))
            yield return new PendingDrop(g.Key.Stream, g.Key.Boot, g.Min(d => d.FromSeq), g.Max(d => d.ToSeq), g.Sum(d => d.Count));
    }

    private void Complete(List<WorkItem> group, (long Seq, bool Stored)[] receipts)
    {
        long first = 0, last = 0;
        int dropped = 0, stored = 0;
        for (var i = 0; i < group.Count; i++)
        {
            var w = group[i];
            switch (w.Kind)
            {
                case WorkKind.Append:
                    var (seq, ok) = receipts[i];
                    if (seq == 0)
                    {
                        var ex = new OutboxFullException(
                            $"outbox budget ({_budget.TotalBytes} bytes) is full of {TelemetryStreams.WireName(w.Stream)}/drift/update events, which are never dropped; " +
                            "this event was not stored. Space returns as the drainer delivers events (check the MQTT link), or raise Outbox:BudgetBytes.");
                        if (w.Range is not null) w.Range.Settle(w.RangeIndex, default, ex, _logger);
                        else if (w.Receipt is null) _logger.LogError("{Message}", ex.Message);
                        w.Receipt?.TrySetException(ex);
                        continue;
                    }
                    if (first == 0) first = seq;
                    last = seq;
                    if (ok) stored++; else dropped++;
                    if (w.Range is not null) w.Range.Settle(w.RangeIndex, new OutboxReceipt(BootId, seq, ok), null, _logger);
                    else w.Receipt?.TrySetResult(new OutboxReceipt(BootId, seq, ok));
                    break;
            }
        }
        Interlocked.Add(ref _appended, stored);
        if (first != 0)
        {
            try
            {
                Committed?.Invoke(new CommittedRange(BootId, first, last, dropped));
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Outbox Committed handler threw");
            }
        }
        // Flushes, acks and epochs complete after Committed was raised: whoever awaited FlushAsync
        // has seen every Committed range of what was queued before it.
        foreach (var w in group)
        {
            if (w.Kind != WorkKind.Append) w.Done!.TrySetResult();
        }
        if (stored > 0 || _tombstonesWrittenSinceSignal || group.Exists(w => w.Kind == WorkKind.HubAck))
        {
            _tombstonesWrittenSinceSignal = false;
            Interlocked.Exchange(ref _dataSignal, NewSignal()).TrySetResult();
        }
    }

    private bool _tombstonesWrittenSinceSignal;

    private void Fail(List<WorkItem> group, Exception failure)
    {
        var message = failure is SqliteException se
            ? $"outbox could not commit to '{_path}': {se.Message} (SQLite error {se.SqliteErrorCode}); the events were not stored. Check disk health and free space."
            : $"outbox could not commit to '{_path}': {failure.Message}";
        _logger.LogError(failure, "Outbox commit failed; {Count} queued items failed", group.Count);
        foreach (var w in group)
        {
            var ex = new OutboxStorageException(message, failure);
            if (w.Range is not null) w.Range.Settle(w.RangeIndex, default, ex, null);
            else if (w.Receipt is not null) w.Receipt.TrySetException(ex);
            else w.Done?.TrySetException(ex);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ---------------------------------------------------------------- disk budget

    /// <summary>Bytes of pages in use (file pages minus free-list pages). Runs after every commit, so the commands are prepared once.</summary>
    private long UsedDatabaseBytes()
    {
        _pageCount ??= CreateWriterCommand("PRAGMA page_count;");
        _freelistCount ??= CreateWriterCommand("PRAGMA freelist_count;");
        var pages = Convert.ToInt64(_pageCount.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        var free = Convert.ToInt64(_freelistCount.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        return (pages - free) * _budget.PageSize;
    }

    private SqliteCommand CreateWriterCommand(string sql)
    {
        var cmd = _writer.CreateCommand();
        cmd.CommandText = sql;
        return cmd;
    }

    private SqliteCommand? _pageCount;
    private SqliteCommand? _freelistCount;

    private void TrySetPageLimit(long pages)
    {
        try
        {
            OutboxSchema.Exec(_writer, $"PRAGMA max_page_count={pages};");
        }
        catch (SqliteException ex)
        {
            _logger.LogWarning("Outbox could not set max_page_count: {Message}", ex.Message);
        }
    }

    /// <summary>After a commit: drop/merge when over the high watermark; keep the WAL within its allowance.</summary>
    private void EnforceBudget()
    {
        if (_dataCapBytes < _budget.DataBytes && _time.GetTimestamp() >= _dataCapResetAt)
        {
            _dataCapBytes = _budget.DataBytes; // maybe the file system has room again; SQLITE_FULL will tell
            _logger.LogInformation("Outbox tries its full budget again ({Budget} bytes)", _budget.TotalBytes);
        }
        if (UsedDatabaseBytes() > _dataCapBytes * _options.DropHighWatermark)
            MakeRoom((long)(_dataCapBytes * _options.DropLowWatermark));
        if (FileLength(_path + "-wal") > _budget.WalCheckpointBytes)
            OutboxSchema.Exec(_writer, "PRAGMA wal_checkpoint(TRUNCATE);");
        EnsureBallast();
    }

    /// <summary>Creates the reserve file if it is missing and the file system has room for it.</summary>
    private void EnsureBallast()
    {
        if (File.Exists(_ballastPath)) return;
        try
        {
            using var fs = new FileStream(_ballastPath + ".tmp", FileMode.Create, FileAccess.Write, FileShare.None);
            var zeros = new byte[64 * 1024]; // real blocks, not a sparse file
            for (long written = 0; written < _budget.BallastBytes; written += zeros.Length)
                fs.Write(zeros, 0, (int)Math.Min(zeros.Length, _budget.BallastBytes - written));
            fs.Flush(flushToDisk: true);
            fs.Close();
            File.Move(_ballastPath + ".tmp", _ballastPath);
        }
        catch (IOException)
        {
            // No room yet (the file system is still full); try again after the next commit.
            try { File.Delete(_ballastPath + ".tmp"); } catch (IOException) { }
        }
    }

    private bool TryMakeRoomAfterFull(List<WorkItem> group)
    {
        var fileSystemFull = UsedDatabaseBytes() < _budget.DataBytes - (4L * _budget.PageSize);
        if (fileSystemFull && File.Exists(_ballastPath))
        {
            // The checkpoint may have to grow the database file and the deletes need WAL space:
            // give the file system back the blocks we set aside for exactly this moment.
            File.Delete(_ballastPath);
            _logger.LogWarning("File system of {Path} is full: released the outbox reserve file", _path);
        }
        // Let the next transactions reuse the existing WAL file from its start (RESTART keeps the
        // file, so no new disk blocks are needed) before deleting rows.
        try
        {
            OutboxSchema.Exec(_writer, "PRAGMA wal_checkpoint(RESTART);");
        }
        catch (SqliteException ex)
        {
            _logger.LogWarning("Outbox checkpoint after SQLITE_FULL failed: {Message}", ex.Message);
        }
        var used = UsedDatabaseBytes();
        if (fileSystemFull)
        {
            // SQLITE_FULL below our own page limit: the file system itself is full. Shrink the
            // effective budget to what fits, for a while, so that dropping starts here.
            _dataCapBytes = Math.Min(_dataCapBytes, used);
            _dataCapResetAt = _time.GetTimestamp() + (long)(600 * _time.TimestampFrequency);
            _logger.LogWarning("File system of {Path} is full: outbox budget lowered to {Bytes} bytes for 10 minutes", _path, _dataCapBytes);
        }
        var groupBytes = group.Sum(w => (long)(w.Payload?.Length ?? 0)) * 2;
        var target = Math.Min((long)(_dataCapBytes * _options.DropLowWatermark), _dataCapBytes - groupBytes);
        try
        {
            var freed = MakeRoom(target);
            if (freed && fileSystemFull)
            {
                // Hand freed pages back to the file system (auto_vacuum=INCREMENTAL), so the
                // reserve file can be re-created and other programs get their space back.
                OutboxSchema.Exec(_writer, "PRAGMA incremental_vacuum;");
                OutboxSchema.Exec(_writer, "PRAGMA wal_checkpoint(TRUNCATE);");
            }
            return freed;
        }
        catch (SqliteException ex)
        {
            _logger.LogWarning("Outbox could not make room: {Message}", ex.Message);
            return false;
        }
    }

    /// <summary>Drops oldest droppable events in batches (with tombstones), then merges drift windows, until used ≤ target. Returns whether anything was freed.</summary>
    private bool MakeRoom(long targetBytes)
    {
        var progress = false;
        while (UsedDatabaseBytes() > targetBytes)
        {
            if (DropOldestDroppable() > 0 || MergeOldestDrift()) { progress = true; continue; }
            _logger.LogWarning("Outbox is over its budget target ({Target} bytes) and holds only events that are never dropped", targetBytes);
            break;
        }
        return progress;
    }

    private int DropOldestDroppable()
    {
        long maxId;
        using (var cmd = _writer.CreateCommand())
        {
            cmd.CommandText = $"SELECT max(id) FROM (SELECT id FROM events WHERE {DroppableFilter} ORDER BY id LIMIT $n);";
            cmd.Parameters.AddWithValue("$n", _options.DropBatchEvents);
            if (cmd.ExecuteScalar() is not long m) return 0;
            maxId = m;
        }
        var drops = new List<PendingDrop>();
        using var tx = _writer.BeginTransaction();
        using (var cmd = _writer.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = $"SELECT stream, boot, min(seq), max(seq), count(*) FROM events WHERE id <= $max AND {DroppableFilter} GROUP BY stream, boot;";
            cmd.Parameters.AddWithValue("$max", maxId);
            using var r = cmd.ExecuteReader();
            while (r.Read())
                drops.Add(new PendingDrop((TelemetryStream)r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), r.GetInt64(3), r.GetInt64(4)));
        }
        int deleted;
        using (var cmd = _writer.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = $"DELETE FROM events WHERE id <= $max AND {DroppableFilter};";
            cmd.Parameters.AddWithValue("$max", maxId);
            deleted = cmd.ExecuteNonQuery();
        }
        var seqBefore = _seq;
        try
        {
            foreach (var d in drops) InsertTombstone(tx, d, "disk budget exceeded; oldest events dropped");
            tx.Commit();
        }
        catch
        {
            _seq = seqBefore;
            throw;
        }
        _tombstonesWrittenSinceSignal = true;
        Interlocked.Add(ref _dropped, deleted);
        _logger.LogWarning("Outbox over budget: dropped {Count} oldest telemetry events ({Ranges})", deleted,
            string.Join(", ", drops.Select(d => $"{TelemetryStreams.WireName(d.Stream)} {d.FromSeq}..{d.ToSeq}")));
        return deleted;
    }

    private bool MergeOldestDrift()
    {
        if (_merger is null) return false;
        lock (_leaseLock)
        {
            // A drift batch being published must not change under the drainer's feet.
            if (_leases[(int)TelemetryStream.Drift] > 0) return false;
            // Nor one that awaits the hub's ack: merging would replace windows the hub may already
            // hold, and the ack would then delete the merged window.
            if (_awaiting.Batches(TelemetryStream.Drift) > 0) return false;
            long boot;
            string key;
            using (var cmd = _writer.CreateCommand())
            {
                cmd.CommandText = """
                    SELECT boot, merge_key FROM events
                    WHERE stream = 1 AND kind = 0 AND merge_key IS NOT NULL
                    GROUP BY boot, merge_key HAVING count(*) >= 2 ORDER BY min(id) LIMIT 1;
                    """;
                using var r = cmd.ExecuteReader();
                if (!r.Read()) return false;
                boot = r.GetInt64(0);
                key = r.GetString(1);
            }
            var ids = new List<long>();
            var windows = new List<DriftWindow>();
            long mergedFrom = long.MaxValue;
            using (var cmd = _writer.CreateCommand())
            {
                cmd.CommandText = """
                    SELECT id, seq, ts_ms, fmt, payload, merged_from, merged_count FROM events
                    WHERE stream = 1 AND kind = 0 AND boot = $b AND merge_key = $k ORDER BY id LIMIT $n;
                    """;
                cmd.Parameters.AddWithValue("$b", boot);
                cmd.Parameters.AddWithValue("$k", key);
                cmd.Parameters.AddWithValue("$n", _options.DriftMergeFanIn);
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    var seq = r.GetInt64(1);
                    ids.Add(r.GetInt64(0));
                    var count = r.IsDBNull(6) ? 1 : (int)r.GetInt64(6);
                    mergedFrom = Math.Min(mergedFrom, r.IsDBNull(5) ? seq : r.GetInt64(5));
                    windows.Add(new DriftWindow(seq, DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(2)), (byte[])r.GetValue(4), (PayloadFormat)r.GetInt64(3), count));
                }
            }
            byte[]? merged;
            try
            {
                merged = _merger.Merge(key, windows);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Drift merger failed for {Key}; windows left as they are", key);
                return false;
            }
            if (merged is null || merged.Length == 0) return false;
            using var tx = _writer.BeginTransaction();
            using (var cmd = _writer.CreateCommand())
            {
                cmd.Transaction = tx;
                // The merged window takes the place (id, seq) of the newest window it covers.
                cmd.CommandText = "UPDATE events SET payload = $p, merged_from = $from, merged_count = $count WHERE id = $id;";
                cmd.Parameters.AddWithValue("$p", merged);
                cmd.Parameters.AddWithValue("$from", mergedFrom);
                cmd.Parameters.AddWithValue("$count", windows.Sum(w => w.MergedCount));
                cmd.Parameters.AddWithValue("$id", ids[^1]);
                cmd.ExecuteNonQuery();
                cmd.Parameters.Clear();
                cmd.CommandText = "DELETE FROM events WHERE id = $id;";
                var p = cmd.Parameters.Add(new SqliteParameter { ParameterName = "$id" });
                foreach (var id in ids.Take(ids.Count - 1))
                {
                    p.Value = id;
                    cmd.ExecuteNonQuery();
                }
            }
            tx.Commit();
            Interlocked.Add(ref _merged, windows.Count - 1);
            _logger.LogInformation("Outbox merged {Count} drift windows of {Key} to stay within budget", windows.Count, key);
            return true;
        }
    }

    /// <summary>At open: a lowered budget may leave the file larger than allowed; drop and shrink it.</summary>
    private void ShrinkIfOverBudget()
    {
        if (FileLength(_path) <= _budget.DatabaseBytes) return;
        MakeRoom((long)(_budget.DataBytes * _options.DropLowWatermark));
        OutboxSchema.Exec(_writer, "PRAGMA incremental_vacuum;");
        OutboxSchema.Exec(_writer, "PRAGMA wal_checkpoint(TRUNCATE);");
        if (FileLength(_path) > _budget.DatabaseBytes)
            _logger.LogWarning("Outbox file {Path} ({Size} bytes) is still larger than its budget ({Budget} bytes) after dropping what may be dropped",
                _path, FileLength(_path), _budget.DatabaseBytes);
    }

    // ---------------------------------------------------------------- shutdown

    /// <summary>
    /// Commits everything queued, checkpoints, closes the connections. Idempotent. Stop any
    /// <see cref="Drain.OutboxDrainer"/> using this outbox first (cancel its <c>RunAsync</c> and await it).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        await _writerTask.ConfigureAwait(false);
        try
        {
            OutboxSchema.Exec(_writer, "PRAGMA wal_checkpoint(TRUNCATE);");
        }
        catch (SqliteException ex)
        {
            _logger.LogWarning("Outbox final checkpoint failed: {Message}", ex.Message);
        }
        _insert.Dispose();
        _insertKeyed.Dispose();
        _delete.Dispose();
        _pageCount?.Dispose();
        _freelistCount?.Dispose();
        lock (_readLock) _reader.Dispose();
        _writer.Dispose();
        _dataSignal.TrySetResult();
    }

    private enum WorkKind : byte { Append, Ack, Flush, NewEpoch, AppendRange, HubAck }

    /// <summary>A hub ack on its way to the writer: exact rows (awaiting batches) and ranges to delete by seq.</summary>
    private sealed class HubAckWork(RowRef[] rows, long boot, TelemetryStream stream, long[][] uncoveredRanges)
    {
        public readonly RowRef[] Rows = rows;
        public readonly long Boot = boot;
        public readonly TelemetryStream Stream = stream;
        public readonly long[][] UncoveredRanges = uncoveredRanges;
        public long Deleted; // written by the writer task before Done completes
    }

    /// <summary>Events queued by one range call; settled event by event on the writer task.</summary>
    private sealed class AppendRange(WorkItem[] items, TaskCompletionSource<OutboxReceipt[]>? done)
    {
        public readonly WorkItem[] Items = items;
        public readonly TaskCompletionSource<OutboxReceipt[]>? Done = done;
        private readonly OutboxReceipt[]? _receipts = done is null ? null : new OutboxReceipt[items.Length];
        private int _unsettled = items.Length;
        private Exception? _failure;

        // Only the writer task calls this (Complete/Fail), so no locking.
        public void Settle(int index, OutboxReceipt receipt, Exception? failure, ILogger? logger)
        {
            if (failure is not null)
            {
                _failure ??= failure;
                if (Done is null && logger is not null) logger.LogError("{Message}", failure.Message);
            }
            else if (_receipts is not null)
            {
                _receipts[index] = receipt;
            }
            if (--_unsettled > 0 || Done is null) return;
            if (_failure is not null) Done.TrySetException(_failure);
            else Done.TrySetResult(_receipts!);
        }
    }

    private struct WorkItem
    {
        public WorkKind Kind;
        public TelemetryStream Stream;
        public PayloadFormat Format;
        public byte Priority;
        public long TsMs;
        public string? MergeKey;
        public byte[]? Payload;
        public TaskCompletionSource<OutboxReceipt>? Receipt;
        public RowRef[]? Rows;
        public TaskCompletionSource? Done;
        public AppendRange? Range;
        public int RangeIndex;
        public HubAckWork? HubAck;
    }

    private readonly record struct PendingDrop(TelemetryStream Stream, long Boot, long FromSeq, long ToSeq, long Count);
}
