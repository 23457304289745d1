using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace EdgeAgent.Hosting.Control;

/// <summary>Handles one named control command. Returns the JSON result; throws <see cref="ControlCommandException"/> for a structured error.</summary>
public delegate ValueTask<JsonElement> ControlCommandHandler(JsonElement? args, CancellationToken cancellationToken);

/// <summary>
/// The commands the control socket answers (<c>status</c>, <c>models.list</c>, <c>doctor</c>, …). The agent
/// registers a handler per command at start; the typed overloads take source-generated
/// <see cref="JsonTypeInfo{T}"/> so no reflection is involved (Native AOT).
/// </summary>
/// <remarks>Thread-safe. Handlers may run concurrently (one per client connection).</remarks>
public sealed class ControlCommandRegistry
{
    private readonly ConcurrentDictionary<string, ControlCommandHandler> _handlers = new(StringComparer.Ordinal);

    /// <summary>Registers <paramref name="handler"/>; a name can be registered once.</summary>
    /// <exception cref="InvalidOperationException">The name is already registered.</exception>
    public void Register(string command, ControlCommandHandler handler)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        if (!_handlers.TryAdd(command, handler))
            throw new InvalidOperationException($"control command '{command}' is registered twice");
    }

    /// <summary>Registers a command without arguments returning <typeparamref name="TResult"/>.</summary>
    public void Register<TResult>(string command, JsonTypeInfo<TResult> resultType, Func<CancellationToken, ValueTask<TResult>> handler) =>
        Register(command, async (_, ct) => JsonSerializer.SerializeToElement(await handler(ct).ConfigureAwait(false), resultType));

    /// <summary>Registers a command with arguments of type <typeparamref name="TArgs"/> (null when the request has none).</summary>
    public void Register<TArgs, TResult>(string command, JsonTypeInfo<TArgs> argsType, JsonTypeInfo<TResult> resultType,
        Func<TArgs?, CancellationToken, ValueTask<TResult>> handler) =>
        Register(command, async (args, ct) =>
        {
            TArgs? parsed;
            try { parsed = args is { ValueKind: not JsonValueKind.Null } a ? a.Deserialize(argsType) : default; }
            catch (JsonException e)
            {
                throw new ControlCommandException(ControlErrorCodes.BadRequest, $"arguments of '{command}' are invalid: {e.Message}");
            }
            return JsonSerializer.SerializeToElement(await handler(parsed, ct).ConfigureAwait(false), resultType);
        });

    public bool TryGet(string command, out ControlCommandHandler handler) => _handlers.TryGetValue(command, out handler!);

    /// <summary>Registered command names, sorted.</summary>
    public IReadOnlyList<string> Commands => [.. _handlers.Keys.Order(StringComparer.Ordinal)];
}
