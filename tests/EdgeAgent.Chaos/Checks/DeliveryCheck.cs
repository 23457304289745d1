using System.Text.Json;

namespace EdgeAgent.Chaos.Checks;

/// <summary>Per-boot accounting of the agent's events against the hub store.</summary>
public sealed record BootAccount(string BootId, long MaxSeq, long AtHub, long Pending, long Tombstoned, long WitnessedCommitted, IReadOnlyList<(long From, long To)> Missing);

/// <summary>The result of <see cref="DeliveryCheck.Run"/>.</summary>
/// <param name="Boots">One account per boot of the agent.</param>
/// <param name="RejectedAtHub">Messages the hub parked in <c>rejected_messages</c>, other than <paramref name="DriftNotMerged"/>.</param>
/// <param name="ForeignRowsAtHub">Hub rows of boots neither the witness nor the outbox knows.</param>
/// <param name="DriftNotMerged">
/// Drift messages the hub stored as events but parked because it could not merge their sketches: the
/// pipeline sends the KLL sketch base64 inside JSON (<c>data.kll</c>) while the hub's merge reads only a
/// binary <c>bin</c> (a known contract gap, noted with FleetSim in 7e53737). Nothing is lost, so it is a
/// figure, not a failure of the chaos checks.
/// </param>
public sealed record DeliveryReport(IReadOnlyList<BootAccount> Boots, long RejectedAtHub, long ForeignRowsAtHub, long DriftNotMerged = 0)
{
    public long AtHub => Boots.Sum(b => b.AtHub);
    public long Pending => Boots.Sum(b => b.Pending);
    public long Tombstoned => Boots.Sum(b => b.Tombstoned);
    public long Missing => Boots.Sum(b => b.Missing.Sum(m => m.To - m.From + 1));
    public long Committed => Boots.Sum(b => b.MaxSeq);

    /// <summary>Every problem as one operator-readable line (empty when the accounting balances).</summary>
    public IEnumerable<string> Problems()
    {
        foreach (var b in Boots)
        {
            if (b.Missing.Count > 0)
                yield return $"boot {b.BootId[..8]}: {b.Missing.Sum(m => m.To - m.From + 1)} committed event(s) neither at the hub, nor pending in the outbox, nor in a tombstone: seqs {string.Join(", ", b.Missing.Take(5).Select(m => m.From == m.To ? $"{m.From}" : $"{m.From}-{m.To}"))}";
            if (b.MaxSeq < b.WitnessedCommitted)
                yield return $"boot {b.BootId[..8]}: the agent reported {b.WitnessedCommitted} committed events but only seqs up to {b.MaxSeq} exist anywhere (tail lost)";
        }
        if (RejectedAtHub > 0) yield return $"the hub parked {RejectedAtHub} message(s) in rejected_messages (corrupted or malformed on the way)";
        if (ForeignRowsAtHub > 0) yield return $"the hub holds {ForeignRowsAtHub} event(s) of boots neither the witness nor the outbox knows";
    }

    public string Figures => $"committed={Committed} atHub={AtHub} pending={Pending} tombstoned={Tombstoned} missing={Missing} boots={Boots.Count}" +
        (DriftNotMerged > 0 ? $" driftParked={DriftNotMerged}" : "");
}

/// <summary>
/// "Every event the agent committed arrives at the hub exactly once": for each boot the witness saw
/// or the agent's outbox still lists (<c>boots</c> table), seqs 1..max are assigned only inside committed transactions (a
/// rolled-back group gives its seqs back; Outbox README "bootId and seq"), so each seq must be at the
/// hub (<c>telemetry_events</c>, primary key (device, boot, seq): stored once), or still pending in
/// the outbox, or inside a tombstone range the outbox wrote when it dropped events under disk
/// pressure (at the hub as <c>telemetry_gaps</c>, or a pending tombstone row). Max is at least what
/// the <see cref="CommitWitness"/> saw the agent report. Hub rows of unknown boots and rejected
/// messages are problems too. Run with the agent stopped (its outbox file is read directly).
/// </summary>
public static class DeliveryCheck
{
    private const int TombstoneKind = 1;

    /// <summary>The hub's reason text for drift windows stored as events but not merged (TelemetryIngestor).</summary>
    private const string DriftNotMergedReason = "%drift window(s) stored as events but not merged%";

    /// <summary>
    /// Waits up to <paramref name="catchUp"/> for the hub to store what is still missing (it may be draining what the
    /// broker holds for it); returns as soon as nothing is missing. The agent must be stopped.
    /// </summary>
    public static async Task AwaitCatchUpAsync(string hubStore, string outbox, string deviceId, CommitWitness witness, TimeSpan catchUp, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + catchUp;
        while (Run(hubStore, outbox, deviceId, witness.CommittedAtLeast).Missing > 0 && DateTime.UtcNow < deadline)
            await Task.Delay(500, ct).ConfigureAwait(false);
    }

    /// <summary>Runs the check (hub stopped, agent stopped), records every problem in <paramref name="run"/> and logs one line per boot.</summary>
    public static DeliveryReport Judge(Harness.ChaosRun run, string hubStore, string outbox, string deviceId, CommitWitness witness)
    {
        var report = Run(hubStore, outbox, deviceId, witness.CommittedAtLeast);
        foreach (var p in report.Problems()) run.Fail($"{deviceId}: {p}");
        foreach (var b in report.Boots)
            run.Log($"{deviceId} boot {b.BootId[..8]}: max seq {b.MaxSeq}, at hub {b.AtHub}, pending {b.Pending}, tombstoned {b.Tombstoned}, witnessed ≥ {b.WitnessedCommitted}, missing {b.Missing.Sum(m => m.To - m.From + 1)}");
        run.Log($"{deviceId} delivery: {report.Figures}");
        return report;
    }

    public static DeliveryReport Run(string hubStore, string outbox, string deviceId, IReadOnlyDictionary<string, long> witnessed)
    {
        // The outbox forgets a boot once all its events are delivered; every boot the witness saw counts too.
        var boots = new List<string>(witnessed.Keys);
        var pending = new Dictionary<string, HashSet<long>>();
        var tombstones = new Dictionary<string, List<(long, long)>>();
        using (var o = SqliteFiles.OpenReadOnly(outbox))
        {
            using (var cmd = o.CreateCommand())
            {
                cmd.CommandText = "SELECT boot_id FROM boots ORDER BY boot";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                    if (!boots.Contains(r.GetString(0))) boots.Add(r.GetString(0));
            }
            using (var cmd = o.CreateCommand())
            {
                cmd.CommandText = "SELECT b.boot_id, e.seq, e.kind, e.payload FROM events e JOIN boots b ON b.boot = e.boot";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    var boot = r.GetString(0);
                    Add(pending, boot, r.GetInt64(1));
                    if (r.GetInt32(2) == TombstoneKind)
                    {
                        var t = JsonDocument.Parse((byte[])r[3]).RootElement;
                        Add(tombstones, t.GetProperty("bootId").GetString()!, (t.GetProperty("fromSeq").GetInt64(), t.GetProperty("toSeq").GetInt64()));
                    }
                }
            }
        }

        var atHub = new Dictionary<string, HashSet<long>>();
        long rejected, driftNotMerged;
        using (var h = SqliteFiles.OpenReadOnly(hubStore))
        {
            using (var cmd = h.CreateCommand())
            {
                cmd.CommandText = "SELECT boot_id, seq FROM telemetry_events WHERE device_id = $d";
                cmd.Parameters.AddWithValue("$d", deviceId);
                using var r = cmd.ExecuteReader();
                while (r.Read()) Add(atHub, r.GetString(0), r.GetInt64(1));
            }
            using (var cmd = h.CreateCommand())
            {
                cmd.CommandText = "SELECT boot_id, from_seq, to_seq FROM telemetry_gaps WHERE device_id = $d";
                cmd.Parameters.AddWithValue("$d", deviceId);
                using var r = cmd.ExecuteReader();
                while (r.Read()) Add(tombstones, r.GetString(0), (r.GetInt64(1), r.GetInt64(2)));
            }
            driftNotMerged = SqliteFiles.Scalar(h, $"SELECT count(*) FROM rejected_messages WHERE reason LIKE '{DriftNotMergedReason}'");
            rejected = SqliteFiles.Scalar(h, "SELECT count(*) FROM rejected_messages") - driftNotMerged;
        }

        var accounts = new List<BootAccount>();
        foreach (var boot in boots)
        {
            var hub = atHub.GetValueOrDefault(boot) ?? [];
            var pend = pending.GetValueOrDefault(boot) ?? [];
            var ranges = tombstones.GetValueOrDefault(boot) ?? [];
            long witness = witnessed.GetValueOrDefault(boot);
            long max = Math.Max(hub.Count > 0 ? hub.Max() : 0, pend.Count > 0 ? pend.Max() : 0);
            foreach (var (_, to) in ranges) max = Math.Max(max, to);
            var missing = new List<(long, long)>();
            long tombstoned = 0;
            long? openFrom = null;
            for (long s = 1; s <= max; s++)
            {
                bool inTomb = !hub.Contains(s) && !pend.Contains(s) && ranges.Any(r => s >= r.Item1 && s <= r.Item2);
                if (inTomb) tombstoned++;
                bool ok = hub.Contains(s) || pend.Contains(s) || inTomb;
                if (!ok) openFrom ??= s;
                else if (openFrom is { } f) { missing.Add((f, s - 1)); openFrom = null; }
            }
            if (openFrom is { } last) missing.Add((last, max));
            accounts.Add(new BootAccount(boot, max, hub.Count, pend.Count(p => !hub.Contains(p)), tombstoned, witness, missing));
        }
        long foreign = atHub.Where(kv => !boots.Contains(kv.Key)).Sum(kv => kv.Value.Count);
        return new DeliveryReport(accounts, rejected, foreign, driftNotMerged);
    }

    private static void Add<T>(Dictionary<string, HashSet<T>> map, string key, T value)
    {
        if (!map.TryGetValue(key, out var set)) map[key] = set = [];
        set.Add(value);
    }

    private static void Add<T>(Dictionary<string, List<T>> map, string key, T value)
    {
        if (!map.TryGetValue(key, out var list)) map[key] = list = [];
        list.Add(value);
    }
}
