namespace EdgeAgent.Outbox.Queue;

/// <summary>Base type of outbox errors. Messages are written for the device operator.</summary>
public class OutboxException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>An event was refused on append (bad payload, too large, ...). Nothing was stored; nothing else is affected.</summary>
public sealed class OutboxEventRejectedException(string message, Exception? inner = null) : OutboxException(message, inner);

/// <summary>
/// The disk budget is exhausted by events that are never dropped (drift/update), so a new such event
/// could not be stored. The outbox keeps running; space comes back as the drainer delivers events.
/// </summary>
public sealed class OutboxFullException(string message, Exception? inner = null) : OutboxException(message, inner);

/// <summary>The database could not be opened or written for a reason that is not corruption (permissions, I/O error, ...).</summary>
public sealed class OutboxStorageException(string message, Exception? inner = null) : OutboxException(message, inner);

/// <summary>Invalid <see cref="OutboxOptions"/>; the message names the setting.</summary>
public sealed class OutboxConfigurationException(string message) : OutboxException(message);
