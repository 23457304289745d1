using System.Text.Json;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// The last few problems the agent hit (MQTT unreachable, outbox quarantined, pipeline failed), kept in
/// memory for <c>edgeagent status</c> so an operator sees why without reading the journal. A repeat of an
/// entry (a reconnect loop failing the same way) bumps its count and time and makes it the newest, instead of
/// pushing the others out.
/// </summary>
/// <remarks>Thread-safe: written from the service loop and MQTT callbacks, read by control handlers.</remarks>
internal sealed class RecentErrors(int capacity = 10, TimeProvider? time = null)
{
    private sealed record Entry(DateTimeOffset First, DateTimeOffset Last, string Source, string Message, int Count);

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly LinkedList<Entry> _entries = new();
    private readonly Lock _lock = new();

    public void Add(string source, string message)
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            // Any earlier identical entry (not only the newest): a reconnect loop may alternate between two
            // messages, and must not push every other problem out of the ring.
            for (var node = _entries.Last; node is not null; node = node.Previous)
            {
                if (node.Value.Source != source || node.Value.Message != message) continue;
                var repeated = node.Value with { Last = now, Count = node.Value.Count + 1 };
                _entries.Remove(node);
                _entries.AddLast(repeated);
                return;
            }
            _entries.AddLast(new Entry(now, now, source, message, 1));
            while (_entries.Count > capacity) _entries.RemoveFirst();
        }
    }

    public int Count { get { lock (_lock) return _entries.Count; } }

    /// <summary>Writes the entries, oldest first, as a JSON array property <paramref name="name"/>.</summary>
    public void WriteTo(Utf8JsonWriter w, string name)
    {
        Entry[] entries;
        lock (_lock) entries = [.. _entries];
        w.WriteStartArray(name);
        foreach (var e in entries)
        {
            w.WriteStartObject();
            w.WriteString("source", e.Source);
            w.WriteString("message", e.Message);
            w.WriteString("first", e.First);
            w.WriteString("last", e.Last);
            w.WriteNumber("count", e.Count);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }
}
