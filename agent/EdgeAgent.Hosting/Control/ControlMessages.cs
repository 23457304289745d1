using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Hosting.Control;

/// <summary>One request on the control socket: a command name and optional JSON arguments.</summary>
/// <param name="Command">Registered command name, e.g. <c>status</c>, <c>models.rollback</c>.</param>
/// <param name="Args">Command-specific arguments; null when none.</param>
/// <param name="Id">Echoed in the response so a client can match them.</param>
public sealed record ControlRequest(string Command, JsonElement? Args = null, string? Id = null);

/// <summary>The reply: either <see cref="Result"/> (when <see cref="Ok"/>) or <see cref="Error"/>.</summary>
public sealed record ControlResponse(bool Ok, JsonElement? Result = null, ControlError? Error = null, string? Id = null);

/// <summary>
/// A structured error: a stable machine code (<see cref="ControlErrorCodes"/>), a message for the operator
/// and, where there is one, what to do about it.
/// </summary>
public sealed record ControlError(string Code, string Message, string? Hint = null);

/// <summary>Stable error codes of the control protocol.</summary>
public static class ControlErrorCodes
{
    public const string UnknownCommand = "unknown_command";
    public const string BadRequest = "bad_request";
    public const string TooLarge = "too_large";
    public const string Timeout = "timeout";
    public const string Busy = "busy";
    public const string Failed = "failed";
    public const string ShuttingDown = "shutting_down";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlRequest))]
[JsonSerializable(typeof(ControlResponse))]
[JsonSerializable(typeof(ControlError))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;

/// <summary>Thrown by a command handler to return a structured error instead of a generic failure.</summary>
public sealed class ControlCommandException(string code, string message, string? hint = null) : Exception(message)
{
    public ControlError Error { get; } = new(code, message, hint);
}
