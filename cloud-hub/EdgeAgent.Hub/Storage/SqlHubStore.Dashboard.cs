using System.Data.Common;
using System.Globalization;

namespace EdgeAgent.Hub.Storage;

/// <summary>
/// Dashboard aggregates. Portable SQL except where JSON is read out of <c>telemetry_events.data</c>:
/// SQLite's JSON1 functions and PostgreSQL's <c>jsonb</c> operators differ, so <see cref="JsonText"/>
/// and <see cref="JsonNumber"/> write the dialect's expression (non-numbers read as NULL in both).
/// </summary>
public abstract partial class SqlHubStore
{
    public async Task<FleetCounts> CountFleetAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var states = await QueryAsync(c, """
            SELECT CASE WHEN revoked_at IS NOT NULL THEN 'revoked' WHEN online IS NULL THEN 'unknown'
                        WHEN online <> 0 THEN 'online' ELSE 'offline' END AS state, COUNT(*)
            FROM devices GROUP BY 1
            """, ReadKeyCount, ct);
        long State(string s) => states.FirstOrDefault(k => k.Key == s)?.Count ?? 0;
        // Revoked devices no longer run anything we vouch for: they are left out of the breakdowns.
        async Task<IReadOnlyList<KeyCount>> By(string column) => await QueryAsync(c,
            $"SELECT {column}, COUNT(*) FROM devices WHERE revoked_at IS NULL GROUP BY {column} ORDER BY COUNT(*) DESC, {column}", ReadKeyCount, ct);
        return new FleetCounts(states.Sum(s => s.Count), State("online"), State("offline"), State("unknown"), State("revoked"),
            await By("agent_version"), await By("active_model"), await By("health"));
    }

    public async Task<IngestCounts> CountIngestAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var streams = await QueryAsync(c, "SELECT stream, COUNT(*) FROM telemetry_events GROUP BY stream ORDER BY stream", ReadKeyCount, ct);
        long rejected = Convert.ToInt64(await ScalarAsync(c, null, "SELECT COUNT(*) FROM rejected_messages", ct), CultureInfo.InvariantCulture);
        var gaps = await QueryAsync(c, "SELECT COUNT(*), COALESCE(SUM(count), 0) FROM telemetry_gaps", r => (r.GetInt64(0), Convert.ToInt64(r.GetValue(1), CultureInfo.InvariantCulture)), ct);
        var cases = await QueryAsync(c, "SELECT CASE WHEN error IS NULL THEN 'answered' ELSE 'error' END, COUNT(*) FROM hard_cases GROUP BY 1", ReadKeyCount, ct);
        return new IngestCounts(streams, rejected, gaps[0].Item1, gaps[0].Item2,
            cases.FirstOrDefault(k => k.Key == "answered")?.Count ?? 0, cases.FirstOrDefault(k => k.Key == "error")?.Count ?? 0);
    }

    public async Task<IReadOnlyList<PredictionSample>> ListPredictionSamplesAsync(DateTimeOffset since, string? deviceId, int limit, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        // Two statements rather than "@d IS NULL": PostgreSQL cannot type an untyped null parameter.
        string device = deviceId is null ? "" : "AND device_id = @d";
        return await QueryAsync(c, $"""
            SELECT ts, device_id, model, decided_by, inference_us, latency_us, confidence FROM (
              SELECT ts, device_id, {JsonText("model")} AS model, {JsonText("decidedBy")} AS decided_by,
                     {JsonNumber("inferenceUs")} AS inference_us, {JsonNumber("latencyUs")} AS latency_us, {JsonNumber("confidence")} AS confidence
              FROM telemetry_events
              WHERE stream = 'telemetry' AND kind = 'data' AND data IS NOT NULL AND ts >= @since {device}) p
            WHERE decided_by IN ('local', 'cloud', 'fallback')
            ORDER BY ts DESC LIMIT @l
            """, r => new PredictionSample(Ms(r.GetInt64(0)), r.GetString(1), r.GetValue(2) as string, (string)r.GetValue(3), Num(r, 4), Num(r, 5), Num(r, 6)),
            ct, ("since", since.ToUnixTimeMilliseconds()), ("d", deviceId ?? ""), ("l", limit));
    }

    public async Task<IReadOnlyList<DeviceActivity>> ListDeviceActivityAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT device_id, COUNT(*), MAX(ts), MAX(received_at) FROM telemetry_events GROUP BY device_id ORDER BY device_id",
            r => new DeviceActivity(r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? null : Ms(Convert.ToInt64(r.GetValue(2), CultureInfo.InvariantCulture)),
                r.IsDBNull(3) ? null : Ms(Convert.ToInt64(r.GetValue(3), CultureInfo.InvariantCulture))), ct);
    }

    public async Task<IReadOnlyList<DriftSeriesInfo>> ListDriftSeriesAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, """
            SELECT model, model_version, MAX(day), COUNT(DISTINCT day), COUNT(*) FROM drift_windows
            GROUP BY model, model_version ORDER BY model, model_version
            """, r => new DriftSeriesInfo(r.GetString(0), r.GetString(1), ParseDay(r.GetString(2)), (int)r.GetInt64(3), r.GetInt64(4)), ct);
    }

    public async Task<IReadOnlyList<DateOnly>> ListDriftDaysAsync(string model, string modelVersion, int limit, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT DISTINCT day FROM drift_windows WHERE model = @m AND model_version = @v ORDER BY day DESC LIMIT @l",
            r => ParseDay(r.GetString(0)), ct, ("m", model), ("v", modelVersion), ("l", limit));
    }

    private static KeyCount ReadKeyCount(DbDataReader r) => new(r.IsDBNull(0) ? null : Convert.ToString(r.GetValue(0), CultureInfo.InvariantCulture), r.GetInt64(1));

    /// <summary>A number, or null for NULL and for values of another type (SQLite hands JSON values back as they are).</summary>
    private static double? Num(DbDataReader r, int i) => r.GetValue(i) switch
    {
        long l => l,
        double d => d,
        decimal m => (double)m,
        _ => null,
    };

    private static DateOnly ParseDay(string day) => DateOnly.ParseExact(day, "yyyy-MM-dd", CultureInfo.InvariantCulture);

    // SQLite: one json_extract per field and the type checked on the value it returns (typeof), rather than
    // json_type + json_extract, which parses the document twice per field (2x slower on 200k events).

    /// <summary>A string field of the JSON object in <c>data</c> (NULL when absent or not a string; SQLite returns other JSON values as they are).</summary>
    private string JsonText(string field) => Kind == "postgres"
        ? $"(CASE WHEN jsonb_typeof(data::jsonb -> '{field}') = 'string' THEN data::jsonb ->> '{field}' END)"
        : $"json_extract(data, '$.{field}')";

    /// <summary>A numeric field of the JSON object in <c>data</c> (NULL when absent or not a number; SQLite: filtered when read, <see cref="Num"/>).</summary>
    private string JsonNumber(string field) => Kind == "postgres"
        ? $"(CASE WHEN jsonb_typeof(data::jsonb -> '{field}') = 'number' THEN (data::jsonb ->> '{field}')::double precision END)"
        : $"json_extract(data, '$.{field}')";
}
